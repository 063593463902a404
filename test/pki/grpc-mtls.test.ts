import { test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { MANAGER_ROLE, WORKER_ROLE, createKeyAndCsr, createRootCA, signNodeCsr, type NodeRole } from "../../src/shared/pki/index.js";

const clusterId = "clustergrpcaaaaaaaaaaaaaa";
const ca = await createRootCA();

async function nodeTls(nodeId: string, role: NodeRole, caPem = ca.certPem, caKeyPem = ca.keyPem) {
  const { keyPem, csrPem } = await createKeyAndCsr();
  return { keyPem, certPem: signNodeCsr({ csrPem, caCertPem: caPem, caKeyPem, nodeId, role, clusterId }) };
}

const identity = (b: Buffer): Buffer => b;
// A one-method service with raw bytes, no proto needed.
const service: grpc.ServiceDefinition = {
  whoAmI: {
    path: "/test.Identity/WhoAmI",
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};
const Client = grpc.makeGenericClientConstructor(service, "Identity");

interface PeerSubject {
  CN?: string;
  OU?: string | string[];
  O?: string | string[];
}

async function startServer(tls: { keyPem: string; certPem: string }): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(service, {
    whoAmI: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const peer = call.getAuthContext().sslPeerCertificate;
      const s = (peer?.subject ?? {}) as PeerSubject;
      cb(null, Buffer.from(JSON.stringify({ cn: s.CN, ou: s.OU, o: s.O })));
    },
  });
  const creds = grpc.ServerCredentials.createSsl(
    Buffer.from(ca.certPem),
    [{ private_key: Buffer.from(tls.keyPem), cert_chain: Buffer.from(tls.certPem) }],
    true, // require and verify client certificates
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port };
}

function call(port: number, creds: grpc.ChannelCredentials, serverName = MANAGER_ROLE): Promise<Record<string, unknown>> {
  const client = new Client(`127.0.0.1:${port}`, creds, { "grpc.ssl_target_name_override": serverName });
  return new Promise<Record<string, unknown>>((resolve, reject) => {
    client.makeUnaryRequest(
      "/test.Identity/WhoAmI",
      identity,
      identity,
      Buffer.alloc(0),
      new grpc.Metadata(),
      { deadline: Date.now() + 10_000 },
      (err: grpc.ServiceError | null, res?: Buffer) => (err ? reject(err) : resolve(JSON.parse(res!.toString()) as Record<string, unknown>)),
    );
  }).finally(() => client.close());
}

test("grpc-js mutual TLS with these certificates: the server reads the caller's CN/OU/O", { timeout: 60_000 }, async () => {
  const managerTls = await nodeTls("managernodeaaaaaaaaaaaaaa", MANAGER_ROLE);
  const workerTls = await nodeTls("workernodeaaaaaaaaaaaaaaa", WORKER_ROLE);
  const { server, port } = await startServer(managerTls);
  try {
    const asWorker = grpc.credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(workerTls.keyPem), Buffer.from(workerTls.certPem));
    assert.deepEqual(await call(port, asWorker), { cn: "workernodeaaaaaaaaaaaaaaa", ou: WORKER_ROLE, o: clusterId });
    // Joiners dial managers as swarm-ca; managers' certificates answer to it.
    const asWorker2 = grpc.credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(workerTls.keyPem), Buffer.from(workerTls.certPem));
    assert.equal((await call(port, asWorker2, "swarm-ca")).ou, WORKER_ROLE);

    // No client certificate: the handshake is refused.
    await assert.rejects(
      call(port, grpc.credentials.createSsl(Buffer.from(ca.certPem))),
      (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE && /certificate required/.test(e.details),
    );
    // A client certificate from another CA: refused too.
    const other = await createRootCA();
    const strangerTls = await nodeTls("strangeraaaaaaaaaaaaaaaaa", MANAGER_ROLE, other.certPem, other.keyPem);
    const asStranger = grpc.credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(strangerTls.keyPem), Buffer.from(strangerTls.certPem));
    await assert.rejects(call(port, asStranger), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
  } finally {
    server.forceShutdown();
  }
});

test("a worker certificate cannot serve as a manager", { timeout: 60_000 }, async () => {
  const workerTls = await nodeTls("workerserveraaaaaaaaaaaaa", WORKER_ROLE);
  const client = await nodeTls("clientaaaaaaaaaaaaaaaaaaa", WORKER_ROLE);
  const { server, port } = await startServer(workerTls);
  try {
    const creds = grpc.credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(client.keyPem), Buffer.from(client.certPem));
    await assert.rejects(
      call(port, creds, MANAGER_ROLE),
      (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE && /altnames/.test(e.details),
    );
  } finally {
    server.forceShutdown();
  }
});
