// The raft node loop: owns the clock and the I/O around the pure core. Each
// Ready is handled in etcd's order — persist (snapshot, entries, hard state;
// one fsync for everything that accumulated meanwhile), then send, then apply
// to the store, then advance. Proposals resolve once applied locally.
import { randomInt } from "node:crypto";
import { join } from "node:path";
import { Snapshot as ApiSnapshot, Snapshot_Version } from "../../../shared/api/index.js";
import { SwarmError } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import type { MemoryStore, Proposer, StoreAction } from "../store/index.js";
import { encodeRaftRequest, fromWireSnapshot, toWireSnapshot } from "../store/codec.js";
import {
  ConfChangeType,
  EntryType,
  RaftCore,
  SeededRandom,
  StateRole,
  decodeConfChange,
  encodeConfChange,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
  type Status,
} from "./core/index.js";
import { Membership, decodeMember, encodeMember, type Member } from "./membership.js";
import { RaftStorage } from "./storage/index.js";

const log = getLogger("raft");

/** SwarmKit's defaults (manager/state/raft/raft.go, api DefaultRaftConfig). */
export const SNAPSHOT_INTERVAL = 10_000;
export const LOG_ENTRIES_FOR_SLOW_FOLLOWERS = 500;
/** SwarmKit's MaxSizePerMsg and MaxInflightMsgs. */
const MAX_SIZE_PER_MSG = 65_535;
const MAX_INFLIGHT_MSGS = 256;
/** Largest raft ID or request ID we draw: our wire codec keeps 64-bit values below 2^53. */
const MAX_RANDOM_ID = 2 ** 48 - 1;

export const LOST_LEADERSHIP = "raft: failed to process the request: node lost leader status";
export const NO_LEADER =
  "The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";

/** Sends raft messages to peers; the multi-manager transport implements it. */
export interface RaftTransport {
  send(messages: readonly Message[]): void;
  /** The member list changed (conf change or snapshot). */
  setMembers?(members: readonly Member[], self: number): void;
}

export interface RaftNodeOptions {
  /** `<state-dir>/raft`. */
  dir: string;
  /** This node's swarm ID (certificate CN). */
  nodeId: string;
  /** Address other managers reach this one at. */
  addr: string;
  tickIntervalMs: number;
  electionTick: number;
  heartbeatTick: number;
  store: MemoryStore;
  transport?: RaftTransport;
  snapshotInterval?: number;
  logEntriesForSlowFollowers?: number;
  segmentSize?: number;
  /** Restart as a one-member cluster keeping all data (recovery after quorum loss). */
  forceNewCluster?: boolean;
  /** Longest a proposal waits to be applied before it fails. Default 30 s. */
  proposalTimeoutMs?: number;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export type LeadershipListener = (isLeader: boolean) => void;

export class RaftNode implements Proposer {
  private readonly core: RaftCore;
  private readonly membership = new Membership();
  private readonly waiters = new Map<number, Waiter>();
  private readonly leadershipListeners: LeadershipListener[] = [];
  private readonly fatalListeners: ((err: Error) => void)[] = [];
  private ticker: NodeJS.Timeout | undefined;
  private scheduled = false;
  private processing: Promise<void> | undefined;
  private stopped = false;
  private failed: Error | undefined;
  /** Index of the last entry applied (conf changes and empty entries included). */
  private applied: number;
  private snapshotIndex: number;
  /** A commit-only hard state is written with the next save, not fsynced on its own. */
  private pendingHardState: HardState | null = null;
  /** Index of this leader's first entry; leadership is announced once it is applied. */
  private leaderStartIndex = 0;
  private announcedLeader = false;
  private campaignOnce: boolean;
  private readonly proposalTimeoutMs: number;

  private constructor(
    private readonly opts: RaftNodeOptions,
    private readonly storage: RaftStorage,
    readonly raftId: number,
    core: (node: RaftNode) => RaftCore,
    applied: number,
    campaign: boolean,
  ) {
    this.applied = applied;
    this.snapshotIndex = applied;
    this.campaignOnce = campaign;
    this.proposalTimeoutMs = opts.proposalTimeoutMs ?? 30_000;
    this.core = core(this);
  }

  /** Opens the WAL in opts.dir and restores the store; bootstraps a new cluster when it is empty. */
  static async open(opts: RaftNodeOptions): Promise<RaftNode> {
    const candidateId = randomInt(1, MAX_RANDOM_ID);
    const self: Member = { raftId: candidateId, nodeId: opts.nodeId, addr: opts.addr };
    const { storage, state } = await RaftStorage.open(opts.dir, {
      metadata: encodeMember(self),
      ...(opts.segmentSize !== undefined ? { segmentSize: opts.segmentSize } : {}),
    });
    try {
      const raftId = state.fresh ? candidateId : decodeMember(state.metadata).raftId;
      const membership = new Membership();
      let applied = 0;
      if (state.snapshot) {
        const snap = ApiSnapshot.decode(state.snapshot.data);
        opts.store.load(fromWireSnapshot(snap.store ?? emptyWireStore()), state.snapshot.metadata.index);
        membership.restore(snap.membership);
        applied = state.snapshot.metadata.index;
      }
      let { hardState, entries } = state;
      if (opts.forceNewCluster && !state.fresh) {
        ({ hardState, entries } = await forceNewCluster(storage, raftId, { ...self, raftId }, state.snapshot, hardState, entries));
      }
      const cfg = {
        id: raftId,
        random: new SeededRandom(randomInt(0, 2 ** 31)),
        electionTick: opts.electionTick,
        heartbeatTick: opts.heartbeatTick,
        maxSizePerMsg: MAX_SIZE_PER_MSG,
        maxInflightMsgs: MAX_INFLIGHT_MSGS,
        snapshotCatchUpEntries: opts.logEntriesForSlowFollowers ?? LOG_ENTRIES_FOR_SLOW_FOLLOWERS,
        applied,
      };
      const initial = state.fresh
        ? { peers: [{ id: raftId, context: encodeMember({ ...self, raftId }) }] }
        : { hardState, snapshot: state.snapshot, entries };
      const node = new RaftNode(opts, storage, raftId, () => new RaftCore(cfg, initial), applied, true);
      node.membership.restore(membership.toSnapshot());
      log.info({ raftId: raftId.toString(16), fresh: state.fresh, applied, entries: entries.length }, "raft node opened");
      return node;
    } catch (err) {
      await storage.close().catch(() => undefined);
      throw err;
    }
  }

  /** Starts the clock. */
  start(): void {
    if (this.ticker) return;
    this.opts.transport?.setMembers?.(this.membership.list(), this.raftId);
    this.ticker = setInterval(() => {
      this.core.tick();
      this.schedule();
    }, this.opts.tickIntervalMs);
    this.schedule();
  }

  onLeadership(fn: LeadershipListener): void {
    this.leadershipListeners.push(fn);
  }

  /** A storage or apply failure: the node stopped and cannot continue. */
  onFatal(fn: (err: Error) => void): void {
    this.fatalListeners.push(fn);
  }

  /** Leader whose store has caught up with its own term's first entry. */
  isLeader(): boolean {
    return this.announcedLeader;
  }

  leaderId(): number {
    return this.core.status().leader;
  }

  leaderMember(): Member | undefined {
    const id = this.leaderId();
    return id ? this.membership.get(id) : undefined;
  }

  members(): Member[] {
    return this.membership.list();
  }

  status(): Status {
    return this.core.status();
  }

  get appliedIndex(): number {
    return this.applied;
  }

  /** A message from a peer (the transport calls this). */
  step(m: Message): void {
    if (this.stopped) return;
    if (this.membership.isRemoved(m.from)) {
      throw new SwarmError("NOT_FOUND", `raft: member ${m.from.toString(16)} was removed from the cluster`);
    }
    this.core.step(m);
    this.schedule();
  }

  /** Proposer: resolves once the transaction is committed and applied here. */
  propose(actions: readonly StoreAction[]): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.stopped) return Promise.reject(new SwarmError("UNAVAILABLE", "raft: node is stopping"));
    if (!this.announcedLeader) {
      const leader = this.core.status().leader;
      return Promise.reject(new SwarmError("UNAVAILABLE", leader ? "raft: this manager is not the leader" : NO_LEADER));
    }
    const id = randomInt(1, MAX_RANDOM_ID);
    const data = encodeRaftRequest({ id, actions: [...actions] });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.waiters.delete(id)) reject(new SwarmError("DEADLINE_EXCEEDED", `raft: proposal not applied within ${this.proposalTimeoutMs} ms`));
      }, this.proposalTimeoutMs);
      this.waiters.set(id, { resolve, reject, timer });
      if (!this.core.propose(data)) {
        this.settle(id, new SwarmError("UNAVAILABLE", NO_LEADER));
        return;
      }
      this.schedule();
    });
  }

  /** Hands leadership to another voter (used when the leader is demoted). */
  transferLeadership(to: number): void {
    this.core.transferLeadership(to);
    this.schedule();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    await this.processing;
    this.rejectWaiters(new SwarmError("UNAVAILABLE", "raft: node is stopping"));
    try {
      if (this.pendingHardState && !this.failed) await this.storage.save(this.pendingHardState, []);
    } finally {
      await this.storage.close();
    }
    log.info("raft node stopped");
  }

  // ---- the loop

  private schedule(): void {
    if (this.scheduled || this.stopped || this.failed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.processing || this.stopped || this.failed) {
        if (this.processing) void this.processing.then(() => this.schedule());
        return;
      }
      this.processing = this.process().finally(() => {
        this.processing = undefined;
      });
    });
  }

  private async process(): Promise<void> {
    try {
      while (!this.stopped && this.core.hasReady()) {
        const rd = this.core.ready();
        if (rd.snapshot) await this.storage.saveSnapshot(rd.snapshot);
        if (rd.entries.length > 0 || rd.mustSync) {
          await this.storage.save(rd.hardState ?? this.pendingHardState, rd.entries);
          this.pendingHardState = null;
        } else if (rd.hardState) {
          this.pendingHardState = rd.hardState;
        }
        if (rd.messages.length > 0) this.opts.transport?.send(rd.messages);
        if (rd.snapshot) this.installSnapshot(rd.snapshot);
        if (rd.softState) this.roleChanged(rd.softState.role);
        this.applyEntries(rd.committedEntries);
        this.core.advance();
        this.maybeAnnounceLeader();
        this.maybeCampaign();
        await this.maybeSnapshot();
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private applyEntries(entries: readonly Entry[]): void {
    let membersChanged = false;
    for (const e of entries) {
      if (e.index <= this.applied) continue;
      this.applied = e.index;
      if (e.type === EntryType.ConfChange) {
        this.membership.apply(decodeConfChange(e.data));
        membersChanged = true;
        continue;
      }
      if (e.data.length === 0) continue; // a new leader's empty entry
      const res = this.opts.store.applyEntry(e.index, e.data);
      this.settle(res.requestId, res.ok ? undefined : res.error);
    }
    if (membersChanged) this.opts.transport?.setMembers?.(this.membership.list(), this.raftId);
  }

  private installSnapshot(snap: Snapshot): void {
    const decoded = ApiSnapshot.decode(snap.data);
    this.opts.store.load(fromWireSnapshot(decoded.store ?? emptyWireStore()), snap.metadata.index);
    this.membership.restore(decoded.membership);
    this.applied = snap.metadata.index;
    this.snapshotIndex = snap.metadata.index;
    this.opts.transport?.setMembers?.(this.membership.list(), this.raftId);
    log.info({ index: snap.metadata.index }, "installed snapshot from the leader");
  }

  private roleChanged(role: StateRole): void {
    if (role === StateRole.Leader) {
      this.leaderStartIndex = this.core.status().lastIndex;
      log.info({ term: this.core.status().term }, "became raft leader");
      return;
    }
    if (this.announcedLeader) {
      this.announcedLeader = false;
      this.rejectWaiters(new SwarmError("UNAVAILABLE", LOST_LEADERSHIP));
      log.info("lost raft leadership");
      for (const fn of this.leadershipListeners) fn(false);
    }
  }

  private maybeAnnounceLeader(): void {
    if (this.announcedLeader || this.leaderStartIndex === 0) return;
    if (this.core.status().role !== "leader") {
      this.leaderStartIndex = 0;
      return;
    }
    if (this.applied < this.leaderStartIndex) return;
    this.announcedLeader = true;
    for (const fn of this.leadershipListeners) fn(true);
  }

  /** A lone member elects itself at once instead of waiting out an election timeout. */
  private maybeCampaign(): void {
    if (!this.campaignOnce) return;
    const st = this.core.status();
    if (st.confState.voters.length === 0) return;
    this.campaignOnce = false;
    if (st.confState.voters.length === 1 && st.confState.voters[0] === this.raftId && st.role !== "leader") {
      this.core.campaign();
    }
  }

  private async maybeSnapshot(): Promise<void> {
    const interval = this.opts.snapshotInterval ?? SNAPSHOT_INTERVAL;
    if (this.applied - this.snapshotIndex < interval) return;
    const data = ApiSnapshot.encode({
      version: Snapshot_Version.V0,
      membership: this.membership.toSnapshot(),
      store: toWireSnapshot(this.opts.store.save()),
    }).finish();
    const snap = this.core.snapshotTaken(this.applied, data);
    await this.storage.saveSnapshot(snap);
    this.snapshotIndex = snap.metadata.index;
    await this.storage.compact(snap.metadata.index);
    log.debug({ index: snap.metadata.index, bytes: data.length }, "took snapshot");
  }

  private settle(id: number, err?: Error): void {
    const w = this.waiters.get(id);
    if (!w) return;
    this.waiters.delete(id);
    clearTimeout(w.timer);
    if (err) w.reject(err);
    else w.resolve();
  }

  private rejectWaiters(err: Error): void {
    for (const id of [...this.waiters.keys()]) this.settle(id, err);
  }

  private fail(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    this.failed = e;
    if (this.ticker) clearInterval(this.ticker);
    this.rejectWaiters(new SwarmError("UNAVAILABLE", `raft node failed: ${e.message}`));
    log.error({ err: e.message }, "raft node failed");
    for (const fn of this.fatalListeners) fn(e);
  }
}

function emptyWireStore(): ReturnType<typeof toWireSnapshot> {
  return toWireSnapshot({ nodes: [], services: [], networks: [], tasks: [], clusters: [], secrets: [], configs: [] });
}

/**
 * --force-new-cluster (SwarmKit's storage.go): drop what was never committed,
 * then append committed conf changes that remove every other member, so this
 * node restarts as the only voter with all data kept.
 */
async function forceNewCluster(
  storage: RaftStorage,
  raftId: number,
  self: Member,
  snapshot: Snapshot | null,
  hardState: HardState,
  entries: Entry[],
): Promise<{ hardState: HardState; entries: Entry[] }> {
  const kept = entries.filter((e) => e.index <= hardState.commit);
  const voters = new Set<number>(snapshot?.metadata.confState.voters ?? []);
  for (const e of kept) {
    if (e.type !== EntryType.ConfChange) continue;
    const cc = decodeConfChange(e.data);
    if (cc.type === ConfChangeType.RemoveNode) voters.delete(cc.nodeId);
    else voters.add(cc.nodeId);
  }
  let index = kept.length > 0 ? kept[kept.length - 1]!.index : (snapshot?.metadata.index ?? 0);
  const term = hardState.term;
  const extra: Entry[] = [];
  for (const id of [...voters].sort((a, b) => a - b)) {
    if (id === raftId) continue;
    extra.push({ term, index: ++index, type: EntryType.ConfChange, data: encodeConfChange({ type: ConfChangeType.RemoveNode, nodeId: id, context: new Uint8Array(0) }) });
  }
  if (!voters.has(raftId)) {
    extra.push({ term, index: ++index, type: EntryType.ConfChange, data: encodeConfChange({ type: ConfChangeType.AddNode, nodeId: raftId, context: encodeMember(self) }) });
  }
  const hs: HardState = { term, vote: raftId, commit: index };
  // Rewrites the uncommitted tail (if any) and makes the new entries durable before raft sees them.
  if (extra.length > 0 || kept.length !== entries.length) await storage.save(hs, extra);
  else await storage.save(hs, []);
  log.warn({ removed: extra.filter((e) => decodeConfChange(e.data).type === ConfChangeType.RemoveNode).length }, "forcing a new cluster from this node's data");
  return { hardState: hs, entries: [...kept, ...extra] };
}
