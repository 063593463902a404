// The managers this node knows of, from <state-dir>/state.json (SwarmKit's
// [{"node_id","addr"}], kept up to date by the agent). A promoted worker
// joins raft through one of them.
import { readFile } from "node:fs/promises";
import { join } from "node:path";

/** Remote API addresses in file order, without this node's own entry. */
export async function knownManagerAddrs(stateDir: string, ownNodeId: string): Promise<string[]> {
  let peers: unknown;
  try {
    peers = JSON.parse(await readFile(join(stateDir, "state.json"), "utf8"));
  } catch {
    return [];
  }
  if (!Array.isArray(peers)) return [];
  const addrs: string[] = [];
  for (const p of peers) {
    if (!p || typeof p !== "object") continue;
    const { addr, node_id: nodeId } = p as { addr?: unknown; node_id?: unknown };
    if (typeof addr !== "string" || addr === "" || nodeId === ownNodeId) continue;
    if (!addrs.includes(addr)) addrs.push(addr);
  }
  return addrs;
}
