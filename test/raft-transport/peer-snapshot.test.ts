// A snapshot send is bounded by progress, not by a total time: a receiver
// that takes longer than snapshotTimeoutMs in all, but keeps reading, gets the
// whole snapshot; one that stops reading is given up on after the timeout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Server, ServerCredentials, credentials, type ServerReadableStream, type sendUnaryData } from "@grpc/grpc-js";
import { RaftService, raftpb, type StreamRaftMessageRequest, type StreamRaftMessageResponse } from "../../src/shared/api/index.js";
import { MessageType, type Message } from "../../src/workers/manager/raft/core/index.js";
import { newMessage } from "../../src/workers/manager/raft/core/messages.js";
import { Peer, DEFAULT_PEER_OPTIONS, type PeerEvents } from "../../src/workers/manager/raft/transport/peer.js";

const SNAPSHOT_TIMEOUT_MS = 1000;
const CHUNK_BYTES = 16 * 1024;

/** A Raft server whose snapshot streams read one chunk every `perChunkMs`, or stop after the first (`stall`). */
async function startReceiver(mode: { perChunkMs: number } | "stall") {
  const received = { chunks: 0, bytes: 0, completed: 0 };
  const server = new Server();
  server.addService(RaftService, {
    streamRaftMessage(call: ServerReadableStream<StreamRaftMessageRequest, StreamRaftMessageResponse>, cb: sendUnaryData<StreamRaftMessageResponse>) {
      let snapshot = false;
      call.on("data", (req: StreamRaftMessageRequest) => {
        if (req.message?.type !== raftpb.MessageType.MsgSnap) return;
        snapshot = true;
        received.chunks++;
        received.bytes += req.message.snapshot?.data?.length ?? 0;
        call.pause();
        if (mode !== "stall") setTimeout(() => call.resume(), mode.perChunkMs);
      });
      call.on("end", () => {
        if (snapshot) received.completed++;
        cb(null, {});
      });
      call.on("error", () => undefined);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { addr: `127.0.0.1:${port}`, received, stop: () => server.forceShutdown() };
}

function snapshotMessage(bytes: number): Message {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = i & 0xff;
  return { ...newMessage(MessageType.Snap, 2, 1, 3), snapshot: { metadata: { index: 100, term: 3, confState: { voters: [1, 2], learners: [] } }, data } };
}

async function sendOne(addr: string, m: Message): Promise<{ ok: boolean; ms: number }> {
  let report!: (ok: boolean) => void;
  const outcome = new Promise<boolean>((resolve) => (report = resolve));
  const events: PeerEvents = {
    reportUnreachable: () => undefined,
    reportSnapshotStatus: (_id, ok) => report(ok),
    nodeRemoved: () => undefined,
  };
  const peer = new Peer(2, addr, credentials.createInsecure(), events, {
    ...DEFAULT_PEER_OPTIONS,
    snapshotTimeoutMs: SNAPSHOT_TIMEOUT_MS,
    maxMessageBytes: CHUNK_BYTES,
  });
  const t0 = Date.now();
  try {
    peer.enqueue(m);
    const ok = await outcome;
    return { ok, ms: Date.now() - t0 };
  } finally {
    await peer.close();
  }
}

test("a snapshot that takes longer than snapshotTimeoutMs in all, with steady progress, arrives whole", async () => {
  // About 200 chunks at 10 ms each: some 2 s, twice the timeout.
  const rx = await startReceiver({ perChunkMs: 10 });
  try {
    const m = snapshotMessage(200 * (CHUNK_BYTES - 1024));
    const { ok, ms } = await sendOne(rx.addr, m);
    assert.equal(ok, true, "raft is told the snapshot arrived");
    assert.ok(ms > SNAPSHOT_TIMEOUT_MS, `the send took ${ms} ms, longer than the timeout`);
    assert.equal(rx.received.completed, 1);
    assert.equal(rx.received.bytes, m.snapshot!.data.length);
    assert.ok(rx.received.chunks > 100, `sent in ${rx.received.chunks} chunks`);
  } finally {
    rx.stop();
  }
});

test("a receiver that stops reading is given up on after snapshotTimeoutMs without progress", async () => {
  const rx = await startReceiver("stall");
  try {
    const { ok, ms } = await sendOne(rx.addr, snapshotMessage(400 * CHUNK_BYTES));
    assert.equal(ok, false, "raft is told the snapshot failed");
    assert.ok(ms >= SNAPSHOT_TIMEOUT_MS, `gave up after ${ms} ms, not before the timeout`);
    assert.ok(ms < 30_000, `gave up after ${ms} ms`);
    assert.equal(rx.received.completed, 0);
  } finally {
    rx.stop();
  }
});
