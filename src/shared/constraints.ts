// Placement constraints as SwarmKit's manager/constraint evaluates them:
// "key==value" / "key!=value" over node attributes; keys are
// case-insensitive (label names are not), values compare case-insensitively,
// a missing label reads as "".
import { NodeRole, type Node } from "./api/index.js";

export interface Constraint {
  key: string;
  /** For node.labels.* / engine.labels.*: the label name (case kept). */
  label: string;
  equal: boolean;
  value: string;
}

/** Parse constraint expressions; throws on one that is not `key==value` or `key!=value`. */
export function parseConstraints(exprs: readonly string[]): Constraint[] {
  return exprs.map((e) => {
    const neq = e.indexOf("!=");
    const eq = e.indexOf("==");
    const at = neq >= 0 && (eq < 0 || neq < eq) ? neq : eq;
    if (at < 0) throw new Error(`invalid constraint "${e}": expected one operator from ==, !=`);
    const rawKey = e.slice(0, at).trim();
    const value = e.slice(at + 2).trim();
    const lower = rawKey.toLowerCase();
    let label = "";
    for (const prefix of ["node.labels.", "engine.labels."]) {
      if (lower.startsWith(prefix)) label = rawKey.slice(prefix.length);
    }
    const key = label !== "" ? lower.slice(0, lower.length - label.length) : lower;
    return { key, label, equal: at === eq, value };
  });
}

/** The node attribute a constraint key refers to; undefined for an unknown key. */
function attribute(c: Constraint, n: Node): string[] | undefined {
  switch (c.key) {
    case "node.id":
      return [n.id];
    case "node.hostname":
      return [n.description?.hostname ?? ""];
    case "node.ip":
      return [n.status?.addr ?? ""];
    case "node.role":
      return [n.role === NodeRole.MANAGER ? "manager" : "worker"];
    case "node.platform.os":
      return [n.description?.platform?.os ?? ""];
    case "node.platform.arch":
      return [n.description?.platform?.architecture ?? ""];
    case "node.labels.":
      return [n.spec?.annotations?.labels?.[c.label] ?? ""];
    case "engine.labels.":
      return [n.description?.engine?.labels?.[c.label] ?? ""];
    default:
      return undefined;
  }
}

function sameValue(c: Constraint, actual: string): boolean {
  if (c.key === "node.ip") return ipMatches(c.value, actual);
  return actual.toLowerCase() === c.value.toLowerCase();
}

/** Whether a node satisfies every constraint. */
export function nodeMatches(constraints: readonly Constraint[], n: Node): boolean {
  for (const c of constraints) {
    const values = attribute(c, n);
    if (values === undefined) return false;
    const hit = values.some((v) => sameValue(c, v));
    if (hit !== c.equal) return false;
  }
  return true;
}

/** node.ip: an address or a CIDR (IPv4); the node's address may carry a port. */
function ipMatches(want: string, addr: string): boolean {
  const host = addr.replace(/^\[?([^\]]*?)\]?(:\d+)?$/, "$1");
  if (!want.includes("/")) return host === want;
  const [net, bitsText] = want.split("/") as [string, string];
  const a = ipv4(host);
  const b = ipv4(net);
  const bits = Number(bitsText);
  if (a === undefined || b === undefined || !(bits >= 0 && bits <= 32)) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

function ipv4(s: string): number | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let v = 0;
  for (const p of parts) {
    const n = Number(p);
    if (!/^\d+$/.test(p) || n > 255) return undefined;
    v = v * 256 + n;
  }
  return v >>> 0;
}
