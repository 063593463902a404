// Raft's data shapes, shared by the pure core, the WAL/snapshot storage and
// the transport. Terms, indexes and member IDs are plain numbers: member IDs
// are drawn below 2^53, and an index reaching 2^53 is beyond any real log.

export type MemberId = number;

/** No member: the vote of a node that has not voted, the leader when unknown. */
export const NONE: MemberId = 0;

export const enum EntryType {
  Normal = 0,
  ConfChange = 1,
}

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

export interface HardState {
  term: number;
  vote: MemberId;
  commit: number;
}

export interface ConfState {
  voters: MemberId[];
  learners: MemberId[];
}

export interface SnapshotMetadata {
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  metadata: SnapshotMetadata;
  data: Uint8Array;
}

export const EMPTY_HARD_STATE: Readonly<HardState> = Object.freeze({ term: 0, vote: NONE, commit: 0 });

// ---------------------------------------------------------------------------
// Messages and the Ready batch (added by the core). Messages are plain data
// with the fields of etcd's raftpb.Message, so they structured-clone and map
// 1:1 onto protobuf.

export const enum MessageType {
  Hup = 0,
  Beat = 1,
  Prop = 2,
  App = 3,
  AppResp = 4,
  Vote = 5,
  VoteResp = 6,
  Snap = 7,
  Heartbeat = 8,
  HeartbeatResp = 9,
  Unreachable = 10,
  SnapStatus = 11,
  CheckQuorum = 12,
  TransferLeader = 13,
  TimeoutNow = 14,
  ReadIndex = 15,
  ReadIndexResp = 16,
  PreVote = 17,
  PreVoteResp = 18,
}

export interface Message {
  type: MessageType;
  to: MemberId;
  from: MemberId;
  term: number;
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  snapshot: Snapshot | null;
  reject: boolean;
  rejectHint: number;
  context: Uint8Array;
}

export const enum StateRole {
  Follower = 0,
  Candidate = 1,
  Leader = 2,
  PreCandidate = 3,
}

export const enum ConfChangeType {
  AddNode = 0,
  RemoveNode = 1,
  UpdateNode = 2,
  AddLearnerNode = 3,
}

/** A single-step membership change; `context` is opaque (SwarmKit: a RaftMember). */
export interface ConfChange {
  type: ConfChangeType;
  nodeId: MemberId;
  context: Uint8Array;
}

/** The answer to a readIndex(ctx) call: reads are safe once applied >= index. */
export interface ReadState {
  index: number;
  context: Uint8Array;
}

export interface SoftState {
  leader: MemberId;
  role: StateRole;
}

/** Everything the application must do, in order: persist, send, apply. */
export interface Ready {
  /** Set when leader or role changed since the last Ready. */
  softState: SoftState | null;
  /** Set when term, vote or commit changed; persist before sending messages. */
  hardState: HardState | null;
  /** Entries to append to stable storage (the first may overwrite a persisted suffix). */
  entries: Entry[];
  /** A snapshot received from the leader: persist and apply it before the committed entries. */
  snapshot: Snapshot | null;
  /** Entries to apply to the state machine, in order. */
  committedEntries: Entry[];
  /** Messages to send after the entries, snapshot and hard state are durable. */
  messages: Message[];
  readStates: ReadState[];
  /** True when entries, term or vote changed: an fsync is needed before sending. */
  mustSync: boolean;
}

export interface ProgressStatus {
  match: number;
  next: number;
  state: "probe" | "replicate" | "snapshot";
  paused: boolean;
  inflight: number;
  recentActive: boolean;
  learner: boolean;
  pendingSnapshot: number;
}

export interface Status {
  id: MemberId;
  term: number;
  vote: MemberId;
  commit: number;
  applied: number;
  lastIndex: number;
  firstIndex: number;
  role: "follower" | "candidate" | "precandidate" | "leader";
  leader: MemberId;
  leadTransferee: MemberId;
  confState: ConfState;
  /** Per-member replication progress; empty unless this node is leader. */
  progress: Record<string, ProgressStatus>;
}
