// One member of a replication chain built from grpc-js and nothing else: no
// raft, store, codecs or WAL records. The same topology and durability as a
// swarmd write, so its rate is the most any grpc-js raft could reach on this
// host (bench:replication's floor_grpcjs_replication_* lines):
//
//   client --Control.CreateConfig, TLS, unix socket--> leader
//   leader --Raft.StreamRaftMessage, mutual TLS, TCP--> each follower
//   follower: write + fdatasync, then an ack on its own stream to the leader
//   leader: answers once a majority has the write on disk: any two of its own
//   fdatasync and the followers' acks (raft's commit rule, at its cheapest)
//
// Both ends group-commit as raft does: requests that arrive in one loop turn
// go out as one message per follower and one fdatasync, and a follower writes
// and syncs every message it has received before it acks the last one.
//
// Usage: node grpcjs-replication-floor-node.js leader <pki dir> <socket> <raft port> <follower port>...
//        node grpcjs-replication-floor-node.js follower <pki dir> <raft port> <leader raft port> <its index among the followers>
// Prints "ready" on stdout once it listens.
import { Client, Metadata, Server, ServerCredentials, type ClientWritableStream, type handleClientStreamingCall, type handleUnaryCall } from "@grpc/grpc-js";
import { fdatasync, fdatasyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ControlService, CreateConfigResponse, RaftService, encodeToOwnBuffer } from "../../src/shared/api/index.js";
import { CurrentTls } from "../../src/shared/current-tls.js";
import { controlServerOptions } from "../../src/workers/manager/controlapi/server.js";
import { peerChannelOptions, peerCredentials } from "../../src/workers/manager/raft/transport/dial.js";
import { remoteApiServerOptions } from "../../src/workers/manager/remoteapi/server.js";
import { optionalClientCertCredentials } from "../../src/workers/manager/remoteapi/tls-provider.js";

// The paths, options and credentials are swarmd's own, so the floor cannot drift from what it bounds.
const STREAM_PATH = RaftService.streamRaftMessage.path;
const CREATE_CONFIG_PATH = ControlService.createConfig.path;

const [role, pkiDir, ...rest] = process.argv.slice(2);
if ((role !== "leader" && role !== "follower") || !pkiDir) {
  console.error("usage: grpcjs-replication-floor-node.js leader <pki dir> <socket> <raft port> <follower port>... | follower <pki dir> <raft port> <leader raft port> <index>");
  process.exit(2);
}
const tls = {
  caPem: readFileSync(join(pkiDir, "ca.pem"), "utf8"),
  certPem: readFileSync(join(pkiDir, "cert.pem"), "utf8"),
  keyPem: readFileSync(join(pkiDir, "key.pem"), "utf8"),
};
const identity = (b: Buffer): Buffer => b;
const wal = openSync(join(pkiDir, `${role}-${process.pid}.wal`), "w");
let walOffset = 0;

/** A member that cannot go on says why on stderr and exits; its starter reports that (failure()). */
function die(what: string, err: unknown): never {
  console.error(`${role}: ${what}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

/** Appends to this member's log file (page cache); durable after the next fdatasync. */
function walWrite(b: Buffer): void {
  writeSync(wal, b, 0, b.length, walOffset);
  walOffset += b.length;
}

function listen(server: Server, addr: string, creds: ServerCredentials): Promise<void> {
  return new Promise((resolve, reject) => server.bindAsync(addr, creds, (err) => (err ? reject(err) : resolve())));
}

/** A long-lived client stream to a peer's Raft service, dialled as swarmd's raft transport dials. */
function streamTo(port: string): ClientWritableStream<Buffer> {
  const client = new Client(`127.0.0.1:${port}`, peerCredentials(tls), peerChannelOptions());
  // The stream ends only when this process does: anything else (a refused handshake, say) is fatal.
  return client.makeClientStreamRequest(STREAM_PATH, identity, identity, new Metadata(), (err) => die(`raft stream to port ${port} ended`, err ?? "without an error"));
}

/** A Raft.StreamRaftMessage server calling `onMessage` for every message of every stream. */
function raftServer(onMessage: (m: Buffer) => void): Server {
  const server = new Server(remoteApiServerOptions());
  const handler: handleClientStreamingCall<Buffer, Buffer> = (call, cb) => {
    call.on("data", onMessage);
    call.on("end", () => cb(null, Buffer.alloc(0)));
    call.on("error", () => undefined); // a peer going away is not this process's failure
  };
  server.register(STREAM_PATH, handler, identity, identity, "clientStream");
  return server;
}

/** The remote API's credentials: a client certificate is asked for and verified (swarmd then authorises per call). */
const remoteApiTls = (): ServerCredentials => optionalClientCertCredentials(CurrentTls.from(tls));

if (role === "follower") {
  const [port, leaderPort, index] = rest;
  let toLeader: ClientWritableStream<Buffer> | undefined;
  let received: Buffer[] = [];
  // Everything received in one loop turn is written, synced once, and acked by its last sequence number.
  const flush = (): void => {
    const batch = received;
    received = [];
    try {
      for (const m of batch) walWrite(m);
      fdatasyncSync(wal);
    } catch (err) {
      die("writing its log", err);
    }
    const ack = Buffer.alloc(8);
    ack.writeUInt32LE(batch[batch.length - 1]!.readUInt32LE(0), 0);
    ack.writeUInt32LE(Number(index), 4);
    toLeader ??= streamTo(leaderPort!);
    toLeader.write(ack);
  };
  await listen(
    raftServer((m) => {
      if (received.length === 0) setImmediate(flush);
      received.push(m);
    }),
    `127.0.0.1:${port}`,
    remoteApiTls(),
  );
} else {
  const [socket, port, ...followerPorts] = rest;
  const answer = encodeToOwnBuffer(CreateConfigResponse, CreateConfigResponse.fromPartial({
    config: {
      id: "k2l3m4n5o6p7q8r9s0t1u2v3w",
      meta: { version: { index: 123456 }, createdAt: new Date(1_800_000_000_000), updatedAt: new Date(1_800_000_000_000) },
      spec: { annotations: { name: "b-leader-16-12-3456" }, data: Buffer.alloc(256, 0x5a) },
    },
  }));
  interface Batch {
    seq: number;
    answers: ((err: null, value: Buffer) => void)[];
    synced: boolean;
  }
  const inFlight: Batch[] = [];
  let queued: { request: Buffer; answer: (err: null, value: Buffer) => void }[] = [];
  let nextSeq = 1;
  /** The highest sequence number each follower has acked. */
  const acked = followerPorts.map(() => 0);
  const majority = Math.floor((followerPorts.length + 1) / 2) + 1;
  let followers: ClientWritableStream<Buffer>[] | undefined;
  // Batches commit in order, each once a majority of the members (the leader counts once synced) has it on disk.
  const settle = (): void => {
    for (let head = inFlight[0]; head; head = inFlight[0]) {
      const onDisk = (head.synced ? 1 : 0) + acked.filter((seq) => seq >= head.seq).length;
      if (onDisk < majority) return;
      for (const a of inFlight.shift()!.answers) a(null, answer);
    }
  };
  const flush = (): void => {
    const batch: Batch = { seq: nextSeq++, answers: queued.map((q) => q.answer), synced: false };
    const header = Buffer.alloc(8);
    header.writeUInt32LE(batch.seq, 0);
    const message = Buffer.concat([header, ...queued.map((q) => q.request)]);
    queued = [];
    inFlight.push(batch);
    followers ??= followerPorts.map(streamTo);
    for (const f of followers) f.write(message); // replicate while the leader writes its own log
    try {
      walWrite(message);
    } catch (err) {
      die("writing its log", err);
    }
    fdatasync(wal, (err) => {
      if (err) die("syncing its log", err);
      batch.synced = true;
      settle();
    });
  };
  const createConfig: handleUnaryCall<Buffer, Buffer> = (call, cb) => {
    if (queued.length === 0) setImmediate(flush);
    queued.push({ request: call.request, answer: cb });
  };
  const control = new Server(controlServerOptions());
  control.register(CREATE_CONFIG_PATH, createConfig, identity, identity, "unary");
  await listen(
    raftServer((ack) => {
      const from = ack.readUInt32LE(4);
      acked[from] = Math.max(acked[from] ?? 0, ack.readUInt32LE(0));
      settle();
    }),
    `127.0.0.1:${port}`,
    remoteApiTls(),
  );
  // As swarmd's control socket: the node's certificate, no client certificate asked for.
  await listen(control, `unix://${socket}`, ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(tls.certPem), private_key: Buffer.from(tls.keyPem) }], false));
}
console.log("ready");
process.on("SIGTERM", () => process.exit(0));
