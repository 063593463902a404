// The raft node loop: owns the clock and the I/O around the pure core. Each
// Ready is handled in etcd's order — persist (snapshot, entries, hard state;
// one fsync for everything that accumulated meanwhile), then send, then apply
// to the store, then advance. Proposals resolve once applied locally.
import { randomInt } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { RaftMemberStatus_Reachability, Snapshot as ApiSnapshot, Snapshot_Version, type RaftMember } from "../../../shared/api/index.js";
import { SwarmError } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import { DEFAULT_CLUSTER_NAME, type MemoryStore, type Proposer, type StoreAction, type Watcher } from "../store/index.js";
import { encodeRaftRequest, fromWireSnapshot, toWireSnapshot, withRequestId } from "../store/codec.js";
import {
  ConfChangeType,
  EntryType,
  MessageType,
  RaftCore,
  SeededRandom,
  StateRole,
  decodeConfChange,
  encodeConfChange,
  type Entry,
  type HardState,
  type Message,
  type ConfChange,
  type Snapshot,
  type Status,
} from "./core/index.js";
import { Membership, decodeMember, encodeMember, type Member } from "./membership.js";
import { encodeSnapshotSliced } from "./snapshot-encode.js";
import { logOutweighsSnapshot, snapshotDue, snapshotPhase } from "./snapshot-schedule.js";
import { RaftStorage, type StorageStats } from "./storage/index.js";
import { parseWalName } from "./storage/names.js";

const log = getLogger("raft");

/** SwarmKit's defaults (manager/state/raft/raft.go, api DefaultRaftConfig). */
export const SNAPSHOT_INTERVAL = 10_000;
export const LOG_ENTRIES_FOR_SLOW_FOLLOWERS = 500;
interface ClusterRaftConfig {
  snapshotInterval: number;
  logEntriesForSlowFollowers: number;
}
/** SwarmKit's MaxSizePerMsg and MaxInflightMsgs. */
const MAX_SIZE_PER_MSG = 65_535;
const MAX_INFLIGHT_MSGS = 256;
/** How long a leader may hold a commit-only append for the next append to carry (sendMessages). */
export const COMMIT_HOLD_MS = 2;
/** Largest raft ID or request ID we draw: our wire codec keeps 64-bit values below 2^53. */
export const MAX_RANDOM_ID = 2 ** 48 - 1;

export const LOST_LEADERSHIP = "raft: failed to process the request: node lost leader status";
export const NO_LEADER =
  "The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";
/** SwarmKit's membership.ErrMemberRemoved (NOT_FOUND on the wire). */
export const MEMBER_REMOVED = "raft: member was removed from the cluster";
/** SwarmKit's ErrCannotRemoveMember wording as the control API reports it. */
export const CANNOT_REMOVE_MEMBER = "can't remove member from the raft: this would result in a loss of quorum";

/** What the transport tells the node about its peers. */
export interface TransportEvents {
  reportUnreachable(id: number): void;
  reportSnapshotStatus(id: number, ok: boolean): void;
  /** A peer refused our messages because this member was removed. */
  nodeRemoved(): void;
}

/** Sends raft messages to peers; the multi-manager transport implements it. */
export interface RaftTransport {
  send(messages: readonly Message[]): void;
  /** The member list changed (conf change or snapshot). */
  setMembers?(members: readonly Member[], self: number): void;
  /** Called once at start with the node's callbacks. */
  attach?(events: TransportEvents): void;
  /** Whether the peer is connected now (ManagerStatus reachability, CanRemoveMember). */
  isActive?(id: number): boolean;
  /** The peer connected for the longest time, 0 if none (leader transfer target). */
  longestActive?(): number;
}

/** Start a brand-new member of an existing cluster (after RaftMembership.Join answered). */
export interface JoinInfo {
  raftId: number;
  /** The members the leader reported; this node's peers until its log catches up. */
  members: readonly Member[];
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
  /** Fixed values (tests); otherwise the cluster object's spec.raft decides, as in SwarmKit. */
  snapshotInterval?: number;
  logEntriesForSlowFollowers?: number;
  /** Share of the last snapshot's size the log must grow by before the next snapshot (default SNAPSHOT_LOG_SHARE; 0: the interval alone). */
  snapshotLogShare?: number;
  segmentSize?: number;
  /** Restart as a one-member cluster keeping all data (recovery after quorum loss). */
  forceNewCluster?: boolean;
  /** Longest a proposal waits to be applied before it fails. Default 30 s. */
  proposalTimeoutMs?: number;
  /** A fresh WAL under this raft ID, no bootstrap: the leader's log or snapshot brings this node up to date. */
  join?: JoinInfo;
  /**
   * True while other work on this thread would wait behind an fsync run
   * inline (a follower relaying its clients' writes): the fsync then goes to
   * the thread pool.
   */
  fsyncOverlaps?: () => boolean;
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
  /**
   * Request IDs count up from a random start (SwarmKit's idutil generator does
   * the same with member ID and time): unique among this node's proposals and,
   * with 2^48 values, practically never equal to another leader's in flight —
   * and free of a crypto call per proposal.
   */
  private nextRequestId = randomInt(1, MAX_RANDOM_ID);
  private readonly leadershipListeners: LeadershipListener[] = [];
  private readonly membersListeners: (() => void)[] = [];
  private readonly fatalListeners: ((err: Error) => void)[] = [];
  private ticker: NodeJS.Timeout | undefined;
  private scheduled = false;
  private processing: Promise<void> | undefined;
  private stopped = false;
  private failed: Error | undefined;
  /** Index of the last entry applied (conf changes and empty entries included). */
  private applied: number;
  private snapshotIndex: number;
  /** Bytes of entry data applied so far, and as of the newest snapshot: the log's growth since (snapshot-schedule.ts). */
  private appliedBytes = 0;
  private snapshotAppliedBytes = 0;
  /** Size of the newest snapshot's data (taken, installed or loaded at start). */
  private lastSnapshotBytes = 0;
  /** Index of this leader's first entry; leadership is announced once it is applied. */
  private leaderStartIndex = 0;
  private announcedLeader = false;
  /** The core's role as of the last Ready (leader or not). */
  private leaderRole = false;
  /** Commit-only appends held back per follower (see sendMessages). */
  private readonly heldCommits = new Map<number, Message>();
  private heldTimer: NodeJS.Timeout | undefined;
  private campaignOnce: boolean;
  private readonly proposalTimeoutMs: number;
  private readonly removedListeners: (() => void)[] = [];
  private removed = false;
  /** Conf changes run one at a time; this is the tail of that chain. */
  private confChain: Promise<unknown> = Promise.resolve();
  /** The conf change proposed by this leader, settled when its index is applied. */
  private confWaiter: { index: number; term: number; waiter: Waiter } | undefined;
  /** The snapshot being encoded and saved beside the loop, if any. */
  private snapshotTask: Promise<void> | undefined;
  /** The raft settings in force (options, else the cluster's as last read; see raftConfig()). */
  private raftSettings: ClusterRaftConfig = { snapshotInterval: SNAPSHOT_INTERVAL, logEntriesForSlowFollowers: LOG_ENTRIES_FOR_SLOW_FOLLOWERS };
  /** Cluster changes since raftSettings were read: any queued event (or a closed watcher) means read again. */
  private clusterWatch: Watcher | undefined;

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
    const candidateId = opts.join?.raftId ?? randomInt(1, MAX_RANDOM_ID);
    const self: Member = { raftId: candidateId, nodeId: opts.nodeId, addr: opts.addr };
    const { storage, state } = await RaftStorage.open(opts.dir, {
      metadata: encodeMember(self),
      ...(opts.segmentSize !== undefined ? { segmentSize: opts.segmentSize } : {}),
    });
    try {
      const raftId = state.fresh ? candidateId : decodeMember(state.metadata).raftId;
      if (opts.join && !state.fresh && raftId !== opts.join.raftId) {
        throw new SwarmError(
          "FAILED_PRECONDITION",
          `cannot join as raft member ${opts.join.raftId.toString(16)}: ${opts.dir} already holds the state of raft member ${raftId.toString(16)}`,
        );
      }
      const membership = new Membership();
      if (opts.join && state.fresh) membership.restore({ members: opts.join.members.map((m) => ({ ...m, status: undefined })), removed: [] });
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
      // A joiner starts empty, like etcd's RestartNode on a fresh log: the leader fills it in.
      const initial = state.fresh && !opts.join
        ? { peers: [{ id: raftId, context: encodeMember({ ...self, raftId }) }] }
        : { hardState, snapshot: state.snapshot, entries };
      const node = new RaftNode(opts, storage, raftId, () => new RaftCore(cfg, initial), applied, !opts.join);
      node.membership.restore(membership.toSnapshot());
      node.lastSnapshotBytes = state.snapshot?.data.length ?? 0;
      log.info({ raftId: raftId.toString(16), fresh: state.fresh, join: !!opts.join, applied, entries: entries.length }, "raft node opened");
      return node;
    } catch (err) {
      await storage.close().catch(() => undefined);
      throw err;
    }
  }

  /** True if `dir` holds a WAL (this manager was a raft member before). */
  static async hasState(dir: string): Promise<boolean> {
    try {
      return (await readdir(join(dir, "wal"))).some((n) => parseWalName(n) !== null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
  }

  /** Starts the clock. */
  start(): void {
    if (this.ticker) return;
    this.opts.transport?.attach?.({
      reportUnreachable: (id) => this.reportUnreachable(id),
      reportSnapshotStatus: (id, ok) => this.reportSnapshotStatus(id, ok),
      nodeRemoved: () => this.markRemoved("a peer refused our messages"),
    });
    this.membersChanged();
    this.ticker = setInterval(() => {
      this.core.tick();
      this.schedule();
    }, this.opts.tickIntervalMs);
    this.schedule();
  }

  onLeadership(fn: LeadershipListener): void {
    this.leadershipListeners.push(fn);
  }

  /** This member was removed from the raft group (its own removal applied, or a peer said so). */
  onRemoved(fn: () => void): void {
    this.removedListeners.push(fn);
    if (this.removed) queueMicrotask(fn);
  }

  get isRemoved(): boolean {
    return this.removed;
  }

  /** The WAL's counters (diagnostics and tests). */
  storageStats(): StorageStats {
    return this.storage.stats();
  }

  /** A storage or apply failure: the node stopped and cannot continue. */
  onFatal(fn: (err: Error) => void): void {
    this.fatalListeners.push(fn);
  }

  /** Leader whose store has caught up with its own term's first entry. */
  isLeader(): boolean {
    return this.announcedLeader;
  }

  /** The known leader's raft ID, 0 when none (read on every control call: no status() allocation). */
  leaderId(): number {
    return this.core.lead;
  }

  /** Called whenever the raft member list changes. */
  onMembersChange(fn: () => void): void {
    this.membersListeners.push(fn);
  }

  leaderMember(): Member | undefined {
    const id = this.leaderId();
    return id ? this.membership.get(id) : undefined;
  }

  members(): Member[] {
    return this.membership.list();
  }

  /** Raft IDs removed for good (never reused). */
  removedIds(): number[] {
    return this.membership.removedList();
  }

  memberByNodeId(nodeId: string): Member | undefined {
    return this.membership.byNodeId(nodeId);
  }

  /** Connected to this member now (self always; others as the transport sees them). */
  isReachable(raftId: number): boolean {
    if (raftId === this.raftId) return true;
    return this.opts.transport?.isActive?.(raftId) ?? false;
  }

  /** Members with SwarmKit's RaftMemberStatus (ManagerStatus: leader flag, reachability). */
  memberStatus(): RaftMember[] {
    const leader = this.leaderId();
    return this.membership.list().map((m) => ({
      raftId: m.raftId,
      nodeId: m.nodeId,
      addr: m.addr,
      status: {
        leader: m.raftId === leader,
        reachability: this.isReachable(m.raftId) || m.raftId === leader ? RaftMemberStatus_Reachability.REACHABLE : RaftMemberStatus_Reachability.UNREACHABLE,
        message: "",
      },
    }));
  }

  /**
   * SwarmKit's CanRemoveMember: the members still reachable without `id`
   * (this node included) must be a quorum of the group that remains.
   */
  canRemoveMember(id: number): boolean {
    const members = this.membership.list();
    let reachable = 0;
    for (const m of members) if (m.raftId !== id && this.isReachable(m.raftId)) reachable++;
    return reachable >= Math.floor((members.length - 1) / 2) + 1;
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
    if (this.membership.isRemoved(m.from)) throw new SwarmError("NOT_FOUND", MEMBER_REMOVED);
    this.core.step(m);
    this.schedule();
  }

  /** Proposer: resolves once the transaction is committed and applied here. */
  propose(actions: readonly StoreAction[], encoded?: Uint8Array): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.stopped) return Promise.reject(new SwarmError("UNAVAILABLE", "raft: node is stopping"));
    if (!this.announcedLeader) {
      const leader = this.core.status().leader;
      return Promise.reject(new SwarmError("UNAVAILABLE", leader ? "raft: this manager is not the leader" : NO_LEADER));
    }
    const id = this.nextRequestId;
    this.nextRequestId = id >= MAX_RANDOM_ID ? 1 : id + 1;
    const data = encoded ? withRequestId(id, encoded) : encodeRaftRequest({ id, actions: [...actions] });
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

  /**
   * SwarmKit's TransferLeadership: hand leadership to the peer connected the
   * longest and resolve once another member leads (reject after timeoutMs).
   */
  async transferLeadershipToLongestActive(timeoutMs = 25_000): Promise<number> {
    if (this.core.status().role !== "leader") throw new SwarmError("FAILED_PRECONDITION", "raft: this manager is not the leader");
    const voters = this.core.status().confState.voters;
    let target = this.opts.transport?.longestActive?.() ?? 0;
    if (!voters.includes(target)) target = voters.find((v) => v !== this.raftId && this.isReachable(v)) ?? 0;
    if (!target) throw new SwarmError("FAILED_PRECONDITION", "raft: no reachable member to transfer leadership to");
    log.info({ to: target.toString(16) }, "transferring raft leadership");
    this.transferLeadership(target);
    const deadline = Date.now() + timeoutMs;
    const poll = Math.max(1, Math.floor(this.opts.tickIntervalMs / 10));
    let retried = Date.now();
    for (;;) {
      const st = this.core.status();
      if (st.leader !== 0 && st.leader !== this.raftId) return st.leader;
      if (this.stopped || this.failed) throw new SwarmError("UNAVAILABLE", "raft: node is stopping");
      if (Date.now() > deadline) throw new SwarmError("DEADLINE_EXCEEDED", `raft: leadership was not transferred within ${timeoutMs} ms`);
      // The core abandons a transfer after an election timeout: ask again.
      if (st.role === "leader" && st.leadTransferee === 0 && Date.now() - retried > this.opts.tickIntervalMs * this.opts.electionTick) {
        retried = Date.now();
        this.transferLeadership(target);
      }
      await new Promise((r) => setTimeout(r, poll));
    }
  }

  /**
   * Proposes a membership change on the leader and resolves once it is
   * applied here. Changes run one at a time (raft allows one pending).
   */
  proposeConfChange(cc: ConfChange): Promise<void> {
    const run = this.confChain.then(() => this.proposeConfChangeNow(cc));
    this.confChain = run.catch(() => undefined);
    return run;
  }

  private proposeConfChangeNow(cc: ConfChange): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.stopped) return Promise.reject(new SwarmError("UNAVAILABLE", "raft: node is stopping"));
    if (!this.announcedLeader) {
      return Promise.reject(new SwarmError("UNAVAILABLE", this.core.status().leader ? "raft: this manager is not the leader" : NO_LEADER));
    }
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.confWaiter?.waiter === waiter) {
          this.confWaiter = undefined;
          reject(new SwarmError("DEADLINE_EXCEEDED", `raft: configuration change not applied within ${this.proposalTimeoutMs} ms`));
        }
      }, this.proposalTimeoutMs);
      const waiter: Waiter = { resolve, reject, timer };
      if (!this.core.proposeConfChange(cc)) {
        clearTimeout(timer);
        reject(new SwarmError("UNAVAILABLE", NO_LEADER));
        return;
      }
      const st = this.core.status();
      this.confWaiter = { index: st.lastIndex, term: st.term, waiter };
      this.schedule();
    });
  }

  private settleConf(err?: Error): void {
    const w = this.confWaiter;
    if (!w) return;
    this.confWaiter = undefined;
    clearTimeout(w.waiter.timer);
    if (err) w.waiter.reject(err);
    else w.waiter.resolve();
  }

  /** The transport could not deliver to `id` (raft stops streaming to it optimistically). */
  reportUnreachable(id: number): void {
    if (this.stopped || this.failed) return;
    this.core.reportUnreachable(id);
    this.schedule();
  }

  reportSnapshotStatus(id: number, ok: boolean): void {
    if (this.stopped || this.failed) return;
    this.core.reportSnapshotStatus(id, ok);
    this.schedule();
  }

  private markRemoved(why: string): void {
    if (this.removed) return;
    this.removed = true;
    log.warn({ raftId: this.raftId.toString(16), why }, "this member was removed from the raft cluster");
    for (const fn of this.removedListeners) fn();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    if (this.heldTimer) clearTimeout(this.heldTimer);
    this.clusterWatch?.close();
    await this.processing;
    await this.snapshotTask;
    this.rejectWaiters(new SwarmError("UNAVAILABLE", "raft: node is stopping"));
    await this.storage.close(); // waits for background hard-state saves
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
        if (rd.softState) this.leaderRole = rd.softState.role === StateRole.Leader;
        // A leader may replicate while it writes its own log (raft thesis §10.2.1, as
        // etcd does): its entries count towards commit only once advance() reports
        // them durable, and its term and vote were persisted before it was elected.
        // Everyone else persists first, since its messages promise what is on disk.
        const early = this.leaderRole && rd.messages.length > 0;
        if (early) this.sendMessages(rd.messages);
        if (rd.snapshot) {
          // Snapshot saves stay in index order: let one of our own finish first.
          await this.snapshotTask;
          await this.storage.saveSnapshot(rd.snapshot);
        }
        if (rd.entries.length > 0 || rd.mustSync) {
          // Inline, an fsync blocks the loop but spares the hand-off to a pool thread and back. It
          // goes to the pool when something would wait on it: a leader's messages on their way out
          // (their socket writes happen later in this loop turn), or a follower's relayed writes,
          // whose answers and next requests would queue behind it (measured: docs/storage.md).
          const inlineSync = !early && !(this.opts.fsyncOverlaps?.() ?? false);
          await this.storage.save(rd.hardState, rd.entries, { inlineSync });
        } else if (rd.hardState) {
          // A commit-only change needs no fsync before anything else happens (a lost commit index is
          // learned again): written now, in order, and made durable by the next save's fsync.
          this.storage.saveCommit(rd.hardState);
        }
        if (!early && rd.messages.length > 0) this.sendMessages(rd.messages);
        if (rd.snapshot) this.installSnapshot(rd.snapshot);
        if (rd.softState) this.roleChanged(rd.softState.role);
        this.applyEntries(rd.committedEntries);
        this.core.advance();
        this.maybeAnnounceLeader();
        this.maybeCampaign();
        this.maybeSnapshot();
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * Sends the core's messages, except that a leader holds an append without
   * entries (it only carries the commit index) for up to COMMIT_HOLD_MS: the
   * next append to that follower carries the commit anyway and replaces it.
   * Under a steady stream of writes this halves the messages per write (etcd
   * sends each commit at once); followers then learn a commit at most that
   * much later. Holding or dropping such a message is safe: raft tolerates
   * delay and loss, and an empty append changes no progress state.
   */
  private sendMessages(msgs: Message[]): void {
    const transport = this.opts.transport;
    if (!transport) return;
    if (!this.leaderRole) {
      transport.send(msgs);
      return;
    }
    const out: Message[] = [];
    for (const m of msgs) {
      if (m.type === MessageType.App) {
        if (m.entries.length === 0 && m.snapshot === null) {
          this.heldCommits.set(m.to, m);
          continue;
        }
        this.heldCommits.delete(m.to); // superseded: this append carries the commit too
      }
      out.push(m);
    }
    if (out.length > 0) transport.send(out);
    if (this.heldCommits.size > 0 && !this.heldTimer) {
      this.heldTimer = setTimeout(() => this.flushHeldCommits(), COMMIT_HOLD_MS);
    }
  }

  private flushHeldCommits(): void {
    this.heldTimer = undefined;
    if (this.heldCommits.size === 0) return;
    const held = [...this.heldCommits.values()];
    this.heldCommits.clear();
    // A leader that stepped down since has nothing to tell; stale terms are ignored anyway.
    if (this.stopped || !this.leaderRole) return;
    this.opts.transport?.send(held);
  }

  private applyEntries(entries: readonly Entry[]): void {
    let membersChanged = false;
    let removedSelf = false;
    for (const e of entries) {
      if (e.index <= this.applied) continue;
      this.applied = e.index;
      this.appliedBytes += e.data.length;
      const cw = this.confWaiter;
      if (cw && e.index === cw.index) {
        if (e.term === cw.term && e.type === EntryType.ConfChange) this.settleConf();
        else this.settleConf(new SwarmError("ABORTED", "raft: configuration change was dropped (another one was pending or leadership changed)"));
      }
      if (e.type === EntryType.ConfChange) {
        const cc = decodeConfChange(e.data);
        this.membership.apply(cc);
        membersChanged = true;
        if (cc.type === ConfChangeType.RemoveNode && cc.nodeId === this.raftId) removedSelf = true;
        continue;
      }
      if (e.data.length === 0) continue; // a new leader's empty entry
      const res = this.opts.store.applyEntry(e.index, e.data);
      this.settle(res.requestId, res.ok ? undefined : res.error);
    }
    if (membersChanged) this.membersChanged();
    if (removedSelf) this.markRemoved("its removal was applied");
  }

  /** The member list changed (start, conf change, snapshot): tell the transport and the listeners. */
  private membersChanged(): void {
    this.opts.transport?.setMembers?.(this.membership.list(), this.raftId);
    for (const fn of this.membersListeners) fn();
  }

  private installSnapshot(snap: Snapshot): void {
    const decoded = ApiSnapshot.decode(snap.data);
    this.opts.store.load(fromWireSnapshot(decoded.store ?? emptyWireStore()), snap.metadata.index);
    this.membership.restore(decoded.membership);
    this.applied = snap.metadata.index;
    this.snapshotIndex = snap.metadata.index;
    this.snapshotAppliedBytes = this.appliedBytes;
    this.lastSnapshotBytes = snap.data.length;
    this.membersChanged();
    log.info({ index: snap.metadata.index }, "installed snapshot from the leader");
    if (this.membership.isRemoved(this.raftId)) this.markRemoved("the leader's snapshot lists it as removed");
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
      this.settleConf(new SwarmError("UNAVAILABLE", LOST_LEADERSHIP));
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

  /**
   * Every snapshotInterval applied entries, once the log since the last
   * snapshot holds half its bytes, snapshot the store beside the
   * loop (as SwarmKit does in a goroutine): the store's objects are captured
   * now (frozen, so the view stays consistent), encoded in slices that yield
   * to the event loop, then saved. Entries after the snapshot index may reach
   * the WAL before its marker; replay keeps them (they follow the base).
   */
  private maybeSnapshot(): void {
    if (this.snapshotTask) return;
    const { snapshotInterval, logEntriesForSlowFollowers } = this.raftConfig();
    // An interval of 0 turns periodic snapshots off (SwarmKit); each member has its own phase (snapshot-schedule.ts).
    const phaseOf = (): number => snapshotPhase(this.raftId, this.membership.list().map((m) => m.raftId), snapshotInterval);
    // Only once the log since the last snapshot is worth another (snapshot-schedule.ts). Checked first:
    // while it holds a snapshot back, snapshotDue would sort the member list for its phase on every Ready.
    if (!logOutweighsSnapshot(this.appliedBytes - this.snapshotAppliedBytes, this.lastSnapshotBytes, this.opts.snapshotLogShare)) return;
    if (!snapshotDue(this.applied, this.snapshotIndex, snapshotInterval, phaseOf)) return;
    const index = this.applied;
    const appliedBytes = this.appliedBytes;
    const membership = this.membership.toSnapshot();
    const store = this.opts.store.save({ sorted: false });
    this.snapshotTask = this.takeSnapshot(index, appliedBytes, membership, store, logEntriesForSlowFollowers).finally(() => {
      this.snapshotTask = undefined;
    });
  }

  /**
   * Snapshot interval and catch-up entries: fixed by the options, else the
   * cluster object's spec.raft (SwarmKit reads it the same way, so
   * `cluster update` changes them on every manager). Read again only when a
   * watch on the cluster object has seen a change (the store queues it during
   * apply, so the next Ready already uses it): a lookup per Ready would cost
   * more than the rest of maybeSnapshot.
   */
  private raftConfig(): ClusterRaftConfig {
    const w = this.clusterWatch;
    if (w === undefined || w.pending > 0 || w.closed) {
      w?.close();
      // Watch first, then read: a change applied after the read is caught next time.
      this.clusterWatch = this.opts.store.watch({ kinds: ["cluster"] });
      const raft = this.opts.store.view((tx) => tx.byName("cluster", DEFAULT_CLUSTER_NAME))?.spec?.raft;
      const cur = this.raftSettings;
      this.raftSettings = {
        snapshotInterval: this.opts.snapshotInterval ?? raft?.snapshotInterval ?? cur.snapshotInterval,
        logEntriesForSlowFollowers: this.opts.logEntriesForSlowFollowers ?? raft?.logEntriesForSlowFollowers ?? cur.logEntriesForSlowFollowers,
      };
    }
    return this.raftSettings;
  }

  private async takeSnapshot(
    index: number,
    appliedBytes: number,
    membership: ReturnType<Membership["toSnapshot"]>,
    store: ReturnType<MemoryStore["save"]>,
    catchUpEntries: number,
  ): Promise<void> {
    try {
      const t0 = performance.now();
      const data = await encodeSnapshotSliced(membership, store);
      const t1 = performance.now();
      // A snapshot from the leader installed meanwhile supersedes this one.
      if (this.stopped || this.failed || index <= this.snapshotIndex) return;
      let snap: Snapshot;
      try {
        snap = this.core.snapshotTaken(index, data, catchUpEntries);
      } catch (err) {
        // The core restored a newer snapshot from the leader since the capture.
        log.debug({ index, err: (err as Error).message }, "snapshot superseded");
        return;
      }
      await this.storage.saveSnapshot(snap);
      const t2 = performance.now();
      if (snap.metadata.index >= this.snapshotIndex) {
        this.snapshotIndex = snap.metadata.index;
        this.snapshotAppliedBytes = appliedBytes;
        this.lastSnapshotBytes = data.length;
      }
      await this.storage.compact(snap.metadata.index);
      const ms = (a: number, b: number): number => Math.round(b - a);
      log.debug({ index: snap.metadata.index, bytes: data.length, encodeMs: ms(t0, t1), saveMs: ms(t1, t2), compactMs: ms(t2, performance.now()) }, "took snapshot");
    } catch (err) {
      if (!this.stopped) this.fail(err);
    }
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
    this.settleConf(err);
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
