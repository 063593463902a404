// Parses swarmd's --engine-addr (Docker's host syntax) into dockerode options.
import { SwarmError } from "../../../shared/errors.js";

/** SwarmKit's default --engine-addr. */
export const DEFAULT_ENGINE_ADDR = "unix:///var/run/docker.sock";

export type EngineEndpoint =
  | { kind: "unix"; socketPath: string }
  | { kind: "tcp"; host: string; port: number; protocol: "http" | "https" };

/**
 * Accepts unix:///path, a bare absolute path, tcp://host:port, http://host:port
 * and https://host:port. TCP without a port uses Docker's 2375 (2376 for https).
 */
export function parseEngineAddr(addr: string): EngineEndpoint {
  const a = addr.trim();
  if (a.startsWith("/")) return { kind: "unix", socketPath: a };
  const m = /^([a-z]+):\/\/(.*)$/.exec(a);
  if (!m) throw new SwarmError("INVALID_ARGUMENT", `invalid engine address ${JSON.stringify(addr)}: expected unix:///path or tcp://host:port`);
  const scheme = m[1]!;
  const rest = m[2]!;
  if (scheme === "unix") {
    if (!rest.startsWith("/")) throw new SwarmError("INVALID_ARGUMENT", `invalid engine address ${JSON.stringify(addr)}: unix socket path must be absolute`);
    return { kind: "unix", socketPath: rest };
  }
  if (scheme === "tcp" || scheme === "http" || scheme === "https") {
    const hm = /^(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(rest);
    if (!hm) throw new SwarmError("INVALID_ARGUMENT", `invalid engine address ${JSON.stringify(addr)}: expected ${scheme}://host:port`);
    const protocol = scheme === "https" ? "https" : "http";
    const port = hm[2] !== undefined ? Number(hm[2]) : protocol === "https" ? 2376 : 2375;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new SwarmError("INVALID_ARGUMENT", `invalid engine address ${JSON.stringify(addr)}: bad port`);
    }
    return { kind: "tcp", host: hm[1]!.replace(/^\[|\]$/g, ""), port, protocol };
  }
  throw new SwarmError("INVALID_ARGUMENT", `invalid engine address ${JSON.stringify(addr)}: unsupported scheme ${scheme}`);
}
