// A renewed node certificate reaches every TLS endpoint through CurrentTls,
// over real TLS and real gRPC: the remote API serves it to new connections
// (open ones keep going), and the raft transport, the leader connection and
// the agent's dispatcher connection present it on every handshake made
// after the renewal (a new client, or a reconnect of an existing one).
// Renewals with a new key (SwarmKit's way) and with the same key are covered.
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, createPublicKey } from "node:crypto";
import type { ServerSurfaceCall } from "@grpc/grpc-js/build/src/server-call.js";
import type { ChannelCredentials, ClientUnaryCall, ServiceError, UntypedServiceImplementation } from "@grpc/grpc-js";
import {
  DispatcherService,
  HealthCheckResponse_ServingStatus,
  HealthClient,
  HealthService,
  RaftService,
  type HealthCheckResponse,
  type ResolveAddressResponse,
} from "../../src/shared/api/index.js";
import { CurrentTls, type TlsMaterial } from "../../src/shared/current-tls.js";
import { newId } from "../../src/shared/ids.js";
import { MANAGER_ROLE, WORKER_ROLE, createCsrForKey, createKeyAndCsr, createRootCA, signNodeCsr, type RootCA } from "../../src/shared/pki/index.js";
import { GrpcDispatcherConnection, dispatcherCredentials } from "../../src/workers/agent/connection/grpc-connection.js";
import { LeaderConnection } from "../../src/workers/manager/leader-connection.js";
import { GrpcRaftTransport, dialRaft } from "../../src/workers/manager/raft/transport/index.js";
import { RemoteApiServer } from "../../src/workers/manager/remoteapi/index.js";

interface Pki {
  ca: RootCA;
  clusterId: string;
  /** A certificate for nodeId; with keyPem, for that key (a same-key renewal). */
  issue(nodeId: string, role: typeof MANAGER_ROLE | typeof WORKER_ROLE, keyPem?: string): Promise<TlsMaterial>;
}

async function newPki(): Promise<Pki> {
  const ca = await createRootCA();
  const clusterId = newId();
  return {
    ca,
    clusterId,
    async issue(nodeId, role, existingKey) {
      let keyPem: string;
      let csrPem: string;
      if (existingKey) {
        keyPem = existingKey;
        csrPem = createCsrForKey(keyPem, createPublicKey(keyPem).export({ type: "spki", format: "pem" }).toString());
      } else {
        ({ keyPem, csrPem } = await createKeyAndCsr());
      }
      const certPem = signNodeCsr({ csrPem, caCertPem: ca.certPem, caKeyPem: ca.keyPem, nodeId, role, clusterId });
      return { caPem: ca.certPem, certPem, keyPem };
    },
  };
}

const serialOf = (pem: string): string => new X509Certificate(pem).serialNumber.toUpperCase();

/** What the server saw of one call: the client certificate's serial and the connection (peer address). */
interface Seen {
  clientSerial: string | undefined;
  peer: string;
}

function record(call: ServerSurfaceCall, into: Seen[]): void {
  into.push({ clientSerial: call.getAuthContext()?.sslPeerCertificate?.serialNumber?.toUpperCase(), peer: call.getPeer() });
}

/** A remote API server on 127.0.0.1 serving Health, Raft.ResolveAddress and Dispatcher.Heartbeat, recording callers. */
async function startServer(tls: TlsMaterial | CurrentTls, clusterId: string, seen: Seen[], port = 0): Promise<RemoteApiServer> {
  const server = new RemoteApiServer({ listen: { host: "127.0.0.1", port }, tls, cluster: { id: clusterId, isRemoved: () => false } });
  const anyNode = () => ({ roles: [MANAGER_ROLE, WORKER_ROLE] });
  server.addService(
    HealthService,
    {
      check: (call: ServerSurfaceCall, cb: (err: null, res: HealthCheckResponse) => void) => {
        record(call, seen);
        cb(null, { status: HealthCheckResponse_ServingStatus.SERVING });
      },
    } as unknown as UntypedServiceImplementation,
    anyNode,
  );
  server.addService(
    RaftService,
    {
      resolveAddress: (call: ServerSurfaceCall, cb: (err: null, res: ResolveAddressResponse) => void) => {
        record(call, seen);
        cb(null, { addr: "" });
      },
    } as unknown as UntypedServiceImplementation,
    anyNode,
  );
  server.addService(
    DispatcherService,
    {
      heartbeat: (call: ServerSurfaceCall, cb: (err: null, res: { period: { seconds: number; nanos: number } }) => void) => {
        record(call, seen);
        cb(null, { period: { seconds: 5, nanos: 0 } });
      },
    } as unknown as UntypedServiceImplementation,
    anyNode,
  );
  await server.start();
  return server;
}

type HealthClientT = InstanceType<typeof HealthClient>;

/** One Health check; resolves with the server certificate this call's connection saw. */
function check(client: HealthClientT): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const call: ClientUnaryCall = client.check({ service: "" }, (err: ServiceError | null) => {
      if (err) reject(err);
      else resolve(call.getAuthContext()?.sslPeerCertificate?.serialNumber?.toUpperCase());
    });
  });
}

function healthClient(addr: string, creds: ChannelCredentials): HealthClientT {
  // Own subchannel pool: a new client is a new connection (a new handshake).
  return new HealthClient(addr, creds, { "grpc.ssl_target_name_override": MANAGER_ROLE, "grpc.use_local_subchannel_pool": 1 });
}

const last = (seen: Seen[]): Seen => seen[seen.length - 1]!;

for (const sameKey of [false, true]) {
  const how = sameKey ? "same key" : "new key";

  test(`remote API: new connections get the renewed certificate (${how}); an open connection keeps working`, async () => {
    const pki = await newPki();
    const managerId = newId();
    const a = await pki.issue(managerId, MANAGER_ROLE);
    const b = await pki.issue(managerId, MANAGER_ROLE, sameKey ? a.keyPem : undefined);
    const client = await pki.issue(newId(), WORKER_ROLE);
    const live = new CurrentTls(a);
    const seen: Seen[] = [];
    const server = await startServer(live, pki.clusterId, seen);
    const addr = `127.0.0.1:${server.address.port}`;
    const clientCreds = new CurrentTls(client).clientCredentials();
    const open = healthClient(addr, clientCreds);
    try {
      assert.equal(await check(open), serialOf(a.certPem));
      const openPeer = last(seen).peer;

      assert.equal(live.update(b), true);
      assert.equal(live.version, 1);
      assert.equal(live.update(b), false, "the same material again is no update");

      const fresh = healthClient(addr, clientCreds);
      try {
        assert.equal(await check(fresh), serialOf(b.certPem), "a connection made after the renewal sees the renewed certificate");
        assert.notEqual(last(seen).peer, openPeer);
      } finally {
        fresh.close();
      }
      // The connection opened before the renewal still works, on the same connection and certificate.
      assert.equal(await check(open), serialOf(a.certPem));
      assert.equal(last(seen).peer, openPeer);
      // The client certificate was seen by the server every time.
      assert.ok(seen.every((s) => s.clientSerial === serialOf(client.certPem)));
    } finally {
      open.close();
      await server.stop();
    }
  });

  test(`raft transport, leader connection and agent present the renewed client certificate after a renewal (${how})`, async () => {
    const pki = await newPki();
    const serverTls = await pki.issue(newId(), MANAGER_ROLE);
    const nodeId = newId();
    const a = await pki.issue(nodeId, MANAGER_ROLE);
    const b = await pki.issue(nodeId, MANAGER_ROLE, sameKey ? a.keyPem : undefined);
    const [serialA, serialB] = [serialOf(a.certPem), serialOf(b.certPem)];
    const live = new CurrentTls(a);
    const seen: Seen[] = [];
    let server = await startServer(serverTls, pki.clusterId, seen);
    const port = server.address.port;
    const addr = `127.0.0.1:${port}`;

    // The clients as the manager and agent build them, all from the one holder.
    const transport = new GrpcRaftTransport({ tls: live });
    const raft = dialRaft(addr, transport.credentials);
    const leader = new LeaderConnection(() => addr, live);
    const dispatcher = () => new GrpcDispatcherConnection(addr, nodeId, dispatcherCredentials(live));
    const resolve = () =>
      new Promise<void>((ok, fail) => raft.resolveAddress({ raftId: 1 }, (err: ServiceError | null) => (err ? fail(err) : ok())));
    const leaderCheck = () => check(leader.client(HealthClient)!.client);
    const heartbeat = async () => {
      const conn = dispatcher();
      try {
        await conn.heartbeat({ sessionId: "s" }, 5000);
      } finally {
        conn.close();
      }
    };
    try {
      await resolve();
      assert.equal(last(seen).clientSerial, serialA);
      const raftPeer = last(seen).peer;
      await leaderCheck();
      assert.equal(last(seen).clientSerial, serialA);
      const leaderPeer = last(seen).peer;
      await heartbeat();
      assert.equal(last(seen).clientSerial, serialA);

      live.update(b);

      // Open connections keep their certificate.
      await resolve();
      assert.deepEqual(last(seen), { clientSerial: serialA, peer: raftPeer });
      await leaderCheck();
      assert.deepEqual(last(seen), { clientSerial: serialA, peer: leaderPeer });
      // A new dispatcher connection (the agent dials one per session) presents B.
      await heartbeat();
      assert.equal(last(seen).clientSerial, serialB);
      // A new raft client on the transport's credentials presents B.
      const raft2 = dialRaft(addr, transport.credentials);
      try {
        await new Promise<void>((ok, fail) => raft2.resolveAddress({ raftId: 1 }, (err: ServiceError | null) => (err ? fail(err) : ok())));
        assert.equal(last(seen).clientSerial, serialB);
      } finally {
        raft2.close();
      }

      // The server goes away and comes back on the same port: the long-lived raft
      // and leader channels reconnect, and the new handshakes present B.
      await server.stop();
      server = await startServer(serverTls, pki.clusterId, seen, port);
      const before = seen.length;
      await eventually(() => resolve());
      assert.equal(last(seen).clientSerial, serialB);
      await eventually(() => leaderCheck());
      assert.equal(last(seen).clientSerial, serialB);
      assert.ok(seen.slice(before).every((s) => s.clientSerial === serialB));
    } finally {
      raft.close();
      leader.close();
      await transport.close();
      await server.stop();
    }
  });
}

/** Retries fn (a call may fail while the channel reconnects) for up to 10 s. */
async function eventually(fn: () => Promise<unknown>): Promise<void> {
  const end = Date.now() + 10_000;
  for (;;) {
    try {
      await fn();
      return;
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

test("CurrentTls: version, listeners, snapshots, and wrapping fixed material", async () => {
  const pki = await newPki();
  const a = await pki.issue(newId(), WORKER_ROLE);
  const b = await pki.issue(newId(), WORKER_ROLE);
  const live = new CurrentTls(a);
  const snapshot = live.material;
  const heard: number[] = [];
  const off = live.onUpdate((tls, v) => {
    assert.equal(tls.certPem, b.certPem);
    heard.push(v);
  });
  assert.equal(live.update(b), true);
  off();
  live.update(a);
  assert.deepEqual(heard, [1]);
  assert.equal(live.version, 2);
  assert.equal(snapshot.certPem, a.certPem, "a snapshot taken before is not mutated");
  assert.equal(CurrentTls.from(live), live);
  const wrapped = CurrentTls.from(b);
  assert.notEqual(wrapped as unknown, b);
  assert.equal(wrapped.material.certPem, b.certPem);
  assert.equal(live.clientCredentials(), live.clientCredentials(), "one credentials object per holder");
});
