import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { SignerPool } from "../../src/workers/manager/ca/signer-pool.js";
import { MANAGER_ROLE, WORKER_ROLE, type NodeRole, createKeyAndCsr, createRootCA, keyMatchesCert, parseNodeCert, verifyChain } from "../../src/shared/pki/index.js";
import { SwarmError } from "../../src/shared/errors.js";

const ca = await createRootCA();
const clusterId = "clusterpoolaaaaaaaaaaaaaa";

test("signer pool signs 50 CSRs at once and every certificate verifies", { timeout: 120_000 }, async () => {
  const pool = new SignerPool({ threads: 2 });
  await pool.start();
  try {
    // Ten keys, fifty CSRs: key generation is not what is under test.
    const keys = await Promise.all(Array.from({ length: 10 }, () => createKeyAndCsr()));
    const requests = Array.from({ length: 50 }, (_, i) => ({
      csrPem: keys[i % keys.length]!.csrPem,
      caCertPem: ca.certPem,
      caKeyPem: ca.keyPem,
      nodeId: `node${String(i).padStart(21, "0")}`,
      role: (i % 5 === 0 ? MANAGER_ROLE : WORKER_ROLE) as NodeRole,
      clusterId,
    }));
    const certs = await Promise.all(requests.map((r) => pool.sign(r)));
    assert.equal(certs.length, 50);
    assert.equal(new Set(certs.map((c) => new X509Certificate(c).serialNumber)).size, 50, "serial numbers are unique");
    certs.forEach((pem, i) => {
      verifyChain(pem, ca.certPem);
      const info = parseNodeCert(pem);
      assert.equal(info.nodeId, requests[i]!.nodeId);
      assert.equal(info.role, requests[i]!.role);
      assert.equal(info.clusterId, clusterId);
      assert.ok(keyMatchesCert(keys[i % keys.length]!.keyPem, pem));
    });
  } finally {
    await pool.stop();
  }
});

test("signing errors keep their code across the thread boundary", async () => {
  const pool = new SignerPool({ threads: 1 });
  await pool.start();
  try {
    const base = { caCertPem: ca.certPem, caKeyPem: ca.keyPem, nodeId: "n", role: WORKER_ROLE, clusterId } as const;
    await assert.rejects(pool.sign({ ...base, csrPem: "not a csr" }), (e: unknown) => e instanceof SwarmError && e.code === "INVALID_ARGUMENT");
    const other = await createRootCA();
    const { csrPem } = await createKeyAndCsr();
    await assert.rejects(pool.sign({ ...base, csrPem, caKeyPem: other.keyPem }), (e: unknown) => e instanceof SwarmError && e.code === "FAILED_PRECONDITION");
    // The pool still works after failures.
    verifyChain(await pool.sign({ ...base, csrPem }), ca.certPem);
  } finally {
    await pool.stop();
  }
});

test("a stopped pool refuses work with UNAVAILABLE", async () => {
  const pool = new SignerPool({ threads: 1 });
  const { csrPem } = await createKeyAndCsr();
  const req = { csrPem, caCertPem: ca.certPem, caKeyPem: ca.keyPem, nodeId: "n", role: WORKER_ROLE, clusterId } as const;
  await assert.rejects(pool.sign(req), (e: unknown) => e instanceof SwarmError && e.code === "UNAVAILABLE");
  await pool.start();
  assert.equal(pool.running, true);
  await pool.stop();
  assert.equal(pool.running, false);
  await assert.rejects(pool.sign(req), (e: unknown) => e instanceof SwarmError && e.code === "UNAVAILABLE");
});

test("a full queue is refused with RESOURCE_EXHAUSTED", async () => {
  const pool = new SignerPool({ threads: 1, maxQueue: 2 });
  await pool.start();
  try {
    const { csrPem } = await createKeyAndCsr();
    const req = { csrPem, caCertPem: ca.certPem, caKeyPem: ca.keyPem, nodeId: "n", role: WORKER_ROLE, clusterId } as const;
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => pool.sign(req)));
    const refused = results.filter((r) => r.status === "rejected");
    assert.ok(refused.length > 0, "some requests were refused");
    for (const r of refused) {
      assert.ok(r.reason instanceof SwarmError && r.reason.code === "RESOURCE_EXHAUSTED", String(r.reason));
    }
    assert.ok(results.some((r) => r.status === "fulfilled"));
  } finally {
    await pool.stop();
  }
});
