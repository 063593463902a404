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
