// The control socket's own TLS listener: a client whose TLS server name and
// :authority are a socket path (as grpc-go sends them) is served through the
// :authority rewriter, and new connections get a renewed certificate.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as netConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { connectControl } from "../../src/shared/control-client.js";
import { newId } from "../../src/shared/ids.js";
import { MANAGER_ROLE, createKeyAndCsr, signNodeCsr } from "../../src/shared/pki/index.js";
import { startControlServer } from "../../src/workers/manager/controlapi/index.js";
import { TestBackend, rpc, seedCluster, tlsMaterial, type Tls } from "./harness.js";

let dir = "";
let tls: Tls;
let backend: TestBackend;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "control-socket-"));
  tls = await tlsMaterial();
  backend = new TestBackend();
  await seedCluster(backend, tls);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The certificate a fresh TLS connection to the socket is shown. */
function presented(socketPath: string, servername?: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ path: socketPath, rejectUnauthorized: false, ALPNProtocols: ["h2"], ...(servername ? { servername } : {}) }, () => {
      const raw = s.getPeerX509Certificate();
      s.destroy();
      if (raw) resolve(raw);
      else reject(new Error("no certificate"));
    });
    s.once("error", reject);
  });
}

test("a client sending the socket path as server name and :authority is answered (through the rewriter)", async () => {
  const socketPath = join(dir, "ctl.sock");
  const server = await startControlServer({ socketPath, tls: { certPem: tls.certPem, keyPem: tls.keyPem }, backend });
  // What grpc-go sends for a unix socket target; without the rewriter nghttp2 resets the stream.
  const goLike = connectControl(socketPath, { "grpc.ssl_target_name_override": socketPath, "grpc.default_authority": socketPath });
  const plain = connectControl(socketPath);
  try {
    for (let i = 0; i < 3; i++) {
      assert.equal((await rpc(goLike, "listClusters", { filters: undefined })).clusters.length, 1);
      assert.equal((await rpc(plain, "listClusters", { filters: undefined })).clusters.length, 1);
    }
    const many = await Promise.all(Array.from({ length: 16 }, () => rpc(goLike, "listNodes", { filters: undefined })));
    assert.equal(many.length, 16);
  } finally {
    goLike.close();
    plain.close();
    await server.stop(200);
  }
});

test("after a renewal updates the tls object in place, new connections get the new certificate", async () => {
  const socketPath = join(dir, "renew.sock");
  const identity = { certPem: tls.certPem, keyPem: tls.keyPem };
  const server = await startControlServer({ socketPath, tls: identity, backend });
  const client = connectControl(socketPath);
  try {
    assert.equal((await rpc(client, "listClusters", { filters: undefined })).clusters.length, 1);
    const before = await presented(socketPath);
    assert.equal(before.fingerprint256, new X509Certificate(tls.certPem).fingerprint256);

    const { keyPem, csrPem } = await createKeyAndCsr();
    const renewed = signNodeCsr({ csrPem, caCertPem: tls.caPem, caKeyPem: tls.caKeyPem, nodeId: newId(), role: MANAGER_ROLE, clusterId: tls.clusterId });
    Object.assign(identity, { certPem: renewed, keyPem });

    const after = await presented(socketPath);
    assert.equal(after.fingerprint256, new X509Certificate(renewed).fingerprint256);
    assert.equal((await presented(socketPath, socketPath)).fingerprint256, after.fingerprint256);
    // The connection opened before the renewal keeps working.
    assert.equal((await rpc(client, "listClusters", { filters: undefined })).clusters.length, 1);
    const fresh = connectControl(socketPath);
    try {
      assert.equal((await rpc(fresh, "listClusters", { filters: undefined })).clusters.length, 1);
    } finally {
      fresh.close();
    }
  } finally {
    client.close();
    await server.stop(200);
  }
});

test("a connection that never completes its TLS handshake is closed at the handshake timeout", async () => {
  const socketPath = join(dir, "silent.sock");
  const server = await startControlServer({ socketPath, tls: { certPem: tls.certPem, keyPem: tls.keyPem }, backend, handshakeTimeoutMs: 200 });
  const silent = netConnect(socketPath);
  silent.on("error", () => undefined);
  try {
    const closed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 5000);
      silent.once("close", () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    assert.equal(closed, true, "the server kept a connection that never handshook");
  } finally {
    silent.destroy();
    await server.stop(200);
  }
});
