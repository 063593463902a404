import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateJoinToken, rootDigest, WORKER_ROLE, MANAGER_ROLE } from "../../src/shared/pki/index.js";
import { joinCluster, loadIdentity } from "../../src/main/identity/index.js";
import { CaHarness } from "../ca/harness.js";

let h: CaHarness;
let scratch: string;
before(async () => {
  h = await CaHarness.start();
  scratch = await mkdtemp(join(tmpdir(), "join-test-"));
});
after(async () => {
  await h.stop();
  await rm(scratch, { recursive: true, force: true });
});

let n = 0;
const freshStateDir = (): string => join(scratch, `node-${++n}`);

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

test("join end to end: worker token → worker identity on disk (key 0600), loadable on restart", async () => {
  const dir = freshStateDir();
  const id = await joinCluster(dir, { joinAddr: h.addr, token: h.tokens().worker });
  assert.equal(id.role, WORKER_ROLE);
  assert.equal(id.clusterId, h.cluster.clusterId);
  assert.equal(id.tls.caPem, h.cluster.caPem);
  assert.equal(h.store.get("node", id.nodeId)?.id, id.nodeId);
  assert.equal((await stat(id.paths.nodeKey)).mode & 0o777, 0o600);
  const again = await loadIdentity(dir);
  assert.equal(again?.nodeId, id.nodeId);
  assert.equal(again?.role, WORKER_ROLE);
});

test("join with the manager token gives a manager identity", async () => {
  const id = await joinCluster(freshStateDir(), { joinAddr: h.addr, token: h.tokens().manager });
  assert.equal(id.role, MANAGER_ROLE);
});

test("man in the middle: a server with another root CA is refused by fingerprint, nothing written", async () => {
  const mitm = await CaHarness.start();
  try {
    const dir = freshStateDir();
    const token = h.tokens().worker;
    const nodesBefore = mitm.store.find("node").length;
    await assert.rejects(joinCluster(dir, { joinAddr: mitm.addr, token }), (err: Error) => {
      assert.match(err.message, /does not match the join token/);
      assert.match(err.message, /remote CA does not match fingerprint\. Expected: [0-9a-f]{64}/);
      assert.ok(err.message.includes(rootDigest(h.cluster.caPem)));
      return true;
    });
    assert.equal(await exists(dir), false, "nothing may be written to the state dir");
    assert.equal(mitm.store.find("node").length, nodesBefore, "no CSR was sent to the impostor");
  } finally {
    await mitm.stop();
  }
});

test("wrong token (right cluster digest, wrong secret): refused within seconds, clear error, nothing written", async () => {
  const dir = freshStateDir();
  const t0 = Date.now();
  await assert.rejects(joinCluster(dir, { joinAddr: h.addr, token: generateJoinToken(h.cluster.caPem) }), /A valid join token is necessary to join this cluster/);
  assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  assert.equal(await exists(dir), false);
});

test("token of another cluster: refused by fingerprint before any CSR is sent", async () => {
  const other = await CaHarness.start();
  try {
    const dir = freshStateDir();
    await assert.rejects(joinCluster(dir, { joinAddr: h.addr, token: other.tokens().worker }), /remote CA does not match fingerprint/);
    assert.equal(await exists(dir), false);
  } finally {
    await other.stop();
  }
});

test("malformed token and unreachable manager: clear errors, quickly", async () => {
  await assert.rejects(joinCluster(freshStateDir(), { joinAddr: h.addr, token: "SWMTKN-1-nope" }), /invalid join token/);
  // A port with nothing listening.
  const srv = createServer();
  const port = await new Promise<number>((r) => srv.listen(0, "127.0.0.1", () => r((srv.address() as { port: number }).port)));
  await new Promise((r) => srv.close(r));
  const t0 = Date.now();
  await assert.rejects(
    joinCluster(freshStateDir(), { joinAddr: `127.0.0.1:${port}`, token: h.tokens().worker }),
    /cannot join the cluster through 127\.0\.0\.1:\d+: could not fetch the root CA: the manager is unreachable/,
  );
  assert.ok(Date.now() - t0 < 6000, `took ${Date.now() - t0} ms`);
  assert.deepEqual(await readdir(scratch).then((d) => d.filter((x) => x.startsWith(".certificates"))), []);
});
