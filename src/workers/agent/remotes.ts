// The managers this agent knows, kept current from the dispatcher's session
// messages and persisted to <state-dir>/state.json in SwarmKit's format
// ([{"node_id","addr"}], sorted by node ID, mode 0600), so a restarted node
// finds its cluster again. Selection walks the list in order and moves on
// after a failure, so a dead manager is skipped on the next attempt.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { WeightedPeer } from "../../shared/api/index.js";
import { errorMessage } from "../../shared/errors.js";
import { getLogger } from "../../shared/logging.js";
import { writeFileAtomic } from "../../shared/atomic-file.js";

const log = getLogger("agent/remotes");

export interface KnownManager {
  node_id: string;
  addr: string;
}

export const STATE_FILE = "state.json";

export async function readStateFile(stateDir: string): Promise<KnownManager[]> {
  const path = join(stateDir, STATE_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) throw new Error(`${path}: not a JSON array`);
  return parsed.filter(
    (e): e is KnownManager => typeof e === "object" && e !== null && typeof (e as KnownManager).addr === "string" && (e as KnownManager).addr !== "",
  ).map((e) => ({ node_id: typeof e.node_id === "string" ? e.node_id : "", addr: e.addr }));
}

function sorted(list: readonly KnownManager[]): KnownManager[] {
  return [...list].sort((a, b) => (a.node_id < b.node_id ? -1 : a.node_id > b.node_id ? 1 : a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
}

export class Remotes {
  private list: KnownManager[];
  private next = 0;
  private readonly stateDir: string | undefined;
  private writing: Promise<void> = Promise.resolve();

  /** `stateDir` undefined: keep the list in memory only. */
  constructor(initial: readonly KnownManager[], stateDir?: string) {
    this.list = dedupe(initial);
    this.stateDir = stateDir;
  }

  all(): KnownManager[] {
    return this.list.map((m) => ({ ...m }));
  }

  get size(): number {
    return this.list.length;
  }

  /** The next manager to try (round robin from the last one that worked). */
  select(): KnownManager | undefined {
    if (this.list.length === 0) return undefined;
    const m = this.list[this.next % this.list.length]!;
    return { ...m };
  }

  /** The selected manager failed: try the following one next time. */
  failed(addr: string): void {
    const i = this.list.findIndex((m) => m.addr === addr);
    if (i >= 0 && this.list.length > 0) this.next = (i + 1) % this.list.length;
  }

  /** A session delivered the current managers: adopt the list and persist it if it changed. */
  observe(peers: readonly WeightedPeer[], current?: string): void {
    const seen = dedupe(peers.flatMap((p) => (p.peer && p.peer.addr ? [{ node_id: p.peer.nodeId, addr: p.peer.addr }] : [])));
    if (seen.length === 0) return;
    if (JSON.stringify(sorted(seen)) === JSON.stringify(sorted(this.list))) return;
    this.list = seen;
    // Keep talking to the manager we are on, if it is still listed.
    const i = current === undefined ? -1 : this.list.findIndex((m) => m.addr === current);
    this.next = i >= 0 ? i : 0;
    log.info({ managers: this.list }, "manager list changed");
    this.persist();
  }

  /** Resolves once pending state.json writes are done. */
  flush(): Promise<void> {
    return this.writing;
  }

  private persist(): void {
    if (!this.stateDir) return;
    const path = join(this.stateDir, STATE_FILE);
    const data = JSON.stringify(sorted(this.list));
    this.writing = this.writing
      .then(() => writeFileAtomic(path, data, 0o600))
      .catch((err: unknown) => log.error({ path, err: errorMessage(err) }, "could not write the manager list"));
  }
}

function dedupe(list: readonly KnownManager[]): KnownManager[] {
  const byAddr = new Map<string, KnownManager>();
  for (const m of list) if (m.addr) byAddr.set(m.addr, { node_id: m.node_id, addr: m.addr });
  return [...byAddr.values()];
}
