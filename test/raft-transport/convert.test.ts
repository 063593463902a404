import { test } from "node:test";
import assert from "node:assert/strict";
import { ProcessRaftMessageRequest, StreamRaftMessageRequest, raftpb } from "../../src/shared/api/index.js";
import { EntryType, MessageType, type Message } from "../../src/workers/manager/raft/core/index.js";
import { fromWireMessage, toWireMessage, splitSnapshot, SnapshotAssembler } from "../../src/workers/manager/raft/transport/index.js";
import { GRPC_MAX_MSG_SIZE } from "../../src/shared/grpc-limits.js";

function msg(over: Partial<Message>): Message {
  return {
    type: MessageType.App,
    to: 2,
    from: 1,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    snapshot: null,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(0),
    ...over,
  };
}

function roundTrip(m: Message): Message {
  const bytes = ProcessRaftMessageRequest.encode({ message: toWireMessage(m) }).finish();
  return fromWireMessage(ProcessRaftMessageRequest.decode(bytes).message!);
}

/** Compares with byte arrays as plain arrays (Buffer vs Uint8Array). */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return [...v];
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

test("core messages survive the raftpb wire format", () => {
  const big = 2 ** 48 - 7;
  const cases: Message[] = [
    msg({
      type: MessageType.App,
      to: big,
      from: 3,
      term: 7,
      logTerm: 6,
      index: 41,
      commit: 40,
      entries: [
        { term: 6, index: 42, type: EntryType.Normal, data: new Uint8Array([1, 2, 3]) },
        { term: 7, index: 43, type: EntryType.ConfChange, data: new Uint8Array([8, 0, 16, 1]) },
        { term: 7, index: 44, type: EntryType.Normal, data: new Uint8Array(0) },
      ],
    }),
    msg({ type: MessageType.AppResp, reject: true, rejectHint: 17, index: 20, logTerm: 3, term: 9 }),
    msg({ type: MessageType.Heartbeat, commit: 5, context: new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]) }),
    msg({ type: MessageType.PreVote, term: 12, logTerm: 11, index: 99 }),
    msg({ type: MessageType.TimeoutNow, term: 3 }),
    msg({
      type: MessageType.Snap,
      term: 4,
      snapshot: { metadata: { index: 1000, term: 4, confState: { voters: [1, 2, big], learners: [5] } }, data: new Uint8Array([9, 9, 9]) },
    }),
  ];
  for (const m of cases) assert.deepEqual(plain(roundTrip(m)), plain(m), `message type ${m.type}`);
});

test("wire field numbers are raftpb's", () => {
  // type=3 (MsgApp), to=2, from=1, term=5, logTerm=4, index=9, commit=8, reject, rejectHint=7, context.
  const w = toWireMessage(msg({ type: MessageType.App, term: 5, logTerm: 4, index: 9, commit: 8, reject: true, rejectHint: 7, context: new Uint8Array([0xaa]) }));
  const bytes = [...raftpb.Message.encode(w).finish()];
  assert.deepEqual(bytes, [0x08, 3, 0x10, 2, 0x18, 1, 0x20, 5, 0x28, 4, 0x30, 9, 0x40, 8, 0x50, 1, 0x58, 7, 0x62, 1, 0xaa]);
  const e = toWireMessage(msg({ entries: [{ term: 2, index: 3, type: EntryType.ConfChange, data: new Uint8Array([7]) }] }));
  const eb = [...raftpb.Message.encode(e).finish()];
  // field 7 (entries), Entry{1: Type, 2: Term, 3: Index, 4: Data}
  assert.deepEqual(eb.slice(eb.indexOf(0x3a)), [0x3a, 9, 0x08, 1, 0x10, 2, 0x18, 3, 0x22, 1, 7]);
});

test("snapshots above the gRPC limit split into chunks that reassemble exactly", () => {
  const data = new Uint8Array(9 * 1024 * 1024 + 123);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
  const m = msg({ type: MessageType.Snap, term: 3, snapshot: { metadata: { index: 77, term: 3, confState: { voters: [1, 2, 3], learners: [] } }, data } });
  const chunks = splitSnapshot(toWireMessage(m));
  assert.equal(chunks.length, 3);
  for (const c of chunks) {
    assert.ok(StreamRaftMessageRequest.encode({ message: c }).finish().length <= GRPC_MAX_MSG_SIZE);
    assert.equal(c.snapshot!.metadata!.index, 77, "every chunk carries the same index");
  }
  const asm = new SnapshotAssembler();
  for (const c of chunks) {
    // through the wire, as the receiver sees them
    const decoded = StreamRaftMessageRequest.decode(StreamRaftMessageRequest.encode({ message: c }).finish()).message!;
    assert.ok(!asm.pending || asm.continues(decoded));
    asm.add(decoded);
  }
  const whole = fromWireMessage(asm.take()!);
  assert.equal(asm.pending, false);
  assert.deepEqual(whole.snapshot!.metadata, m.snapshot!.metadata);
  assert.equal(Buffer.compare(Buffer.from(whole.snapshot!.data), Buffer.from(data)), 0);

  // A small snapshot is one message; a chunk of another snapshot does not continue this one.
  const small = toWireMessage(msg({ type: MessageType.Snap, snapshot: { metadata: { index: 5, term: 1, confState: { voters: [1], learners: [] } }, data: new Uint8Array(10) } }));
  assert.equal(splitSnapshot(small).length, 1);
  asm.add(small);
  assert.equal(asm.continues({ ...small, snapshot: { ...small.snapshot!, metadata: { ...small.snapshot!.metadata!, index: 6 } } }), false);
});
