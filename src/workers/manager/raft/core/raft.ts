// The raft consensus core, in the shape of etcd's raft/RawNode: a pure state
// machine driven by tick(), step() and proposals, whose effects come out as a
// Ready batch that the application persists, sends and applies, then
// acknowledges with advance(). No timers, no I/O, no randomness of its own.
import { SwarmError } from "../../../../shared/errors.js";
import { decodeConfChange, encodeConfChange } from "./confchange.js";
import { RaftLog, TERM_UNAVAILABLE } from "./log.js";
import {
  NO_CONTEXT,
  NO_ENTRIES,
  TRANSFER_CONTEXT,
  decodeReadSeq,
  encodeReadSeq,
  isLocalMessage,
  isTransferContext,
  newMessage,
} from "./messages.js";
import { Progress, ProgressState } from "./progress.js";
import { VoteResult, quorumSize, quorumValue, tallyVotes } from "./quorum.js";
import type { RandomSource } from "./random.js";
import {
  ConfChangeType,
  EntryType,
  MessageType,
  NONE,
  StateRole,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type MemberId,
  type Message,
  type ProgressStatus,
  type ReadState,
  type Ready,
  type Snapshot,
  type SoftState,
  type Status,
} from "./types.js";

export interface RaftConfig {
  /** This member's id (non-zero). */
  id: MemberId;
  /** The seeded source for randomized election timeouts. */
  random: RandomSource;
  /** Ticks without hearing from a leader before campaigning (randomized in [E, 2E)). Default 10. */
  electionTick?: number;
  /** Ticks between leader heartbeats. Default 1. */
  heartbeatTick?: number;
  /** Pre-vote before a real election. Default true. */
  preVote?: boolean;
  /** Leader steps down without recent contact from a quorum; voters honor the leader lease. Default true. */
  checkQuorum?: boolean;
  /** Max bytes of entry data per append message (one larger entry still goes alone). Default 1 MiB. */
  maxSizePerMsg?: number;
  /** Max append messages in flight per follower. Default 256. */
  maxInflightMsgs?: number;
  /** Max bytes in flight per follower, 0 = unbounded. Default 0. */
  maxInflightBytes?: number;
  /** Max payload bytes of uncommitted entries on a leader, 0 = unbounded. Default 0. */
  maxUncommittedEntriesSize?: number;
  /** Max bytes of committed entries per Ready, 0 = unbounded. Default 64 MiB. */
  maxCommittedSizePerReady?: number;
  /** Entries kept behind a snapshot for slow followers. Default 500. */
  snapshotCatchUpEntries?: number;
  /** A leader that applies its own removal steps down. Default true. */
  stepDownOnRemoval?: boolean;
  /** Followers drop proposals instead of forwarding them to the leader. Default false. */
  disableProposalForwarding?: boolean;
  /** Index the application has already applied (restart). Default: the snapshot's index. */
  applied?: number;
}

/** Durable state the core restarts from, as the storage persisted it. */
export interface RaftInitialState {
  hardState?: HardState;
  snapshot?: Snapshot | null;
  /** Entries after the snapshot, in order. */
  entries?: Entry[];
  /** Bootstrap of a brand new cluster (only when the storage is empty). */
  peers?: { id: MemberId; context?: Uint8Array }[];
}

export const RAFT_DEFAULTS = Object.freeze({
  electionTick: 10,
  heartbeatTick: 1,
  preVote: true,
  checkQuorum: true,
  maxSizePerMsg: 1 << 20,
  maxInflightMsgs: 256,
  maxInflightBytes: 0,
  maxUncommittedEntriesSize: 0,
  maxCommittedSizePerReady: 64 << 20,
  snapshotCatchUpEntries: 500,
  stepDownOnRemoval: true,
  disableProposalForwarding: false,
});

const enum CampaignType {
  PreElection = 0,
  Election = 1,
  Transfer = 2,
}

interface PendingRead {
  index: number;
  seq: number;
  from: MemberId;
  context: Uint8Array;
}

interface ConfPoint {
  index: number;
  voters: MemberId[];
  learners: MemberId[];
}

const EMPTY_DATA = new Uint8Array(0);

export class RaftCore {
  readonly id: MemberId;
  readonly log = new RaftLog();

  term = 0;
  vote: MemberId = NONE;
  lead: MemberId = NONE;
  role: StateRole = StateRole.Follower;
  leadTransferee: MemberId = NONE;

  // Configuration.
  private readonly rand: RandomSource;
  readonly electionTimeout: number;
  readonly heartbeatTimeout: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly maxMsgSize: number;
  private readonly maxInflight: number;
  private readonly maxInflightBytes: number;
  private readonly maxUncommittedSize: number;
  private readonly maxCommittedSizePerReady: number;
  private readonly catchUpEntries: number;
  private readonly stepDownOnRemoval: boolean;
  private readonly disableForwarding: boolean;

  // Timers (in ticks).
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;

  // Membership and progress.
  private readonly prs = new Map<MemberId, Progress>();
  private progressList: Progress[] = [];
  private voters: MemberId[] = [];
  private learners: MemberId[] = [];
  private isVoter = false;
  private readonly votes = new Map<MemberId, boolean>();
  private pendingConfIndex = 0;
  private uncommittedSize = 0;
  private scratch = new Float64Array(8);
  /** Conf states applied after the latest snapshot, to label later snapshots. */
  private confHistory: ConfPoint[] = [];
  private snapshotConf: ConfState = { voters: [], learners: [] };

  // Reads.
  private readSeq = 0;
  private readSeqContext: Uint8Array = NO_CONTEXT;
  private pendingReads: PendingRead[] = [];
  private pendingReadIndexMessages: Message[] = [];
  private readStates: ReadState[] = [];

  // Snapshots.
  /** The latest snapshot, sent to followers whose entries are compacted. */
  private latestSnapshot: Snapshot | null = null;
  /** A snapshot received from the leader and not yet handed out. */
  private unstableSnapshot: Snapshot | null = null;

  // Output.
  private msgs: Message[] = [];
  private needBcastCommit = false;
  private needBcastAppend = false;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private readyPending = false;
  private readyLastEntryIndex = 0;
  private readyLastEntryTerm = 0;
  private readyCommitted: Entry[] = NO_ENTRIES;
  private readySnapshot: Snapshot | null = null;

  constructor(config: RaftConfig, initial: RaftInitialState = {}) {
    if (!config.id) throw new SwarmError("INVALID_ARGUMENT", "raft: member id must be non-zero");
    this.id = config.id;
    this.rand = config.random;
    this.electionTimeout = config.electionTick ?? RAFT_DEFAULTS.electionTick;
    this.heartbeatTimeout = config.heartbeatTick ?? RAFT_DEFAULTS.heartbeatTick;
    if (this.heartbeatTimeout <= 0 || this.electionTimeout <= this.heartbeatTimeout) {
      throw new SwarmError(
        "INVALID_ARGUMENT",
        `raft: election tick (${this.electionTimeout}) must exceed heartbeat tick (${this.heartbeatTimeout}) > 0`,
      );
    }
    this.preVote = config.preVote ?? RAFT_DEFAULTS.preVote;
    this.checkQuorum = config.checkQuorum ?? RAFT_DEFAULTS.checkQuorum;
    this.maxMsgSize = config.maxSizePerMsg ?? RAFT_DEFAULTS.maxSizePerMsg;
    this.maxInflight = config.maxInflightMsgs ?? RAFT_DEFAULTS.maxInflightMsgs;
    this.maxInflightBytes = config.maxInflightBytes ?? RAFT_DEFAULTS.maxInflightBytes;
    this.maxUncommittedSize = config.maxUncommittedEntriesSize ?? RAFT_DEFAULTS.maxUncommittedEntriesSize;
    this.maxCommittedSizePerReady = config.maxCommittedSizePerReady ?? RAFT_DEFAULTS.maxCommittedSizePerReady;
    this.catchUpEntries = config.snapshotCatchUpEntries ?? RAFT_DEFAULTS.snapshotCatchUpEntries;
    this.stepDownOnRemoval = config.stepDownOnRemoval ?? RAFT_DEFAULTS.stepDownOnRemoval;
    this.disableForwarding = config.disableProposalForwarding ?? RAFT_DEFAULTS.disableProposalForwarding;
    if (this.maxInflight <= 0) throw new SwarmError("INVALID_ARGUMENT", "raft: maxInflightMsgs must be > 0");

    this.restoreFromStorage(config, initial);
    this.becomeFollower(this.term, NONE);
    this.prevSoft = { leader: this.lead, role: this.role };
    this.prevHard = { term: this.term, vote: this.vote, commit: this.log.committed };
    if (this.bootstrapped) {
      // The bootstrap entries and hard state are not durable yet.
      this.prevHard = { term: 0, vote: NONE, commit: 0 };
    }
  }

  private bootstrapped = false;

  private restoreFromStorage(config: RaftConfig, initial: RaftInitialState): void {
    const snap = initial.snapshot ?? null;
    const hs = initial.hardState;
    const ents = initial.entries ?? [];
    const log = this.log;
    if (snap) {
      log.restore(snap);
      this.latestSnapshot = snap;
      this.snapshotConf = cloneConf(snap.metadata.confState);
      this.applyConfState(snap.metadata.confState);
    }
    for (const e of ents) {
      if (e.index <= log.baseIndex) continue;
      log.append([e]);
    }
    log.stabled = log.lastIndex();
    if (hs) {
      this.term = hs.term;
      this.vote = hs.vote;
      if (hs.commit < log.baseIndex || hs.commit > log.lastIndex()) {
        throw new SwarmError(
          "DATA_LOSS",
          `raft: persisted commit ${hs.commit} is outside the log [${log.baseIndex}, ${log.lastIndex()}]`,
        );
      }
      log.committed = hs.commit;
    }
    if (log.committed < log.baseIndex) log.committed = log.baseIndex;

    const empty = !snap && ents.length === 0 && (!hs || hs.term === 0);
    if (empty && initial.peers && initial.peers.length > 0) {
      // Bootstrap as etcd's RawNode does: one committed AddNode entry per peer at term 1.
      this.term = 1;
      const boot: Entry[] = initial.peers.map((p, i) => ({
        term: 1,
        index: i + 1,
        type: EntryType.ConfChange,
        data: encodeConfChange({ type: ConfChangeType.AddNode, nodeId: p.id, context: p.context ?? EMPTY_DATA }),
      }));
      log.append(boot);
      log.stabled = 0;
      log.committed = boot.length;
      for (const p of initial.peers) this.applyConfChangeInternal({ type: ConfChangeType.AddNode, nodeId: p.id, context: EMPTY_DATA }, 0);
      this.bootstrapped = true;
      return;
    }

    let applied = config.applied ?? log.baseIndex;
    if (applied < log.baseIndex) applied = log.baseIndex;
    if (applied > log.committed) {
      throw new SwarmError("INVALID_ARGUMENT", `raft: applied ${applied} is beyond commit ${log.committed}`);
    }
    // Conf changes the application already applied must be in effect again.
    for (let i = log.baseIndex + 1; i <= applied; i++) {
      const e = log.entryAt(i);
      if (e.type === EntryType.ConfChange) this.applyConfChangeInternal(decodeConfChange(e.data), i);
    }
    log.applied = applied;
    log.applying = applied;
  }

  // -------------------------------------------------------------------------
  // Public API

  /** Advances the logical clock by one tick. */
  tick(): void {
    if (this.role === StateRole.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  /** Feeds a message received from a peer. Local-only types are refused. */
  step(m: Message): void {
    if (isLocalMessage(m.type)) {
      throw new SwarmError("INVALID_ARGUMENT", `raft: message type ${m.type} is local-only and cannot be stepped`);
    }
    if (m.type === MessageType.Prop || m.type === MessageType.ReadIndex) {
      // Forwarded proposals and reads are accepted only from members.
      if (!this.prs.has(m.from) && m.from !== this.id) return;
    }
    try {
      this.stepInternal(m);
    } catch (err) {
      if (err !== DROPPED) throw err;
    }
  }

  /** Starts an election now (if this member may campaign). */
  campaign(): void {
    this.hup(this.preVote ? CampaignType.PreElection : CampaignType.Election);
  }

  /** Proposes one entry; false when the proposal is dropped (no leader, transfer pending, removed, over limit). */
  propose(data: Uint8Array): boolean {
    return this.proposeEntries([{ term: 0, index: 0, type: EntryType.Normal, data }]);
  }

  /** Proposes several entries as one batch (one append). */
  proposeBatch(datas: readonly Uint8Array[]): boolean {
    const ents: Entry[] = new Array(datas.length);
    for (let i = 0; i < datas.length; i++) ents[i] = { term: 0, index: 0, type: EntryType.Normal, data: datas[i]! };
    return this.proposeEntries(ents);
  }

  /** Proposes a single-step membership change; applied when the entry is applied (at advance()). */
  proposeConfChange(cc: ConfChange): boolean {
    return this.proposeEntries([{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) }]);
  }

  /** Asks the leader to hand leadership to `to` (which must be a voter). */
  transferLeadership(to: MemberId): void {
    const m = newMessage(MessageType.TransferLeader, this.id, to, 0);
    this.stepInternal(m);
  }

  /** Requests a linearizable read; the answer arrives as a ReadState carrying ctx. */
  readIndex(ctx: Uint8Array): void {
    const m = newMessage(MessageType.ReadIndex, NONE, this.id, 0);
    m.context = ctx;
    this.stepInternal(m);
  }

  /** The transport could not deliver to `id`: stop streaming to it optimistically. */
  reportUnreachable(id: MemberId): void {
    const m = newMessage(MessageType.Unreachable, this.id, id, 0);
    this.stepInternal(m);
  }

  /** The outcome of sending a snapshot to `id`. */
  reportSnapshotStatus(id: MemberId, ok: boolean): void {
    const m = newMessage(MessageType.SnapStatus, this.id, id, 0);
    m.reject = !ok;
    this.stepInternal(m);
  }

  /**
   * The application has snapshotted its state at `index` (<= applied). The
   * core keeps the snapshot to send to lagging followers and compacts the log
   * up to index − catchUpEntries (default: the configured snapshotCatchUpEntries).
   * Returns the snapshot to persist.
   */
  snapshotTaken(index: number, data: Uint8Array, catchUpEntries = this.catchUpEntries): Snapshot {
    const log = this.log;
    if (index > log.applied) {
      throw new SwarmError("FAILED_PRECONDITION", `raft: snapshot at ${index} is beyond applied ${log.applied}`);
    }
    const cur = this.latestSnapshot;
    if (cur && index <= cur.metadata.index) {
      throw new SwarmError("FAILED_PRECONDITION", `raft: snapshot at ${index} is not newer than ${cur.metadata.index}`);
    }
    const term = log.term(index);
    if (term === TERM_UNAVAILABLE) throw new SwarmError("INTERNAL", `raft: no term for snapshot index ${index}`);
    const conf = this.confAt(index);
    const snap: Snapshot = { metadata: { index, term, confState: conf }, data };
    this.latestSnapshot = snap;
    this.snapshotConf = conf;
    this.confHistory = this.confHistory.filter((p) => p.index > index);
    const compactTo = index - catchUpEntries;
    if (compactTo > log.baseIndex) log.compact(compactTo);
    return snap;
  }

  /** Discards log entries up to `index` (<= applied and <= the latest snapshot). */
  compact(index: number): void {
    const snapIndex = this.latestSnapshot ? this.latestSnapshot.metadata.index : 0;
    if (index > snapIndex) throw new SwarmError("FAILED_PRECONDITION", `raft: compact ${index} beyond snapshot ${snapIndex}`);
    this.log.compact(index);
  }

  hasReady(): boolean {
    this.flushBroadcasts();
    const log = this.log;
    if (this.msgs.length > 0) return true;
    if (log.lastIndex() > log.stabled) return true;
    if (this.unstableSnapshot !== null) return true;
    if (this.readStates.length > 0) return true;
    if (log.committed > log.applying) return true;
    const ph = this.prevHard;
    if (ph.term !== this.term || ph.vote !== this.vote || ph.commit !== log.committed) return true;
    const ps = this.prevSoft;
    return ps.leader !== this.lead || ps.role !== this.role;
  }

  /** The pending work. Call advance() once it has been persisted, sent and applied. */
  ready(): Ready {
    if (this.readyPending) throw new SwarmError("FAILED_PRECONDITION", "raft: ready() called again before advance()");
    this.flushBroadcasts();
    const log = this.log;
    let softState: SoftState | null = null;
    if (this.prevSoft.leader !== this.lead || this.prevSoft.role !== this.role) {
      softState = { leader: this.lead, role: this.role };
      this.prevSoft = softState;
    }
    let hardState: HardState | null = null;
    let mustSync = false;
    const ph = this.prevHard;
    if (ph.term !== this.term || ph.vote !== this.vote || ph.commit !== log.committed) {
      mustSync = ph.term !== this.term || ph.vote !== this.vote;
      hardState = { term: this.term, vote: this.vote, commit: log.committed };
      this.prevHard = hardState;
    }
    const last = log.lastIndex();
    let entries: Entry[] = NO_ENTRIES;
    if (last > log.stabled) {
      entries = log.slice(log.stabled + 1, last + 1, 0);
      mustSync = true;
    }
    this.readyLastEntryIndex = last;
    this.readyLastEntryTerm = log.lastTerm();
    const snapshot = this.unstableSnapshot;
    this.unstableSnapshot = null;
    this.readySnapshot = snapshot;
    if (snapshot) {
      mustSync = true;
      log.applying = snapshot.metadata.index;
    }
    let committedEntries: Entry[] = NO_ENTRIES;
    if (log.committed > log.applying) {
      committedEntries = log.slice(log.applying + 1, log.committed + 1, this.maxCommittedSizePerReady);
      log.applying = committedEntries[committedEntries.length - 1]!.index;
    }
    this.readyCommitted = committedEntries;
    const messages = this.msgs;
    this.msgs = [];
    const readStates = this.readStates;
    if (readStates.length > 0) this.readStates = [];
    this.readyPending = true;
    return { softState, hardState, entries, snapshot, committedEntries, messages, readStates, mustSync };
  }

  /**
   * Acknowledges the last Ready: its entries, hard state and snapshot are
   * durable, its messages sent, its committed entries applied. Conf changes
   * among them take effect now.
   */
  advance(): void {
    if (!this.readyPending) throw new SwarmError("FAILED_PRECONDITION", "raft: advance() without a ready()");
    this.readyPending = false;
    const log = this.log;
    if (this.readySnapshot) {
      const idx = this.readySnapshot.metadata.index;
      if (log.applied < idx) log.applied = idx;
      this.readySnapshot = null;
    }
    // Entries count as durable only if the log was not rewritten since ready().
    const li = this.readyLastEntryIndex;
    if (li > log.stabled && log.term(li) === this.readyLastEntryTerm) log.stabled = li;
    if (log.stabled > log.lastIndex()) log.stabled = log.lastIndex();

    const committed = this.readyCommitted;
    this.readyCommitted = NO_ENTRIES;
    for (let i = 0; i < committed.length; i++) {
      const e = committed[i]!;
      if (e.index <= log.applied) continue;
      log.applied = e.index;
      if (e.type === EntryType.ConfChange) {
        let cc: ConfChange;
        try {
          cc = decodeConfChange(e.data);
        } catch (err) {
          throw new SwarmError("DATA_LOSS", `raft: undecodable conf change at index ${e.index}`, { cause: err });
        }
        this.applyConfChangeInternal(cc, e.index);
      } else if (this.role === StateRole.Leader && this.uncommittedSize > 0) {
        this.uncommittedSize = Math.max(0, this.uncommittedSize - e.data.length);
      }
    }
    if (log.applying < log.applied) log.applying = log.applied;

    // The leader's own log counts towards commit only once durable.
    if (this.role === StateRole.Leader) {
      const self = this.prs.get(this.id);
      if (self && self.maybeUpdate(log.stabled) && this.maybeCommit()) this.needBcastCommit = true;
    }
  }

  status(): Status {
    const progress: Record<string, ProgressStatus> = {};
    if (this.role === StateRole.Leader) {
      for (const pr of this.progressList) {
        progress[String(pr.id)] = {
          match: pr.match,
          next: pr.next,
          state: pr.state === ProgressState.Probe ? "probe" : pr.state === ProgressState.Replicate ? "replicate" : "snapshot",
          paused: pr.isPaused(),
          inflight: pr.inflights.count,
          recentActive: pr.recentActive,
          learner: pr.isLearner,
          pendingSnapshot: pr.pendingSnapshot,
        };
      }
    }
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      firstIndex: this.log.firstIndex(),
      role: roleName(this.role),
      leader: this.lead,
      leadTransferee: this.leadTransferee,
      confState: { voters: [...this.voters], learners: [...this.learners] },
      progress,
    };
  }

  confState(): ConfState {
    return { voters: [...this.voters], learners: [...this.learners] };
  }

  /** The latest snapshot known to the core (received, taken, or restored from). */
  snapshot(): Snapshot | null {
    return this.latestSnapshot;
  }

  // -------------------------------------------------------------------------
  // Ticks

  private tickElection(): void {
    this.electionElapsed++;
    if (this.isVoter && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(this.preVote ? CampaignType.PreElection : CampaignType.Election);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.checkQuorumActive();
      if (this.role === StateRole.Leader && this.leadTransferee !== NONE) this.leadTransferee = NONE;
    }
    if (this.role !== StateRole.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  private checkQuorumActive(): void {
    let active = 0;
    for (let i = 0; i < this.progressList.length; i++) {
      const pr = this.progressList[i]!;
      if (pr.id === this.id) {
        if (!pr.isLearner) active++;
        continue;
      }
      if (pr.recentActive && !pr.isLearner) active++;
      pr.recentActive = false;
    }
    if (active < quorumSize(this.voters.length)) this.becomeFollower(this.term, NONE);
  }

  // -------------------------------------------------------------------------
  // Role transitions

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTimeout + this.rand.intn(this.electionTimeout);
    this.leadTransferee = NONE;
    this.votes.clear();
    const last = this.log.lastIndex();
    for (let i = 0; i < this.progressList.length; i++) {
      const pr = this.progressList[i]!;
      pr.becomeProbe();
      pr.match = 0;
      pr.next = last + 1;
      pr.recentActive = false;
      pr.readAck = 0;
      if (pr.id === this.id) {
        pr.match = this.log.stabled;
        pr.recentActive = true;
      }
    }
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.pendingReads = [];
    this.pendingReadIndexMessages = [];
    this.readSeqContext = NO_CONTEXT;
    this.needBcastAppend = false;
    this.needBcastCommit = false;
  }

  private becomeFollower(term: number, lead: MemberId): void {
    this.reset(term);
    this.lead = lead;
    this.role = StateRole.Follower;
  }

  private becomePreCandidate(): void {
    if (this.role === StateRole.Leader) throw new Error("raft: invalid transition leader -> pre-candidate");
    this.votes.clear();
    this.lead = NONE;
    this.role = StateRole.PreCandidate;
  }

  private becomeCandidate(): void {
    if (this.role === StateRole.Leader) throw new Error("raft: invalid transition leader -> candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = StateRole.Candidate;
  }

  private becomeLeader(): void {
    if (this.role === StateRole.Follower) throw new Error("raft: invalid transition follower -> leader");
    this.reset(this.term);
    this.lead = this.id;
    this.role = StateRole.Leader;
    const self = this.prs.get(this.id);
    if (self) self.becomeReplicate();
    // The empty entry of this term commits everything before it; no conf
    // change is accepted until it is applied (the single-step change fix).
    this.appendEntries([{ term: 0, index: 0, type: EntryType.Normal, data: EMPTY_DATA }], false);
    this.pendingConfIndex = this.log.lastIndex();
    this.needBcastAppend = true;
  }

  private hup(t: CampaignType): void {
    if (this.role === StateRole.Leader) return;
    if (!this.isVoter) return;
    if (this.unstableSnapshot !== null || this.readySnapshot !== null) return;
    const log = this.log;
    // Committed but unapplied conf changes might change who may campaign.
    for (let i = Math.max(log.applied + 1, log.firstIndex()); i <= log.committed; i++) {
      if (log.entryAt(i).type === EntryType.ConfChange) return;
    }
    this.campaignAs(t);
  }

  private campaignAs(t: CampaignType): void {
    let term: number;
    let voteType: MessageType;
    if (t === CampaignType.PreElection) {
      this.becomePreCandidate();
      voteType = MessageType.PreVote;
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = MessageType.Vote;
      term = this.term;
    }
    if (this.poll(this.id, true) === VoteResult.Won) {
      // A single voter wins at once.
      if (t === CampaignType.PreElection) this.campaignAs(CampaignType.Election);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (let i = 0; i < this.voters.length; i++) {
      const id = this.voters[i]!;
      if (id === this.id) continue;
      const m = newMessage(voteType, id, this.id, term);
      m.index = lastIndex;
      m.logTerm = lastTerm;
      if (t === CampaignType.Transfer) m.context = TRANSFER_CONTEXT;
      this.msgs.push(m);
    }
  }

  private poll(id: MemberId, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return tallyVotes(this.voters, this.votes);
  }

  // -------------------------------------------------------------------------
  // Step

  private stepInternal(m: Message): void {
    if (m.term === 0) {
      // Local message.
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = isTransferContext(m.context);
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        // Within the lease of a live leader, higher-term campaigns are ignored.
        if (!force && inLease) return;
      }
      if (m.type === MessageType.PreVote) {
        // Never changes our term.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // A granted pre-vote carries the future term; nobody's term changes.
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.App)) {
        // Tell a stale leader (or a node stuck at a lower term) about our term.
        this.send(newMessage(MessageType.AppResp, m.from, this.id, this.term));
      } else if (m.type === MessageType.PreVote) {
        const r = newMessage(MessageType.PreVoteResp, m.from, this.id, this.term);
        r.reject = true;
        this.send(r);
      }
      return;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(this.preVote ? CampaignType.PreElection : CampaignType.Election);
        return;
      case MessageType.Vote:
      case MessageType.PreVote: {
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === MessageType.PreVote && m.term > this.term);
        const respType = m.type === MessageType.Vote ? MessageType.VoteResp : MessageType.PreVoteResp;
        if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
          // The grant echoes the request's term (a pre-vote's is in the future).
          this.send(newMessage(respType, m.from, this.id, m.term));
          if (m.type === MessageType.Vote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          const r = newMessage(respType, m.from, this.id, this.term);
          r.reject = true;
          this.send(r);
        }
        return;
      }
    }
    switch (this.role) {
      case StateRole.Leader:
        this.stepLeader(m);
        return;
      case StateRole.Follower:
        this.stepFollower(m);
        return;
      default:
        this.stepCandidate(m);
        return;
    }
  }

  private send(m: Message): void {
    this.msgs.push(m);
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Prop:
        if (this.lead === NONE || this.disableForwarding) throw DROPPED;
        // A copy: the received message object may be delivered again (duplicates).
        this.send({ ...m, to: this.lead, term: 0 });
        return;
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TransferLeader:
        if (this.lead === NONE) return;
        this.send({ ...m, to: this.lead, term: 0 });
        return;
      case MessageType.TimeoutNow:
        // Not subject to pre-vote: leadership transfer campaigns at once.
        this.hup(CampaignType.Transfer);
        return;
      case MessageType.ReadIndex:
        if (this.lead === NONE) return;
        this.send({ ...m, to: this.lead, term: 0 });
        return;
      case MessageType.ReadIndexResp:
        this.readStates.push({ index: m.index, context: m.context });
        return;
    }
  }

  private stepCandidate(m: Message): void {
    const myVoteResp = this.role === StateRole.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Prop:
        throw DROPPED;
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case MessageType.PreVoteResp:
      case MessageType.VoteResp: {
        if (m.type !== myVoteResp) return;
        const res = this.poll(m.from, !m.reject);
        if (res === VoteResult.Won) {
          if (this.role === StateRole.PreCandidate) this.campaignAs(CampaignType.Election);
          else this.becomeLeader();
        } else if (res === VoteResult.Lost) {
          // A rejection with a higher term was handled by the term check.
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.Prop:
        // Entries from the network are copied: a duplicated message must not alias log entries.
        this.leaderPropose(m.entries.map(copyForPropose));
        return;
      case MessageType.ReadIndex:
        this.leaderReadIndex(m);
        return;
      case MessageType.TransferLeader:
        this.leaderTransfer(m.from);
        return;
    }
    const pr = this.prs.get(m.from);
    if (pr === undefined) return;
    switch (m.type) {
      case MessageType.AppResp:
        this.handleAppendResponse(m, pr);
        return;
      case MessageType.HeartbeatResp:
        pr.recentActive = true;
        pr.msgAppFlowPaused = false;
        if (pr.match < this.log.lastIndex() || pr.state === ProgressState.Probe) this.maybeSendAppend(pr, true);
        if (m.context.length > 0 && this.pendingReads.length > 0) {
          const seq = decodeReadSeq(m.context);
          if (seq > pr.readAck) {
            pr.readAck = seq;
            this.releaseReads();
          }
        }
        return;
      case MessageType.SnapStatus:
        if (pr.state !== ProgressState.Snapshot) return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // Wait for the next heartbeat response (or ack) before probing again.
        pr.msgAppFlowPaused = true;
        return;
      case MessageType.Unreachable:
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        return;
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    const log = this.log;
    if (m.reject) {
      let nextProbe = m.rejectHint;
      if (m.logTerm > 0) nextProbe = log.findConflictByTerm(m.rejectHint, m.logTerm);
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        this.maybeSendAppend(pr, true);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    const probeAck = pr.state === ProgressState.Probe && m.index === pr.match;
    if (!pr.maybeUpdate(m.index) && !probeAck) return;
    switch (pr.state) {
      case ProgressState.Probe:
        pr.becomeReplicate();
        break;
      case ProgressState.Snapshot:
        if (pr.match + 1 >= log.firstIndex()) {
          pr.becomeProbe();
          pr.becomeReplicate();
        }
        break;
      case ProgressState.Replicate:
        pr.inflights.freeLE(m.index);
        break;
    }
    if (this.maybeCommit()) {
      this.needBcastCommit = true;
    } else if (oldPaused) {
      // A paused follower that acked may lack the latest commit: tell it.
      this.maybeSendAppend(pr, true);
    }
    // Keep the pipeline full while the window allows.
    while (pr.state === ProgressState.Replicate && pr.next <= log.lastIndex() && this.maybeSendAppend(pr, false)) {
      // loop
    }
    if (m.from === this.leadTransferee && pr.match === log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  // -------------------------------------------------------------------------
  // Leader: proposals, replication, commit

  private leaderPropose(ents: Entry[]): void {
    if (ents.length === 0) throw new SwarmError("INVALID_ARGUMENT", "raft: empty proposal");
    if (!this.prs.has(this.id) || this.prs.get(this.id)!.isLearner) throw DROPPED;
    if (this.leadTransferee !== NONE) throw DROPPED;
    const log = this.log;
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i]!;
      if (e.type !== EntryType.ConfChange) continue;
      let refuse = this.pendingConfIndex > log.applied;
      if (!refuse) {
        try {
          const cc = decodeConfChange(e.data);
          refuse = !this.confChangeLeavesVoters(cc);
        } catch {
          refuse = true;
        }
      }
      if (refuse) {
        // As etcd does: the proposal succeeds but carries nothing.
        ents[i] = { term: 0, index: 0, type: EntryType.Normal, data: EMPTY_DATA };
      } else {
        this.pendingConfIndex = log.lastIndex() + i + 1;
      }
    }
    if (!this.appendEntries(ents, true)) throw DROPPED;
    this.needBcastAppend = true;
  }

  private confChangeLeavesVoters(cc: ConfChange): boolean {
    if (cc.type !== ConfChangeType.RemoveNode && cc.type !== ConfChangeType.AddLearnerNode) return true;
    const remaining = this.voters.filter((v) => v !== cc.nodeId);
    return remaining.length > 0;
  }

  /** Assigns index and term and appends; false if over the uncommitted-size limit. */
  private appendEntries(ents: Entry[], checkLimit: boolean): boolean {
    const log = this.log;
    if (checkLimit && this.maxUncommittedSize > 0) {
      let size = 0;
      for (let i = 0; i < ents.length; i++) size += ents[i]!.data.length;
      if (size > 0 && this.uncommittedSize > 0 && this.uncommittedSize + size > this.maxUncommittedSize) return false;
      this.uncommittedSize += size;
    }
    let index = log.lastIndex();
    const term = this.term;
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i]!;
      e.term = term;
      e.index = ++index;
    }
    log.append(ents);
    return true;
  }

  private flushBroadcasts(): void {
    if (this.role !== StateRole.Leader) {
      this.needBcastAppend = false;
      this.needBcastCommit = false;
      return;
    }
    if (this.needBcastCommit) {
      this.needBcastCommit = false;
      this.needBcastAppend = false;
      this.bcastAppend(true);
    } else if (this.needBcastAppend) {
      this.needBcastAppend = false;
      this.bcastAppend(false);
    }
  }

  private bcastAppend(sendIfEmpty: boolean): void {
    const list = this.progressList;
    for (let i = 0; i < list.length; i++) {
      const pr = list[i]!;
      if (pr.id === this.id) continue;
      this.maybeSendAppend(pr, sendIfEmpty, sendIfEmpty);
      while (pr.state === ProgressState.Replicate && pr.next <= this.log.lastIndex() && this.maybeSendAppend(pr, false)) {
        // fill the window
      }
    }
  }

  /** Sends an append (or a snapshot) to pr; false if nothing was sent. */
  private maybeSendAppend(pr: Progress, sendIfEmpty: boolean, commitOnly = false): boolean {
    if (pr.isPaused()) return false;
    const log = this.log;
    const prevIndex = pr.next - 1;
    const prevTerm = log.term(prevIndex);
    if (prevTerm === TERM_UNAVAILABLE) {
      if (prevIndex < log.baseIndex) return this.sendSnapshot(pr);
      // next beyond our log (cannot normally happen): restart probing.
      pr.becomeProbe();
      return false;
    }
    let ents = NO_ENTRIES;
    // A throttled follower gets only empty appends, which still detect loss.
    if (pr.state !== ProgressState.Replicate || !pr.inflights.full()) {
      if (pr.next <= log.lastIndex()) ents = log.slice(pr.next, log.lastIndex() + 1, this.maxMsgSize);
    }
    if (ents.length === 0 && (!sendIfEmpty || (commitOnly && pr.sentCommit >= log.committed))) return false;
    const m = newMessage(MessageType.App, pr.id, this.id, this.term);
    pr.sentCommit = log.committed;
    m.index = prevIndex;
    m.logTerm = prevTerm;
    m.entries = ents;
    m.commit = log.committed;
    this.msgs.push(m);
    let bytes = 0;
    for (let i = 0; i < ents.length; i++) bytes += ents[i]!.data.length;
    pr.sentEntries(ents.length, bytes);
    return true;
  }

  private sendSnapshot(pr: Progress): boolean {
    if (!pr.recentActive) return false;
    const snap = this.latestSnapshot;
    if (snap === null) throw new Error(`raft: member ${pr.id} needs a snapshot but none exists`);
    const m = newMessage(MessageType.Snap, pr.id, this.id, this.term);
    m.snapshot = snap;
    this.msgs.push(m);
    pr.becomeSnapshot(snap.metadata.index);
    return true;
  }

  private bcastHeartbeat(): void {
    const ctx = this.pendingReads.length > 0 ? this.readSeqContext : NO_CONTEXT;
    const list = this.progressList;
    const committed = this.log.committed;
    for (let i = 0; i < list.length; i++) {
      const pr = list[i]!;
      if (pr.id === this.id) continue;
      const m = newMessage(MessageType.Heartbeat, pr.id, this.id, this.term);
      m.commit = pr.match < committed ? pr.match : committed;
      m.context = ctx;
      this.msgs.push(m);
    }
  }

  /** Commits the quorum-replicated index if it is of the current term. */
  private maybeCommit(): boolean {
    const n = this.voters.length;
    if (n === 0) return false;
    if (this.scratch.length < n) this.scratch = new Float64Array(n * 2);
    for (let i = 0; i < n; i++) {
      const pr = this.prs.get(this.voters[i]!)!;
      this.scratch[i] = pr.match;
    }
    const mci = quorumValue(this.scratch, n);
    const log = this.log;
    if (mci <= log.committed || log.term(mci) !== this.term) return false;
    log.commitTo(mci);
    if (this.pendingReadIndexMessages.length > 0) {
      const waiting = this.pendingReadIndexMessages;
      this.pendingReadIndexMessages = [];
      for (const rm of waiting) this.leaderReadIndex(rm);
    }
    return true;
  }

  private sendTimeoutNow(to: MemberId): void {
    this.send(newMessage(MessageType.TimeoutNow, to, this.id, this.term));
  }

  private leaderTransfer(transferee: MemberId): void {
    const pr = this.prs.get(transferee);
    if (pr === undefined || pr.isLearner) return;
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) return; // same target: keep the deadline
      this.leadTransferee = NONE;
    }
    if (transferee === this.id) return; // transfer to self cancels
    // The transfer must finish within one election timeout.
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(transferee);
    else this.maybeSendAppend(pr, true);
  }

  // -------------------------------------------------------------------------
  // Leader: reads

  private leaderReadIndex(m: Message): void {
    const log = this.log;
    if (this.voters.length === 1 && this.isVoter) {
      this.respondRead(m.from, log.committed, m.context);
      return;
    }
    // Until an entry of this term commits, our commit index may be stale.
    if (log.term(log.committed) !== this.term) {
      this.pendingReadIndexMessages.push(m);
      return;
    }
    const seq = ++this.readSeq;
    this.readSeqContext = encodeReadSeq(seq);
    this.pendingReads.push({ index: log.committed, seq, from: m.from, context: m.context });
    const self = this.prs.get(this.id);
    if (self) self.readAck = seq;
    this.bcastHeartbeat();
  }

  private respondRead(from: MemberId, index: number, context: Uint8Array): void {
    if (from === NONE || from === this.id) {
      this.readStates.push({ index, context });
    } else {
      const r = newMessage(MessageType.ReadIndexResp, from, this.id, this.term);
      r.index = index;
      r.context = context;
      this.send(r);
    }
  }

  /** Releases every pending read whose sequence a quorum has acknowledged. */
  private releaseReads(): void {
    const n = this.voters.length;
    if (this.scratch.length < n) this.scratch = new Float64Array(n * 2);
    for (let i = 0; i < n; i++) this.scratch[i] = this.prs.get(this.voters[i]!)!.readAck;
    const acked = quorumValue(this.scratch, n);
    let k = 0;
    const reads = this.pendingReads;
    while (k < reads.length && reads[k]!.seq <= acked) {
      const r = reads[k]!;
      this.respondRead(r.from, r.index, r.context);
      k++;
    }
    if (k > 0) this.pendingReads = reads.slice(k);
  }

  // -------------------------------------------------------------------------
  // Follower: appends, heartbeats, snapshots

  private handleAppend(m: Message): void {
    const log = this.log;
    const r = newMessage(MessageType.AppResp, m.from, this.id, this.term);
    if (m.index < log.committed) {
      r.index = log.committed;
      this.send(r);
      return;
    }
    const lastNew = log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew >= 0) {
      r.index = lastNew;
      this.send(r);
      return;
    }
    // Reject with a hint: the largest index <= min(probe, last) whose term is <= the probe's term.
    const hintIndex = log.findConflictByTerm(Math.min(m.index, log.lastIndex()), m.logTerm);
    const hintTerm = log.term(hintIndex);
    r.index = m.index;
    r.reject = true;
    r.rejectHint = hintIndex;
    r.logTerm = hintTerm === TERM_UNAVAILABLE ? 0 : hintTerm;
    this.send(r);
  }

  private handleHeartbeat(m: Message): void {
    const log = this.log;
    if (m.commit > log.committed) log.commitTo(Math.min(m.commit, log.lastIndex()));
    const r = newMessage(MessageType.HeartbeatResp, m.from, this.id, this.term);
    r.context = m.context;
    this.send(r);
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    const r = newMessage(MessageType.AppResp, m.from, this.id, this.term);
    if (s !== null && this.restore(s)) {
      r.index = this.log.lastIndex();
    } else {
      r.index = this.log.committed;
    }
    this.send(r);
  }

  /** Installs a snapshot from the leader; false if it is stale or already covered. */
  private restore(s: Snapshot): boolean {
    const log = this.log;
    const meta = s.metadata;
    if (meta.index <= log.committed) return false;
    if (this.role !== StateRole.Follower) {
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    const cs = meta.confState;
    // A member refuses a snapshot that says it was removed. A joiner without
    // a config accepts one that predates its addition: the AddNode entry
    // follows in the log after it.
    if (!cs.voters.includes(this.id) && !cs.learners.includes(this.id) && this.prs.has(this.id)) return false;
    if (log.matchTerm(meta.index, meta.term)) {
      // We have the entry: just fast-forward the commit.
      log.commitTo(meta.index);
      return false;
    }
    log.restore(s);
    this.unstableSnapshot = s;
    this.latestSnapshot = s;
    this.snapshotConf = cloneConf(cs);
    this.confHistory = [];
    this.applyConfState(cs);
    return true;
  }

  // -------------------------------------------------------------------------
  // Membership

  private applyConfState(cs: ConfState): void {
    this.prs.clear();
    const last = this.log.lastIndex();
    for (const id of cs.voters) this.addProgress(id, false, last);
    for (const id of cs.learners) if (!this.prs.has(id)) this.addProgress(id, true, last);
    this.rebuildMembership();
  }

  private addProgress(id: MemberId, learner: boolean, last: number): Progress {
    const pr = new Progress(id, learner, this.maxInflight, this.maxInflightBytes);
    pr.next = Math.max(last, 1);
    pr.recentActive = true;
    if (id === this.id) pr.match = this.log.stabled;
    this.prs.set(id, pr);
    return pr;
  }

  private rebuildMembership(): void {
    const list = [...this.prs.values()].sort((a, b) => a.id - b.id);
    this.progressList = list;
    this.voters = list.filter((p) => !p.isLearner).map((p) => p.id);
    this.learners = list.filter((p) => p.isLearner).map((p) => p.id);
    const self = this.prs.get(this.id);
    this.isVoter = self !== undefined && !self.isLearner;
  }

  private applyConfChangeInternal(cc: ConfChange, index: number): void {
    const id = cc.nodeId;
    if (id !== NONE) {
      const pr = this.prs.get(id);
      switch (cc.type) {
        case ConfChangeType.AddNode:
          if (pr === undefined) this.addProgress(id, false, this.log.lastIndex());
          else pr.isLearner = false;
          break;
        case ConfChangeType.AddLearnerNode:
          if (pr === undefined) this.addProgress(id, true, this.log.lastIndex());
          else if (!pr.isLearner && this.voters.length > 1) pr.isLearner = true;
          break;
        case ConfChangeType.RemoveNode:
          if (pr !== undefined && (pr.isLearner || this.voters.length > 1 || !this.voters.includes(id))) this.prs.delete(id);
          break;
        case ConfChangeType.UpdateNode:
          break;
      }
      this.rebuildMembership();
    }
    if (index > 0) {
      this.confHistory.push({ index, voters: [...this.voters], learners: [...this.learners] });
    }
    this.switchToConfig();
  }

  private switchToConfig(): void {
    if (!this.isVoter) {
      if (this.role === StateRole.Leader && this.stepDownOnRemoval) {
        this.becomeFollower(this.term, NONE);
        return;
      }
      if (this.role === StateRole.Candidate || this.role === StateRole.PreCandidate) {
        this.becomeFollower(this.term, NONE);
        return;
      }
    }
    if (this.role !== StateRole.Leader || this.voters.length === 0) return;
    if (this.maybeCommit()) this.needBcastCommit = true;
    else this.needBcastAppend = true;
    if (this.leadTransferee !== NONE && !this.voters.includes(this.leadTransferee)) this.leadTransferee = NONE;
  }

  private confAt(index: number): ConfState {
    let conf: ConfState = this.snapshotConf;
    for (const p of this.confHistory) {
      if (p.index > index) break;
      conf = p;
    }
    return { voters: [...conf.voters], learners: [...conf.learners] };
  }

  // -------------------------------------------------------------------------

  private proposeEntries(ents: Entry[]): boolean {
    try {
      if (this.role === StateRole.Leader) {
        this.leaderPropose(ents);
        return true;
      }
      const m = newMessage(MessageType.Prop, NONE, this.id, 0);
      m.entries = ents;
      this.stepInternal(m);
      return true;
    } catch (err) {
      if (err === DROPPED) return false;
      throw err;
    }
  }
}

/** Internal signal for a dropped proposal (caught by the propose methods). */
const DROPPED = new SwarmError("UNAVAILABLE", "raft: proposal dropped");

export function isProposalDropped(err: unknown): boolean {
  return err === DROPPED;
}

function copyForPropose(e: Entry): Entry {
  return { term: 0, index: 0, type: e.type, data: e.data };
}

function cloneConf(cs: ConfState): ConfState {
  return { voters: [...cs.voters], learners: [...cs.learners] };
}

function roleName(r: StateRole): Status["role"] {
  switch (r) {
    case StateRole.Leader:
      return "leader";
    case StateRole.Candidate:
      return "candidate";
    case StateRole.PreCandidate:
      return "precandidate";
    default:
      return "follower";
  }
}
