// Deterministic simulation of a raft cluster: N in-memory nodes over a seeded
// network that drops, delays, duplicates and reorders messages, partitions and
// heals, and crashes nodes (losing all that was not persisted) and restarts
// them from their "disk". Safety invariants are checked after every delivered
// message and every tick; liveness is checked after a final heal. A run is a
// pure function of its options, so a failing seed replays exactly.
import {
  ConfChangeType,
  EntryType,
  MessageType,
  NONE,
  RaftCore,
  SeededRandom,
  StateRole,
  decodeConfChange,
  type Entry,
  type HardState,
  type MemberId,
  type Message,
  type Ready,
  type Snapshot,
} from "../../../src/workers/manager/raft/core/index.js";

export interface SimOptions {
  seed: number;
  nodes: number;
  /** Ticks of chaos before the final heal. */
  ticks: number;
  /** Allow membership changes (removals and additions of fresh members). */
  membership?: boolean;
  /** Record a trace of events (for debugging a failing seed). */
  trace?: boolean;
}

export interface SimResult {
  seed: number;
  ok: boolean;
  error?: string;
  trace?: string[];
  stats: {
    steps: number;
    delivered: number;
    committed: number;
    leaders: number;
    reads: number;
    crashes: number;
    snapshots: number;
    confChanges: number;
    livenessTicks: number;
  };
}

class InvariantError extends Error {}

interface Disk {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

interface StateMachine {
  applied: number;
  hash: number;
  count: number;
}

interface SimNode {
  id: MemberId;
  core: RaftCore | null;
  disk: Disk;
  sm: StateMachine;
  /** Commit index seen from this process (reset on restart). */
  commitSeen: number;
  downUntil: number;
  removed: boolean;
}

interface InFlight {
  at: number;
  seq: number;
  m: Message;
}

interface PendingRead {
  node: MemberId;
  minIndex: number;
}

const SNAP_HEADER = 16;

function encodeSm(sm: StateMachine): Uint8Array {
  const b = new Uint8Array(SNAP_HEADER);
  const dv = new DataView(b.buffer);
  dv.setFloat64(0, sm.applied);
  dv.setUint32(8, sm.hash);
  dv.setUint32(12, sm.count);
  return b;
}

function decodeSm(b: Uint8Array): StateMachine {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { applied: dv.getFloat64(0), hash: dv.getUint32(8), count: dv.getUint32(12) };
}

function hashEntry(h: number, e: Entry): number {
  h = Math.imul(h ^ e.index, 0x01000193) >>> 0;
  h = Math.imul(h ^ e.type, 0x01000193) >>> 0;
  const d = e.data;
  for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i]!, 0x01000193) >>> 0;
  return h;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class Simulation {
  private readonly rng: SeededRandom;
  private readonly nodes = new Map<MemberId, SimNode>();
  private net: InFlight[] = [];
  private netSeq = 0;
  private now = 0;
  private group = new Map<MemberId, number>();
  private dropRate = 0;
  private dupRate = 0;
  private maxDelay = 1;
  private nextSpareId: number;
  private proposalSeq = 0;
  private readonly trace: string[] | null;

  // Global knowledge for the invariants.
  private readonly leaderOfTerm = new Map<number, MemberId>();
  private readonly entryAt = new Map<string, { data: Uint8Array; prevTerm: number }>();
  private readonly committedTerm: number[] = [0];
  private maxCommit = 0;
  private readonly hashAt = new Map<number, number>();
  /** Members whose removal some node has applied (so it is committed). */
  private readonly removedIds = new Set<MemberId>();
  private readonly reads = new Map<string, PendingRead>();
  private readSeq = 0;

  private readonly cfg: {
    preVote: boolean;
    checkQuorum: boolean;
    maxSizePerMsg: number;
    maxInflightMsgs: number;
    snapshotCatchUpEntries: number;
    maxCommittedSizePerReady: number;
    snapshotInterval: number;
  };

  readonly stats: SimResult["stats"] = {
    steps: 0,
    delivered: 0,
    committed: 0,
    leaders: 0,
    reads: 0,
    crashes: 0,
    snapshots: 0,
    confChanges: 0,
    livenessTicks: 0,
  };

  constructor(private readonly opts: SimOptions) {
    this.rng = new SeededRandom(opts.seed);
    this.trace = opts.trace ? [] : null;
    const r = this.rng;
    const both = r.chance(0.8);
    this.cfg = {
      preVote: both || r.chance(0.5),
      checkQuorum: both || r.chance(0.5),
      maxSizePerMsg: r.chance(0.5) ? 32 : 1 << 20,
      maxInflightMsgs: 1 + r.intn(8),
      snapshotCatchUpEntries: r.intn(10),
      maxCommittedSizePerReady: r.chance(0.3) ? 24 : 0,
      snapshotInterval: 10 + r.intn(40),
    };
    const peers = [];
    for (let id = 1; id <= opts.nodes; id++) peers.push({ id });
    for (let id = 1; id <= opts.nodes; id++) {
      const n: SimNode = {
        id,
        core: null,
        disk: { hardState: { term: 0, vote: NONE, commit: 0 }, snapshot: null, entries: [] },
        sm: { applied: 0, hash: 0, count: 0 },
        commitSeen: 0,
        downUntil: 0,
        removed: false,
      };
      this.nodes.set(id, n);
      n.core = this.newCore(id, { peers });
      this.group.set(id, 0);
    }
    this.nextSpareId = opts.nodes + 1;
  }

  private newCore(id: MemberId, init: ConstructorParameters<typeof RaftCore>[1]): RaftCore {
    return new RaftCore(
      {
        id,
        random: new SeededRandom(this.rng.intn(2 ** 31)),
        electionTick: 10,
        heartbeatTick: 1,
        preVote: this.cfg.preVote,
        checkQuorum: this.cfg.checkQuorum,
        maxSizePerMsg: this.cfg.maxSizePerMsg,
        maxInflightMsgs: this.cfg.maxInflightMsgs,
        snapshotCatchUpEntries: this.cfg.snapshotCatchUpEntries,
        maxCommittedSizePerReady: this.cfg.maxCommittedSizePerReady,
      },
      init,
    );
  }

  private log(s: string): void {
    if (this.trace) this.trace.push(`[t${this.now}] ${s}`);
  }

  private fail(msg: string): never {
    throw new InvariantError(msg);
  }

  run(): SimResult {
    try {
      for (let t = 0; t < this.opts.ticks; t++) {
        this.chaos();
        this.tickAll();
        this.deliverDue();
      }
      this.checkLiveness();
      return this.result(true);
    } catch (err) {
      const e = err as Error;
      const msg = err instanceof InvariantError ? e.message : `${e.message}\n${e.stack ?? ""}`;
      return this.result(false, msg);
    }
  }

  private result(ok: boolean, error?: string): SimResult {
    const r: SimResult = { seed: this.opts.seed, ok, stats: this.stats };
    if (error !== undefined) r.error = `${error} (at tick ${this.now})`;
    if (this.trace) r.trace = this.trace;
    return r;
  }

  // ---------------------------------------------------------------------------
  // Chaos

  private live(): SimNode[] {
    const out: SimNode[] = [];
    for (const n of this.nodes.values()) if (n.core) out.push(n);
    return out;
  }

  private pick<T>(xs: T[]): T | undefined {
    return xs.length === 0 ? undefined : xs[this.rng.intn(xs.length)];
  }

  private chaos(): void {
    const r = this.rng;
    // Proposals, mostly at the leader.
    const live = this.live();
    const nProps = r.chance(0.5) ? 1 + r.intn(3) : 0;
    for (let i = 0; i < nProps; i++) {
      const n = this.pick(live);
      if (!n || !n.core) continue;
      const data = new Uint8Array(8);
      new DataView(data.buffer).setFloat64(0, ++this.proposalSeq);
      n.core.propose(data);
      this.processReady(n);
    }
    if (r.chance(0.15)) {
      const n = this.pick(live);
      if (n && n.core) {
        const key = `r${++this.readSeq}`;
        this.reads.set(key, { node: n.id, minIndex: this.maxCommit });
        n.core.readIndex(new TextEncoder().encode(key));
        this.processReady(n);
      }
    }
    if (r.chance(0.02)) {
      // Partition: a random split, or heal.
      if (r.chance(0.4)) {
        for (const id of this.nodes.keys()) this.group.set(id, 0);
        this.log("heal");
      } else {
        for (const id of this.nodes.keys()) this.group.set(id, r.intn(2));
        this.log(`partition ${[...this.group].map(([k, v]) => `${k}:${v}`).join(",")}`);
      }
    }
    if (r.chance(0.03)) {
      this.dropRate = r.chance(0.5) ? 0 : r.next() * 0.3;
      this.dupRate = r.chance(0.5) ? 0 : r.next() * 0.2;
      this.maxDelay = r.intn(4);
    }
    if (r.chance(0.015)) {
      const n = this.pick(live);
      if (n && live.length > 1) this.crash(n, this.now + 1 + r.intn(40));
    }
    for (const n of this.nodes.values()) {
      if (!n.core && n.downUntil <= this.now && !n.removed) this.restart(n);
    }
    if (r.chance(0.01)) {
      const leader = live.find((n) => n.core && n.core.role === StateRole.Leader);
      const target = this.pick(live);
      if (leader && target) {
        this.log(`transfer ${leader.id} -> ${target.id}`);
        leader.core!.transferLeadership(target.id);
        this.processReady(leader);
      }
    }
    for (const n of live) {
      if (!n.core) continue;
      const snapIndex = n.core.snapshot()?.metadata.index ?? 0;
      if (n.sm.applied - snapIndex >= this.cfg.snapshotInterval && r.chance(0.3)) this.takeSnapshot(n);
    }
    if (this.opts.membership && r.chance(0.01)) this.changeMembership(live);
  }

  private changeMembership(live: SimNode[]): void {
    const leader = live.find((n) => n.core && n.core.role === StateRole.Leader);
    if (!leader) return;
    const voters = leader.core!.confState().voters;
    if (this.rng.chance(0.5) && voters.length > 3) {
      const victim = this.pick(voters)!;
      this.log(`propose remove ${victim}`);
      leader.core!.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: victim, context: new Uint8Array(0) });
    } else if (voters.length < this.opts.nodes + 2) {
      const id = this.nextSpareId++;
      const n: SimNode = {
        id,
        core: null,
        disk: { hardState: { term: 0, vote: NONE, commit: 0 }, snapshot: null, entries: [] },
        sm: { applied: 0, hash: 0, count: 0 },
        commitSeen: 0,
        downUntil: 0,
        removed: false,
      };
      n.core = this.newCore(id, {});
      this.nodes.set(id, n);
      this.group.set(id, 0);
      this.log(`propose add ${id}`);
      leader.core!.proposeConfChange({ type: ConfChangeType.AddNode, nodeId: id, context: new Uint8Array(0) });
    }
    this.stats.confChanges++;
    this.processReady(leader);
  }

  private crash(n: SimNode, until: number): void {
    this.log(`crash ${n.id} until t${until}`);
    n.core = null;
    n.downUntil = until;
    this.stats.crashes++;
    for (const [k, r] of this.reads) if (r.node === n.id) this.reads.delete(k);
  }

  private restart(n: SimNode): void {
    const d = n.disk;
    this.log(`restart ${n.id} hs=${JSON.stringify(d.hardState)} snap=${d.snapshot?.metadata.index ?? 0} ents=${d.entries.length}`);
    n.core = this.newCore(n.id, {
      hardState: { ...d.hardState },
      snapshot: d.snapshot,
      entries: d.entries.slice(),
    });
    n.sm = d.snapshot ? decodeSm(d.snapshot.data) : { applied: 0, hash: 0, count: 0 };
    n.commitSeen = d.hardState.commit;
    this.processReady(n);
  }

  private takeSnapshot(n: SimNode): void {
    const core = n.core!;
    const snap = core.snapshotTaken(n.sm.applied, encodeSm(n.sm));
    n.disk.snapshot = snap;
    const base = core.log.baseIndex;
    n.disk.entries = n.disk.entries.filter((e) => e.index > base);
    this.stats.snapshots++;
    this.log(`snapshot ${n.id} at ${snap.metadata.index} (log base ${base})`);
  }

  // ---------------------------------------------------------------------------
  // Clock and network

  private tickAll(): void {
    this.now++;
    for (const n of this.nodes.values()) {
      if (!n.core) continue;
      n.core.tick();
      this.processReady(n);
      this.checkGlobal();
    }
  }

  private enqueue(from: SimNode, m: Message): void {
    const r = this.rng;
    if (r.chance(this.dropRate)) {
      this.onDropped(from, m);
      return;
    }
    const copies = r.chance(this.dupRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.net.push({ at: this.now + (this.maxDelay > 0 ? r.intn(this.maxDelay + 1) : 0), seq: this.netSeq++, m });
    }
  }

  private onDropped(from: SimNode, m: Message): void {
    if (m.type === MessageType.Snap && from.core && from.core.role === StateRole.Leader) {
      from.core.reportSnapshotStatus(m.to, false);
    } else if (m.type === MessageType.App && from.core && this.rng.chance(0.3)) {
      from.core.reportUnreachable(m.to);
    }
  }

  /** Delivers every message due by now, in random order, until none is due. */
  private deliverDue(): void {
    let guard = 0;
    for (;;) {
      const due: InFlight[] = [];
      const rest: InFlight[] = [];
      for (const f of this.net) (f.at <= this.now ? due : rest).push(f);
      if (due.length === 0) return;
      this.net = rest;
      // Reorder: shuffle the due messages.
      for (let i = due.length - 1; i > 0; i--) {
        const j = this.rng.intn(i + 1);
        const t = due[i]!;
        due[i] = due[j]!;
        due[j] = t;
      }
      for (const f of due) this.deliver(f.m);
      if (++guard > 10000) {
        const types = new Map<string, number>();
        for (const f of due) types.set(`${f.m.type}:${f.m.from}->${f.m.to}`, (types.get(`${f.m.type}:${f.m.from}->${f.m.to}`) ?? 0) + 1);
        this.fail(`network never quiesced: ${JSON.stringify([...types])}`);
      }
    }
  }

  private deliver(m: Message): void {
    const to = this.nodes.get(m.to);
    const from = this.nodes.get(m.from);
    if (!to || !to.core || this.group.get(m.to) !== this.group.get(m.from)) {
      if (from) this.onDropped(from, m);
      if (from && from.core) this.processReady(from);
      return;
    }
    this.stats.delivered++;
    this.stats.steps++;
    to.core.step(m);
    this.processReady(to);
    if (m.type === MessageType.Snap && from && from.core && from.core.role === StateRole.Leader) {
      from.core.reportSnapshotStatus(m.to, true);
      this.processReady(from);
    }
    this.checkGlobal();
  }

  // ---------------------------------------------------------------------------
  // Ready processing: persist, send, apply, advance — with per-node checks.

  private processReady(n: SimNode): void {
    let rounds = 0;
    while (n.core && n.core.hasReady()) {
      if (++rounds > 100) this.fail(`node ${n.id}: Ready never settles`);
      const core = n.core;
      const rd = core.ready();
      this.persist(n, rd);
      for (const m of rd.messages) {
        this.checkMessage(n, m);
        this.enqueue(n, m);
      }
      this.apply(n, rd);
      core.advance();
      // The core's idea of what is durable must match the disk.
      const d = n.disk;
      const dLast = d.entries.length > 0 ? d.entries[d.entries.length - 1]!.index : (d.snapshot?.metadata.index ?? 0);
      if (core.log.stabled !== dLast && core.log.stabled <= core.log.lastIndex()) {
        this.fail(`node ${n.id}: core thinks ${core.log.stabled} is durable, disk ends at ${dLast}`);
      }
      if (rd.softState && rd.softState.role === StateRole.Leader) this.onNewLeader(n);
    }
  }

  private persist(n: SimNode, rd: Ready): void {
    const d = n.disk;
    const core = n.core!;
    if (rd.snapshot) {
      d.snapshot = rd.snapshot;
      d.entries = [];
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      if (this.trace) this.log(`persist ${n.id} entries ${rd.entries.map((e) => `${e.index}@${e.term}`).join(",")}`);
      const base = d.snapshot ? d.snapshot.metadata.index : 0;
      const keep = d.entries.filter((e) => e.index < first);
      const expect = (keep.length > 0 ? keep[keep.length - 1]!.index : base) + 1;
      if (first !== expect) {
        this.fail(
          `node ${n.id}: Ready entries start at ${first}, disk expects ${expect} (core base ${core.log.baseIndex} last ${core.log.lastIndex()} stabled ${core.log.stabled}; disk snap ${base} entries ${d.entries.map((e) => e.index).join(",")})`,
        );
      }
      for (const e of rd.entries) {
        keep.push(e);
        // Log matching: one (index, term) names one entry with one predecessor term.
        let prevTerm = -1;
        if (keep.length > 1) prevTerm = keep[keep.length - 2]!.term;
        else if (e.index - 1 === base) prevTerm = d.snapshot?.metadata.term ?? 0;
        const key = `${e.index}:${e.term}`;
        const seen = this.entryAt.get(key);
        if (seen) {
          if (!sameBytes(seen.data, e.data)) this.fail(`log matching: entry ${key} has two different payloads`);
          if (prevTerm >= 0 && seen.prevTerm >= 0 && seen.prevTerm !== prevTerm) {
            this.fail(`log matching: entry ${key} follows term ${prevTerm} on node ${n.id} but ${seen.prevTerm} elsewhere`);
          }
          if (seen.prevTerm < 0 && prevTerm >= 0) seen.prevTerm = prevTerm;
        } else {
          this.entryAt.set(key, { data: e.data, prevTerm });
        }
      }
      d.entries = keep;
    }
    if (rd.hardState) {
      const hs = rd.hardState;
      const old = d.hardState;
      if (hs.term < old.term) this.fail(`node ${n.id}: durable term regressed ${old.term} -> ${hs.term}`);
      if (hs.term === old.term && old.vote !== NONE && hs.vote !== old.vote) {
        this.fail(`node ${n.id}: vote changed within term ${hs.term}: ${old.vote} -> ${hs.vote}`);
      }
      if (hs.commit < old.commit) this.fail(`node ${n.id}: durable commit regressed ${old.commit} -> ${hs.commit}`);
      d.hardState = { term: hs.term, vote: hs.vote, commit: hs.commit };
    }
    // Commit is durable only with the entries it covers.
    const dLast = d.entries.length > 0 ? d.entries[d.entries.length - 1]!.index : (d.snapshot?.metadata.index ?? 0);
    if (d.hardState.commit > dLast) this.fail(`node ${n.id}: durable commit ${d.hardState.commit} beyond durable log ${dLast}`);
    // Committed entries are never lost: every node's committed prefix agrees.
    const c = core.log.committed;
    if (c < n.commitSeen) this.fail(`node ${n.id}: commit regressed ${n.commitSeen} -> ${c}`);
    for (let i = Math.max(n.commitSeen + 1, core.log.firstIndex()); i <= c; i++) {
      const t = core.log.term(i);
      const known = this.committedTerm[i];
      if (known === undefined) {
        if (i === this.committedTerm.length) this.committedTerm.push(t);
        else this.committedTerm[i] = t;
      } else if (known !== t) {
        this.fail(`committed entry lost: index ${i} committed at term ${known}, node ${n.id} commits term ${t}`);
      }
    }
    n.commitSeen = c;
    if (c > this.maxCommit) {
      this.stats.committed += c - this.maxCommit;
      this.maxCommit = c;
    }
  }

  private apply(n: SimNode, rd: Ready): void {
    if (rd.snapshot) {
      const s = decodeSm(rd.snapshot.data);
      const known = this.hashAt.get(s.applied);
      if (known !== undefined && known !== s.hash) this.fail(`node ${n.id}: snapshot at ${s.applied} disagrees with applied state`);
      n.sm = s;
    }
    const cur = n.sm;
    for (const e of rd.committedEntries) {
      if (e.index !== cur.applied + 1) this.fail(`node ${n.id}: applied ${e.index} after ${cur.applied} (gap or repeat)`);
      cur.hash = hashEntry(cur.hash, e);
      cur.applied = e.index;
      if (e.type === EntryType.Normal && e.data.length > 0) cur.count++;
      if (e.type === EntryType.ConfChange) {
        const cc = decodeConfChange(e.data);
        if (cc.type === ConfChangeType.RemoveNode) {
          this.removedIds.add(cc.nodeId);
          if (cc.nodeId === n.id) this.log(`node ${n.id} applies its removal`);
        }
      }
      const known = this.hashAt.get(e.index);
      if (known === undefined) this.hashAt.set(e.index, cur.hash);
      else if (known !== cur.hash) this.fail(`state machine safety: node ${n.id} applied a different entry at ${e.index}`);
    }
    for (const rs of rd.readStates) {
      const key = new TextDecoder().decode(rs.context);
      const req = this.reads.get(key);
      if (!req) continue;
      this.reads.delete(key);
      if (req.node !== n.id) this.fail(`read ${key} answered on node ${n.id}, issued on ${req.node}`);
      if (rs.index < req.minIndex) {
        this.fail(`linearizability: read ${key} got index ${rs.index} < ${req.minIndex} committed before it was issued`);
      }
      this.stats.reads++;
    }
  }

  private checkMessage(n: SimNode, m: Message): void {
    const core = n.core!;
    // Forwarded proposals, reads and transfer requests keep their originator.
    const forwarded = m.type === MessageType.Prop || m.type === MessageType.ReadIndex || m.type === MessageType.TransferLeader;
    if (m.from !== n.id && !forwarded) this.fail(`node ${n.id} sent a message from ${m.from}`);
    const pre = m.type === MessageType.PreVote || (m.type === MessageType.PreVoteResp && !m.reject);
    if (m.term > core.term && !pre) this.fail(`node ${n.id} sent type ${m.type} at term ${m.term} > its term ${core.term}`);
    if (m.type === MessageType.App && m.commit > core.log.committed) this.fail(`append carries commit beyond the leader's`);
  }

  private onNewLeader(n: SimNode): void {
    const core = n.core!;
    this.stats.leaders++;
    this.log(`leader ${n.id} term ${core.term}`);
    // Leader completeness: every committed entry is in the new leader's log.
    const log = core.log;
    if (this.maxCommit > log.lastIndex()) {
      this.fail(`leader completeness: leader ${n.id} (term ${core.term}) ends at ${log.lastIndex()} < committed ${this.maxCommit}`);
    }
    for (let i = log.firstIndex(); i <= this.maxCommit; i++) {
      const t = this.committedTerm[i];
      if (t !== undefined && log.term(i) !== t) {
        this.fail(`leader completeness: leader ${n.id} has term ${log.term(i)} at committed index ${i} (term ${t})`);
      }
    }
  }

  /** Cheap checks over all nodes, after every step. */
  private checkGlobal(): void {
    for (const n of this.nodes.values()) {
      const core = n.core;
      if (!core) continue;
      const log = core.log;
      if (!(log.applied <= log.committed && log.committed <= log.lastIndex())) {
        this.fail(`node ${n.id}: applied ${log.applied} <= commit ${log.committed} <= last ${log.lastIndex()} violated`);
      }
      if (core.role === StateRole.Leader) {
        const prev = this.leaderOfTerm.get(core.term);
        if (prev === undefined) this.leaderOfTerm.set(core.term, n.id);
        else if (prev !== n.id) this.fail(`election safety: two leaders in term ${core.term}: ${prev} and ${n.id}`);
        if (log.committed > log.stabled) this.fail(`leader ${n.id}: commit ${log.committed} beyond its durable log ${log.stabled}`);
      }
    }
  }

  // ---------------------------------------------------------------------------
  // Liveness

  private checkLiveness(): void {
    for (const id of this.nodes.keys()) this.group.set(id, 0);
    this.dropRate = 0;
    this.dupRate = 0;
    this.maxDelay = 0;
    // A removed member stops for good, as raft-node does once it learns of its removal (from its own
    // log, the leader's snapshot, or a peer refusing it). Left running, one that never heard of it
    // can stay leader of its old configuration forever (without check-quorum or pre-vote nobody
    // answers it), and the check below would wait on it instead of the real leader.
    for (const id of this.removedIds) {
      const n = this.nodes.get(id);
      if (!n || n.removed) continue;
      if (n.core) this.crash(n, Number.POSITIVE_INFINITY);
      n.removed = true;
    }
    for (const n of this.nodes.values()) if (!n.core && !n.removed) this.restart(n);
    this.deliverDue();
    this.log("liveness phase");
    const limit = 200;
    let proposedAt = -1;
    let leaderId: MemberId = NONE;
    let marker: Uint8Array | null = null;
    for (let t = 0; t < limit; t++) {
      this.tickAll();
      this.deliverDue();
      const leader = this.live().find((n) => n.core!.role === StateRole.Leader && n.core!.confState().voters.includes(n.id));
      if (!leader) continue;
      if (marker === null || leader.id !== leaderId) {
        marker = new Uint8Array(8);
        new DataView(marker.buffer).setFloat64(0, -(++this.proposalSeq));
        if (!leader.core!.propose(marker)) {
          marker = null;
          continue;
        }
        leaderId = leader.id;
        proposedAt = leader.core!.log.lastIndex();
        this.processReady(leader);
        this.deliverDue();
      }
      // Done when every live voter has applied the marker, but for a voter raft cannot free in this
      // configuration (stuckWithoutRescue) as long as a quorum has applied it.
      const voters = leader.core!.confState().voters;
      const applied = (id: MemberId): boolean => {
        const n = this.nodes.get(id);
        return n !== undefined && n.core !== null && n.sm.applied >= proposedAt;
      };
      const all = voters.every((id) => applied(id) || this.stuckWithoutRescue(id, leader));
      const quorum = voters.filter(applied).length > voters.length / 2;
      if (all && quorum && proposedAt > 0 && this.hashAt.has(proposedAt)) {
        this.stats.livenessTicks = t + 1;
        // Convergence: every voter's state machine agrees at the marker's index.
        return;
      }
    }
    const st = this.live().map((n) => JSON.stringify({ ...n.core!.status(), progress: undefined }));
    this.fail(`liveness: no leader committed a proposal on all voters within ${limit} ticks after healing\n${st.join("\n")}`);
  }

  /**
   * A voter that campaigned its term above the leader's while cut off, and whose configuration is so
   * old that it does not list the leader, asks only members the leader's configuration no longer
   * has; and the leader's lower-term appends are ignored. Only pre-vote (no term inflation) or
   * check-quorum (the lower-term append is answered, deposing the leader) frees it: etcd's raft
   * documents the same in its step function. swarmd runs with both, so the harness asserts this
   * voter's catch-up only when either is on.
   */
  private stuckWithoutRescue(id: MemberId, leader: SimNode): boolean {
    if (this.cfg.preVote || this.cfg.checkQuorum) return false;
    const n = this.nodes.get(id);
    if (!n?.core) return false;
    return n.core.status().term > leader.core!.status().term && !n.core.confState().voters.includes(leader.id);
  }
}

export function runSimulation(opts: SimOptions): SimResult {
  return new Simulation(opts).run();
}
