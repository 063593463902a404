// A synchronous in-memory network for focused raft tests (etcd's "network"
// harness): nodes with a disk, message filters, and a stabilize() loop.
import {
  NONE,
  RaftCore,
  SeededRandom,
  type Entry,
  type HardState,
  type MemberId,
  type Message,
  type RaftConfig,
  type ReadState,
  type Snapshot,
} from "../../src/workers/manager/raft/core/index.js";

export interface TestNode {
  core: RaftCore;
  disk: { hardState: HardState; snapshot: Snapshot | null; entries: Entry[] };
  applied: Entry[];
  readStates: ReadState[];
}

export type Filter = (m: Message) => boolean;

export class TestNet {
  readonly nodes = new Map<MemberId, TestNode>();
  /** Every message sent, in order (for assertions). */
  readonly sent: Message[] = [];
  private queue: Message[] = [];
  /** Returns true to drop a message. */
  filters: Filter[] = [];

  constructor(
    ids: MemberId[],
    readonly cfg: Partial<RaftConfig> = {},
  ) {
    const peers = ids.map((id) => ({ id }));
    for (const id of ids) {
      const core = new RaftCore({ id, random: new SeededRandom(id * 7919), ...cfg }, { peers });
      this.nodes.set(id, { core, disk: { hardState: { term: 0, vote: NONE, commit: 0 }, snapshot: null, entries: [] }, applied: [], readStates: [] });
    }
    this.flush();
  }

  node(id: MemberId): RaftCore {
    return this.nodes.get(id)!.core;
  }

  /** Runs Ready/advance on every node, queuing their messages. */
  flush(): void {
    let again = true;
    while (again) {
      again = false;
      for (const n of this.nodes.values()) {
        while (n.core.hasReady()) {
          again = true;
          const rd = n.core.ready();
          const d = n.disk;
          if (rd.snapshot) {
            d.snapshot = rd.snapshot;
            d.entries = [];
          }
          if (rd.entries.length > 0) {
            const first = rd.entries[0]!.index;
            d.entries = d.entries.filter((e) => e.index < first).concat(rd.entries);
          }
          if (rd.hardState) d.hardState = rd.hardState;
          for (const m of rd.messages) {
            this.sent.push(m);
            this.queue.push(m);
          }
          n.applied.push(...rd.committedEntries);
          n.readStates.push(...rd.readStates);
          n.core.advance();
        }
      }
    }
  }

  /** Delivers queued messages (and those they cause) until the network is quiet. */
  stabilize(limit = 100000): void {
    this.flush();
    let n = 0;
    while (this.queue.length > 0) {
      const m = this.queue.shift()!;
      if (++n > limit) throw new Error("network did not stabilize");
      if (this.filters.some((f) => f(m))) continue;
      const to = this.nodes.get(m.to);
      if (!to) continue;
      to.core.step(m);
      this.flush();
    }
  }

  /** Drops every message between a and b. */
  cut(a: MemberId, b: MemberId): void {
    this.filters.push((m) => (m.from === a && m.to === b) || (m.from === b && m.to === a));
  }

  isolate(id: MemberId): void {
    this.filters.push((m) => m.from === id || m.to === id);
  }

  heal(): void {
    this.filters = [];
  }

  tick(id: MemberId, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.node(id).tick();
      this.stabilize();
    }
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const n of this.nodes.values()) n.core.tick();
      this.stabilize();
    }
  }

  /** Campaigns on id and delivers until quiet. */
  elect(id: MemberId): void {
    this.node(id).campaign();
    this.stabilize();
  }

  /** Restarts a node from its disk only. */
  restart(id: MemberId, extra: Partial<RaftConfig> = {}): RaftCore {
    const n = this.nodes.get(id)!;
    const d = n.disk;
    n.core = new RaftCore(
      { id, random: new SeededRandom(id * 104729), ...this.cfg, ...extra },
      { hardState: { ...d.hardState }, snapshot: d.snapshot, entries: d.entries.slice() },
    );
    n.applied = [];
    return n.core;
  }

  leader(): MemberId {
    for (const [id, n] of this.nodes) if (n.core.status().role === "leader") return id;
    return NONE;
  }

  add(id: MemberId, cfg: Partial<RaftConfig> = {}): RaftCore {
    const core = new RaftCore({ id, random: new SeededRandom(id * 31), ...this.cfg, ...cfg }, {});
    this.nodes.set(id, { core, disk: { hardState: { term: 0, vote: NONE, commit: 0 }, snapshot: null, entries: [] }, applied: [], readStates: [] });
    return core;
  }
}

export function bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

export function text(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}
