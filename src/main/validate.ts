// Parsers for flag values. Each returns the typed value or throws a
// FlagError naming the flag and the bad value, so the message can be printed
// as is with the usage text.
import { isIP } from "node:net";
import { resolve } from "node:path";
import type { ExternalCa, GenericResource, HostPort } from "../shared/config.js";

export class FlagError extends Error {
  constructor(
    readonly flag: string,
    readonly value: string,
    reason: string,
  ) {
    super(`invalid value ${JSON.stringify(value)} for --${flag}: ${reason}`);
    this.name = "FlagError";
  }
}

const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/**
 * `host:port`, `[v6]:port` or `:port` (all interfaces, as Go's net.Listen
 * accepts). `allowZeroPort` lets a listener ask for an ephemeral port.
 */
export function parseHostPort(flag: string, value: string, opts: { allowZeroPort: boolean }): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  if (!m) throw new FlagError(flag, value, "expected host:port");
  const bracketed = m[1];
  const host = bracketed ?? m[2] ?? "";
  if (bracketed !== undefined && isIP(bracketed) !== 6) throw new FlagError(flag, value, `"${bracketed}" is not an IPv6 address`);
  if (bracketed === undefined && host !== "" && isIP(host) === 0 && !HOSTNAME_RE.test(host)) {
    throw new FlagError(flag, value, `"${host}" is not a valid host name or IP address`);
  }
  const port = Number(m[3]);
  if (port > 65535) throw new FlagError(flag, value, `port ${port} is out of range (0-65535)`);
  if (port === 0 && !opts.allowZeroPort) throw new FlagError(flag, value, "port 0 is not allowed here");
  return { host: host === "" ? "0.0.0.0" : host, port };
}

/** A positive integer that fits SwarmKit's uint32 ticks. */
export function parseTicks(flag: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new FlagError(flag, value, "expected a positive whole number of ticks");
  const n = Number(value);
  if (n < 1) throw new FlagError(flag, value, "must be at least 1");
  if (n > 0xffff_ffff) throw new FlagError(flag, value, "must fit in 32 bits");
  return n;
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go-style duration (`100ms`, `1s`, `1.5s`, `1m30s`) in whole milliseconds, ≥ 1 ms. */
export function parseDurationMs(flag: string, value: string): number {
  if (!/^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/.test(value)) {
    throw new FlagError(flag, value, "expected a duration such as 100ms, 1s or 1m30s");
  }
  let total = 0;
  for (const part of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(part[1]) * DURATION_UNITS_MS[part[2]!]!;
  if (total < 1) throw new FlagError(flag, value, "must be at least 1ms");
  if (!Number.isInteger(total)) throw new FlagError(flag, value, "must be a whole number of milliseconds");
  if (total > 0x7fff_ffff) throw new FlagError(flag, value, "too long");
  return total;
}

/** Join tokens: `SWMTKN-1-<digest:50 base36>-<secret:25 base36>` or the FIPS `SWMTKN-2-<0|1>-…` form. */
export function parseJoinToken(flag: string, value: string): string {
  if (!/^SWMTKN-(?:1|2-[01])-[0-9a-z]{50}-[0-9a-z]{25}$/.test(value)) {
    throw new FlagError(flag, value, "not a join token (expected SWMTKN-1-<50 base36 digits>-<25 base36 digits>)");
  }
  return value;
}

/** Unlock keys: `SWMKEY-1-<base64 of the key>`. */
export function parseUnlockKey(flag: string, value: string): string {
  const m = /^SWMKEY-1-([A-Za-z0-9+/]+={0,2})$/.exec(value);
  if (!m || Buffer.from(m[1]!, "base64").length === 0) {
    throw new FlagError(flag, value, "not an unlock key (expected SWMKEY-1-<base64>)");
  }
  return value;
}

/** Docker Engine endpoint: unix://<absolute path>, tcp://host:port, http(s)://host:port. */
export function parseEngineAddr(flag: string, value: string): string {
  const unix = /^unix:\/\/(\/.*)$/.exec(value);
  if (unix) {
    if (unix[1]!.length > 1) return value;
    throw new FlagError(flag, value, "unix:// needs an absolute socket path");
  }
  const tcp = /^(tcp|http|https):\/\/(.+)$/.exec(value);
  if (!tcp) throw new FlagError(flag, value, "expected unix:///path/to/docker.sock or tcp://host:port");
  try {
    parseHostPort(flag, tcp[2]!.replace(/\/$/, ""), { allowZeroPort: false });
  } catch (err) {
    if (err instanceof FlagError) throw new FlagError(flag, value, err.message.replace(/^.*?: /, ""));
    throw err;
  }
  return value;
}

/** Longest unix socket path Linux accepts (sun_path is 108 bytes incl. NUL). */
export const MAX_UNIX_SOCKET_PATH = 107;

/** A unix socket path, made absolute against the working directory. */
export function parseSocketPath(flag: string, value: string): string {
  if (value === "") throw new FlagError(flag, value, "must not be empty");
  const path = resolve(value.replace(/^unix:\/\//, ""));
  if (Buffer.byteLength(path) > MAX_UNIX_SOCKET_PATH) {
    throw new FlagError(flag, value, `socket path ${path} is longer than ${MAX_UNIX_SOCKET_PATH} bytes`);
  }
  return path;
}

/** `--hostname`: a DNS-style name. */
export function parseHostname(flag: string, value: string): string {
  if (!HOSTNAME_RE.test(value)) throw new FlagError(flag, value, "not a valid host name");
  return value;
}

/** `protocol=cfssl,url=https://ca.example:8888[,key=value...]` (CSV as SwarmKit's cli/external_ca.go). */
export function parseExternalCa(flag: string, value: string): ExternalCa {
  let protocol: string | undefined;
  let url: string | undefined;
  const options: Record<string, string> = {};
  for (const field of value.split(",")) {
    const eq = field.indexOf("=");
    if (eq <= 0) throw new FlagError(flag, value, `field "${field}" is not key=value`);
    const key = field.slice(0, eq).toLowerCase();
    const v = field.slice(eq + 1);
    if (key === "protocol") protocol = v.toLowerCase();
    else if (key === "url") url = v;
    else options[key] = v;
  }
  if (protocol === undefined) throw new FlagError(flag, value, "missing protocol=");
  if (protocol !== "cfssl") throw new FlagError(flag, value, `unsupported protocol "${protocol}" (only cfssl)`);
  if (url === undefined) throw new FlagError(flag, value, "missing url=");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FlagError(flag, value, `"${url}" is not a URL`);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw new FlagError(flag, value, `url must be http(s), got "${url}"`);
  return { protocol: "cfssl", url, options };
}

/** `kind=count` or `kind=named-id` pairs, comma-separated: `fpga=2,gpu=UUID1,gpu=UUID2`. */
export function parseGenericResources(flag: string, value: string): GenericResource[] {
  const out: GenericResource[] = [];
  for (const field of value.split(",")) {
    const m = /^([A-Za-z0-9_.-]+)=([^=\s]+)$/.exec(field.trim());
    if (!m) throw new FlagError(flag, value, `"${field}" is not kind=value`);
    const kind = m[1]!;
    const v = m[2]!;
    if (/^\d+$/.test(v)) out.push({ kind, type: "discrete", value: Number(v) });
    else out.push({ kind, type: "named", value: v });
  }
  return out;
}
