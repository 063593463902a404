import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { status as Status, type ServiceError } from "@grpc/grpc-js";
import { IssuanceStatus_State, NodeRole } from "../../src/shared/api/index.js";
import {
  MANAGER_ROLE,
  WORKER_ROLE,
  createKeyAndCsr,
  createRootCA,
  generateJoinToken,
  parseJoinToken,
  parseNodeCert,
  rootDigest,
  rotateJoinToken,
  signNodeCsr,
  verifyChain,
} from "../../src/shared/pki/index.js";
import { INVALID_TOKEN_TEXT } from "../../src/workers/manager/ca/index.js";
import { cloneObject, update } from "../../src/workers/manager/store/index.js";
import { CaHarness, call, issue, nodeCert, status } from "./harness.js";

let h: CaHarness;
before(async () => {
  h = await CaHarness.start();
});
after(async () => {
  await h.stop();
});

async function rejects(p: Promise<unknown>, code: Status, text?: RegExp): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    const e = err as ServiceError;
    assert.equal(e.code, code, `expected status ${Status[code]}, got ${Status[e.code]}: ${e.details}`);
    if (text) assert.match(e.details, text);
    return e;
  }
  assert.fail(`expected ${Status[code]}, the call succeeded`);
}

async function joinWith(token: string): Promise<{ nodeId: string; certPem: string; keyPem: string }> {
  const { keyPem, csrPem } = await createKeyAndCsr();
  const client = h.nodeCa();
  try {
    const res = await issue(client, csrPem, token);
    const st = await status(client, res.nodeId);
    assert.equal(st.status?.state, IssuanceStatus_State.ISSUED, `status: ${JSON.stringify(st.status)}`);
    return { nodeId: res.nodeId, certPem: Buffer.from(st.certificate!.certificate).toString(), keyPem };
  } finally {
    client.close();
  }
}

test("GetRootCACertificate needs no client certificate and returns the root byte for byte (its digest is the token's)", async () => {
  const client = h.caClient();
  try {
    const res = await call<{ certificate: Buffer }>((md, o, cb) => client.getRootCaCertificate({}, md, o, cb));
    const pem = Buffer.from(res.certificate).toString();
    assert.equal(pem, h.cluster.caPem);
    assert.equal(rootDigest(pem), parseJoinToken(h.tokens().worker).digestHex);
  } finally {
    client.close();
  }
});

test("worker token: a worker certificate (OU swarm-worker, O = cluster ID) and a Node object", async () => {
  const joined = await joinWith(h.tokens().worker);
  const info = parseNodeCert(joined.certPem);
  assert.equal(info.role, WORKER_ROLE);
  assert.equal(info.clusterId, h.cluster.clusterId);
  assert.equal(info.nodeId, joined.nodeId);
  verifyChain(joined.certPem, h.cluster.caPem);
  const node = h.store.get("node", joined.nodeId)!;
  assert.equal(node.role, NodeRole.WORKER);
  assert.equal(node.spec?.desiredRole, NodeRole.WORKER);
  assert.equal(node.spec?.membership, 1 /* ACCEPTED */);
  assert.equal(node.certificate?.status?.state, IssuanceStatus_State.ISSUED);
  assert.equal(node.certificate?.cn, joined.nodeId);
  const san = new X509Certificate(joined.certPem).subjectAltName ?? "";
  assert.doesNotMatch(san, /swarm-ca/, "a worker certificate must not answer to swarm-ca");
});

test("manager token: a manager certificate that also answers to swarm-ca", async () => {
  const joined = await joinWith(h.tokens().manager);
  assert.equal(parseNodeCert(joined.certPem).role, MANAGER_ROLE);
  assert.match(new X509Certificate(joined.certPem).subjectAltName ?? "", /DNS:swarm-ca/);
  assert.equal(h.store.get("node", joined.nodeId)!.role, NodeRole.MANAGER);
});

test("wrong, empty and other-cluster tokens: INVALID_ARGUMENT at once, and no Node object", async () => {
  const client = h.nodeCa();
  const { csrPem } = await createKeyAndCsr();
  const before = h.store.find("node").length;
  const other = await createRootCA();
  try {
    const t0 = Date.now();
    // same cluster digest, wrong secret
    await rejects(issue(client, csrPem, generateJoinToken(h.cluster.caPem)), Status.INVALID_ARGUMENT, new RegExp(INVALID_TOKEN_TEXT));
    await rejects(issue(client, csrPem, ""), Status.INVALID_ARGUMENT, new RegExp(INVALID_TOKEN_TEXT));
    await rejects(issue(client, csrPem, generateJoinToken(other.certPem)), Status.INVALID_ARGUMENT, new RegExp(INVALID_TOKEN_TEXT));
    await rejects(issue(client, csrPem, "SWMTKN-1-garbage"), Status.INVALID_ARGUMENT);
    assert.ok(Date.now() - t0 < 3000, `refusals took ${Date.now() - t0} ms`);
    assert.equal(h.store.find("node").length, before);
  } finally {
    client.close();
  }
});

test("rotation: the old worker token stops admitting nodes, the new one works, joined nodes keep working", async () => {
  const early = await joinWith(h.tokens().worker);
  const old = h.tokens().worker;
  await update(h.store, h.proposer, (tx) => {
    const c = cloneObject(tx.get("cluster", h.cluster.clusterId)!);
    c.rootCa!.joinTokens!.worker = rotateJoinToken(old);
    tx.update("cluster", c);
  });
  const { csrPem } = await createKeyAndCsr();
  const client = h.nodeCa();
  try {
    await rejects(issue(client, csrPem, old), Status.INVALID_ARGUMENT, new RegExp(INVALID_TOKEN_TEXT));
  } finally {
    client.close();
  }
  await joinWith(h.tokens().worker);
  // The early node renews with its certificate and no token.
  const renewed = await renew(early);
  assert.equal(renewed.nodeId, early.nodeId);
  assert.notEqual(renewed.certPem, early.certPem);
  assert.equal(parseNodeCert(renewed.certPem).role, WORKER_ROLE);
});

async function renew(node: { nodeId: string; certPem: string; keyPem: string }) {
  const { keyPem, csrPem } = await createKeyAndCsr();
  const client = h.nodeCa(h.creds(node));
  try {
    const res = await issue(client, csrPem, "");
    assert.equal(res.nodeId, node.nodeId, "a renewal keeps the node ID");
    const st = await status(client, res.nodeId);
    assert.equal(st.status?.state, IssuanceStatus_State.ISSUED);
    return { nodeId: res.nodeId, certPem: Buffer.from(st.certificate!.certificate).toString(), keyPem };
  } finally {
    client.close();
  }
}

test("a CSR that cannot be signed ends FAILED with the reason", async () => {
  const client = h.nodeCa();
  try {
    const res = await issue(client, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", h.tokens().worker);
    const st = await status(client, res.nodeId);
    assert.equal(st.status?.state, IssuanceStatus_State.FAILED);
    assert.ok(st.status?.err.length, "a reason is given");
  } finally {
    client.close();
  }
});

test("NodeCertificateStatus of an unknown node: NOT_FOUND", async () => {
  const client = h.nodeCa();
  try {
    await rejects(status(client, "nosuchnodeaaaaaaaaaaaaaaa"), Status.NOT_FOUND);
  } finally {
    client.close();
  }
});

test("manager-only method: no client certificate → UNAUTHENTICATED; worker → PERMISSION_DENIED; manager → served", async () => {
  const joinReq = { addr: "127.0.0.1:1" };
  const noCert = h.raftMembership();
  const worker = await nodeCert(h.cluster, WORKER_ROLE);
  const asWorker = h.raftMembership(h.creds(worker));
  const asManager = h.raftMembership(h.creds(h.cluster.manager));
  try {
    await rejects(call((md, o, cb) => noCert.join(joinReq, md, o, cb)), Status.UNAUTHENTICATED);
    await rejects(call((md, o, cb) => asWorker.join(joinReq, md, o, cb)), Status.PERMISSION_DENIED, /swarm-manager/);
    const before = h.raftJoins;
    await call((md, o, cb) => asManager.join(joinReq, md, o, cb));
    assert.equal(h.raftJoins, before + 1);
    // GetUnlockKey is manager-only too.
    const ca = h.caClient(h.creds(worker));
    try {
      await rejects(call((md, o, cb) => ca.getUnlockKey({}, md, o, cb)), Status.PERMISSION_DENIED);
    } finally {
      ca.close();
    }
  } finally {
    noCert.close();
    asWorker.close();
    asManager.close();
  }
});

test("a certificate of another CA counts as none; one of another cluster's O is refused", async () => {
  const other = await CaHarness.start();
  try {
    const foreignMgr = other.cluster.manager;
    // Signed by another root: not verified, so the server sees no certificate.
    const c = h.raftMembership(h.creds(foreignMgr));
    try {
      await rejects(call((md, o, cb) => c.join({ addr: "x:1" }, md, o, cb)), Status.UNAUTHENTICATED);
    } finally {
      c.close();
    }
  } finally {
    await other.stop();
  }
  // Same root, another cluster ID in O.
  const { keyPem, csrPem } = await createKeyAndCsr();
  const stranger = {
    keyPem,
    certPem: signNodeCsr({ csrPem, caCertPem: h.cluster.caPem, caKeyPem: h.cluster.caKeyPem, nodeId: "strangeraaaaaaaaaaaaaaaaa", role: MANAGER_ROLE, clusterId: "otherclusteraaaaaaaaaaaaa" }),
  };
  const c2 = h.raftMembership(h.creds(stranger));
  try {
    await rejects(call((md, o, cb) => c2.join({ addr: "x:1" }, md, o, cb)), Status.PERMISSION_DENIED, /not part of organization/);
  } finally {
    c2.close();
  }
});

test("a removed node's certificate is refused from then on (PERMISSION_DENIED … was removed from swarm)", async () => {
  const mgr = await nodeCert(h.cluster, MANAGER_ROLE);
  const client = h.raftMembership(h.creds(mgr));
  try {
    await call((md, o, cb) => client.join({ addr: "x:1" }, md, o, cb));
    await update(h.store, h.proposer, (tx) => {
      const c = cloneObject(tx.get("cluster", h.cluster.clusterId)!);
      c.blacklistedCertificates[mgr.nodeId] = { expiry: new Date(Date.now() + 86400_000) };
      tx.update("cluster", c);
    });
    await rejects(call((md, o, cb) => client.join({ addr: "x:1" }, md, o, cb)), Status.PERMISSION_DENIED, new RegExp(`node ${mgr.nodeId} was removed from swarm`));
    // ...and it cannot renew its way back in.
    const { csrPem } = await createKeyAndCsr();
    const ca = h.nodeCa(h.creds(mgr));
    try {
      await rejects(issue(ca, csrPem, ""), Status.PERMISSION_DENIED, /was removed from swarm/);
    } finally {
      ca.close();
    }
  } finally {
    client.close();
  }
});
