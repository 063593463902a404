// Raft messages between the pure core's plain data and etcd's raftpb wire
// shape (what SwarmKit's Raft service carries). Field numbers are raftpb's;
// byte payloads are shared, not copied.
import { raftpb } from "../../../../shared/api/index.js";
import type { ConfState, Entry, EntryType, Message, MessageType, Snapshot } from "../core/index.js";

const EMPTY = new Uint8Array(0);

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function toWireEntry(e: Entry): raftpb.Entry {
  return { Type: e.type as number as raftpb.EntryType, Term: e.term, Index: e.index, Data: toBuffer(e.data) };
}

function fromWireEntry(e: raftpb.Entry): Entry {
  return { type: e.Type as number as EntryType, term: e.Term, index: e.Index, data: e.Data ?? EMPTY };
}

function toWireConfState(cs: ConfState): raftpb.ConfState {
  return { voters: [...cs.voters], learners: [...cs.learners], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

export function toWireSnapshotMessage(s: Snapshot): raftpb.Snapshot {
  return {
    data: toBuffer(s.data),
    metadata: { index: s.metadata.index, term: s.metadata.term, confState: toWireConfState(s.metadata.confState) },
  };
}

export function fromWireSnapshotMessage(s: raftpb.Snapshot): Snapshot {
  const md = s.metadata;
  return {
    data: s.data ?? EMPTY,
    metadata: {
      index: md?.index ?? 0,
      term: md?.term ?? 0,
      confState: { voters: [...(md?.confState?.voters ?? [])], learners: [...(md?.confState?.learners ?? [])] },
    },
  };
}

export function toWireMessage(m: Message): raftpb.Message {
  return {
    type: m.type as number as raftpb.MessageType,
    to: m.to,
    from: m.from,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map(toWireEntry),
    commit: m.commit,
    snapshot: m.snapshot ? toWireSnapshotMessage(m.snapshot) : undefined,
    reject: m.reject,
    rejectHint: m.rejectHint,
    context: toBuffer(m.context),
    vote: 0,
    responses: [],
    appliedSnapshotIndex: 0,
  };
}

/** A raftpb snapshot with no metadata and no data is raftpb's "empty" value (Go always encodes it). */
function isEmptySnapshot(s: raftpb.Snapshot | undefined): boolean {
  if (!s) return true;
  return (s.data?.length ?? 0) === 0 && (s.metadata?.index ?? 0) === 0;
}

export function fromWireMessage(m: raftpb.Message): Message {
  return {
    type: m.type as number as MessageType,
    to: m.to,
    from: m.from,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map(fromWireEntry),
    commit: m.commit,
    snapshot: isEmptySnapshot(m.snapshot) ? null : fromWireSnapshotMessage(m.snapshot!),
    reject: m.reject,
    rejectHint: m.rejectHint,
    context: m.context ?? EMPTY,
  };
}
