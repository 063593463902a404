// Parsers for flag values with Go-compatible syntax and error texts:
// time.ParseDuration, go-units RAMInBytes and ParseUlimit, CPU decimals,
// and pflag's StringSlice (CSV) splitting.

/** A flag value that cannot be used; the CLI prints it as a usage error. */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlagError";
  }
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  "µs": 1e3,
  "μs": 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** time.ParseDuration → nanoseconds. */
export function parseGoDuration(s: string): number {
  const orig = s;
  let neg = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    neg = s[0] === "-";
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") throw new FlagError(`time: invalid duration "${orig}"`);
  let total = 0;
  while (s !== "") {
    const num = /^(\d*)(\.\d*)?/.exec(s)!;
    if (num[0] === "" || num[0] === ".") throw new FlagError(`time: invalid duration "${orig}"`);
    s = s.slice(num[0].length);
    const unitMatch = /^[^\d.]+/.exec(s);
    if (!unitMatch) throw new FlagError(`time: missing unit in duration "${orig}"`);
    const unit = unitMatch[0];
    const scale = DURATION_UNITS[unit];
    if (scale === undefined) throw new FlagError(`time: unknown unit "${unit}" in duration "${orig}"`);
    s = s.slice(unit.length);
    total += Number(num[0]) * scale;
  }
  return Math.round(neg ? -total : total);
}

const RAM_UNITS: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** go-units RAMInBytes: "512m", "1g", "4MiB", "1024" → bytes (binary multiples). */
export function parseRamBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(s);
  if (!m) throw new FlagError(`invalid size: '${s}'`);
  const value = Number(m[1]);
  if (!Number.isFinite(value)) throw new FlagError(`invalid size: '${s}'`);
  const mult = m[2] ? RAM_UNITS[m[2].toLowerCase()]! : 1;
  return Math.trunc(value * mult);
}

/** A CPU count with at most 9 decimals ("0.5", "2") → nano CPUs, exactly. */
export function parseNanoCpus(s: string): number {
  const m = /^(\d*)(?:\.(\d*))?$/.exec(s.trim());
  if (!m || (m[1] === "" && (m[2] ?? "") === "")) throw new FlagError(`invalid cpu: ${s}`);
  const frac = (m[2] ?? "").replace(/0+$/, "");
  if (frac.length > 9) throw new FlagError(`CPU value cannot have more than 9 decimal places: ${s}`);
  const nanos = Number(m[1] || "0") * 1e9 + Number(frac.padEnd(9, "0") || "0");
  if (!Number.isSafeInteger(nanos)) throw new FlagError(`invalid cpu: ${s}`);
  return nanos;
}

const ULIMIT_NAMES = new Set([
  "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
  "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
]);

/** go-units ParseUlimit: "nofile=1024[:2048]". */
export function parseUlimit(s: string): { name: string; soft: number; hard: number } {
  const parts = s.split("=");
  if (parts.length !== 2) throw new FlagError(`invalid ulimit argument: ${s}`);
  const name = parts[0]!;
  if (!ULIMIT_NAMES.has(name)) throw new FlagError(`invalid ulimit type: ${name}`);
  const limits = parts[1]!.split(":");
  if (limits.length > 2) throw new FlagError(`too many limit value arguments - ${parts[1]}, can only have up to two, \`soft[:hard]\``);
  const toInt = (v: string): number => {
    if (!/^-?\d+$/.test(v)) throw new FlagError(`invalid ulimit argument: ${s}`);
    return Number(v);
  };
  const soft = toInt(limits[0]!);
  const hard = limits.length === 2 ? toInt(limits[1]!) : soft;
  if (soft > hard) throw new FlagError(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { name, soft, hard };
}

/** A non-negative integer flag (Go's Uint64 flags). */
export function parseUint(flag: string, s: string): number {
  if (!/^\d+$/.test(s.trim())) throw new FlagError(`invalid argument "${s}" for "--${flag}" flag: must be a non-negative integer`);
  const n = Number(s.trim());
  if (!Number.isSafeInteger(n)) throw new FlagError(`invalid argument "${s}" for "--${flag}" flag: value out of range`);
  return n;
}

/** A signed integer flag (Go's Int64 flags). */
export function parseInt64(flag: string, s: string): number {
  if (!/^[-+]?\d+$/.test(s.trim())) throw new FlagError(`invalid argument "${s}" for "--${flag}" flag: must be an integer`);
  const n = Number(s.trim());
  if (!Number.isSafeInteger(n)) throw new FlagError(`invalid argument "${s}" for "--${flag}" flag: value out of range`);
  return n;
}

/** pflag StringSlice: every occurrence is a CSV record; values accumulate. */
export function splitSlice(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    if (v === "") continue;
    out.push(...splitCsv(v));
  }
  return out;
}

function splitCsv(s: string): string[] {
  const fields: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quoted) {
      if (ch === '"' && s[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"' && cur === "") quoted = true;
    else if (ch === ",") {
      fields.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (quoted) throw new FlagError(`invalid list value ${JSON.stringify(s)}: unterminated quote`);
  fields.push(cur);
  return fields;
}

/** key=value pairs (labels): whitespace-trimmed, "=" required. */
export function parseKeyValues(values: readonly string[], what: (raw: string) => string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of values) {
    const i = l.indexOf("=");
    if (i < 0) throw new FlagError(what(l));
    out[l.slice(0, i).trim()] = l.slice(i + 1).trim();
  }
  return out;
}
