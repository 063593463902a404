// Load-time completion of an interrupted node key + certificate replacement:
// each test puts on disk exactly what a crash at one point of the pair write
// would leave (real files, real certificates) and loads it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SwarmError } from "../../src/shared/errors.js";
import { certificatePaths, loadIdentity, loadOrCreateIdentity, saveNodeCertificate, type NodeIdentity } from "../../src/main/identity/index.js";
import { replaceNodePair, type PairWriteStep } from "../../src/main/identity/node-pair.js";
import { MANAGER_ROLE, createKeyAndCsr, createRootCA, signNodeCsr } from "../../src/shared/pki/index.js";

interface Pair {
  certPem: string;
  keyPem: string;
  csrPem: string;
}

async function tempStateDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "swarm-identity-recovery-"));
}

/** Runs fn with a fresh state dir, removed afterwards. */
async function withStateDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await tempStateDir();
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A bootstrapped manager identity (the root key is returned, so the test can sign renewals). */
async function bootstrap(dir: string): Promise<NodeIdentity & { rootCaKeyPem: string }> {
  const id = await loadOrCreateIdentity(dir, { role: MANAGER_ROLE });
  assert.ok(id.rootCaKeyPem);
  return id as NodeIdentity & { rootCaKeyPem: string };
}

/** What a renewal would get: a new key and a certificate for it signed by `ca` (the node's own root unless given). */
async function renewal(id: NodeIdentity, ca: { certPem: string; keyPem: string }): Promise<Pair> {
  const { keyPem, csrPem } = await createKeyAndCsr(id.nodeId, MANAGER_ROLE, id.clusterId);
  const certPem = signNodeCsr({ csrPem, caCertPem: ca.certPem, caKeyPem: ca.keyPem, nodeId: id.nodeId, role: MANAGER_ROLE, clusterId: id.clusterId });
  return { certPem, keyPem, csrPem };
}

const rootOf = (id: NodeIdentity & { rootCaKeyPem: string }) => ({ certPem: id.tls.caPem, keyPem: id.rootCaKeyPem });

async function listing(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) out[name] = await readFile(join(dir, name), "utf8");
  return out;
}

const NODE_FILES = ["swarm-node.crt", "swarm-node.key", "swarm-root-ca.crt"];

function doesNotMatch(keyPath: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof SwarmError, String(e));
    assert.equal(e.message, `error while loading TLS certificate in ${keyPath}: private key does not match the certificate in swarm-node.crt`);
    return true;
  };
}

test("crash after the key rename: the new certificate is taken from its temp file, the temp is gone, a second load is clean", async () => {
  await withStateDir(async (dir) => {
    const id = await bootstrap(dir);
    const next = await renewal(id, rootOf(id));
    const paths = certificatePaths(dir);
    // Exactly what the writer leaves there: new key renamed, certificate still in .swarm-node.crt.tmp-<hex>.
    await writeFile(paths.nodeKey, next.keyPem, { mode: 0o600 });
    await writeFile(join(paths.dir, ".swarm-node.crt.tmp-0a1b2c3d4e5f"), next.certPem, { mode: 0o644 });
    // A stale temp of an older, abandoned write (another suffix, another key).
    const abandoned = await renewal(id, rootOf(id));
    await writeFile(join(paths.dir, ".swarm-node.crt.tmp-00000000aaaa"), abandoned.certPem, { mode: 0o644 });

    const loaded = await loadIdentity(dir);
    assert.equal(loaded?.tls.certPem, next.certPem, "the NEW certificate");
    assert.equal(loaded?.tls.keyPem, next.keyPem, "the NEW key");
    assert.equal(loaded?.nodeId, id.nodeId);
    assert.deepEqual(Object.keys(await listing(paths.dir)), NODE_FILES, "temps removed");
    assert.equal(await readFile(paths.nodeCert, "utf8"), next.certPem);

    const before = await listing(paths.dir);
    const again = await loadIdentity(dir);
    assert.deepEqual(again?.tls, loaded?.tls);
    assert.deepEqual(await listing(paths.dir), before, "nothing changed by the second load");
  });
});

test("crash before any rename: the old pair loads and both temps are removed", async () => {
  await withStateDir(async (dir) => {
    const id = await bootstrap(dir);
    const next = await renewal(id, rootOf(id));
    const paths = certificatePaths(dir);
    await writeFile(join(paths.dir, ".swarm-node.key.tmp-112233445566"), next.keyPem, { mode: 0o600 });
    await writeFile(join(paths.dir, ".swarm-node.crt.tmp-112233445566"), next.certPem, { mode: 0o644 });

    const loaded = await loadIdentity(dir);
    assert.deepEqual(loaded?.tls, id.tls, "the OLD pair");
    assert.deepEqual(Object.keys(await listing(paths.dir)), NODE_FILES);
  });
});

test("crash after both renames (before the directory fsync): the new pair loads as is", async () => {
  await withStateDir(async (dir) => {
    const id = await bootstrap(dir);
    const next = await renewal(id, rootOf(id));
    const paths = certificatePaths(dir);
    await writeFile(paths.nodeKey, next.keyPem, { mode: 0o600 });
    await writeFile(paths.nodeCert, next.certPem, { mode: 0o644 });
    const loaded = await loadIdentity(dir);
    assert.equal(loaded?.tls.certPem, next.certPem);
    assert.equal(loaded?.tls.keyPem, next.keyPem);
    assert.deepEqual(Object.keys(await listing(paths.dir)), NODE_FILES);
  });
});

test("key replaced but no usable certificate temp: the existing 'does not match' error, and nothing is deleted or renamed", async () => {
  await withStateDir(async (dir) => {
    const id = await bootstrap(dir);
    const paths = certificatePaths(dir);
    const next = await renewal(id, rootOf(id));
    await writeFile(paths.nodeKey, next.keyPem, { mode: 0o600 });
    // For the live (new) key, but signed by another CA: the key matches, the chain does not lead to swarm-root-ca.crt.
    const otherCa = await createRootCA();
    const foreign = signNodeCsr({ csrPem: next.csrPem, caCertPem: otherCa.certPem, caKeyPem: otherCa.keyPem, nodeId: id.nodeId, role: MANAGER_ROLE, clusterId: id.clusterId });
    const otherKey = await renewal(id, rootOf(id));

    const cases: Array<{ what: string; temps: Record<string, string> }> = [
      { what: "no temp at all", temps: {} },
      { what: "only a key temp", temps: { ".swarm-node.key.tmp-aaaaaaaaaaaa": next.keyPem } },
      { what: "a truncated certificate temp", temps: { ".swarm-node.crt.tmp-bbbbbbbbbbbb": next.certPem.slice(0, Math.floor(next.certPem.length / 2)) } },
      { what: "an empty certificate temp", temps: { ".swarm-node.crt.tmp-cccccccccccc": "" } },
      { what: "a certificate temp for the live key signed by another CA", temps: { ".swarm-node.crt.tmp-dddddddddddd": foreign } },
      { what: "a certificate temp of our CA for another key", temps: { ".swarm-node.crt.tmp-eeeeeeeeeeee": otherKey.certPem } },
    ];
    for (const c of cases) {
      for (const [name, text] of Object.entries(c.temps)) await writeFile(join(paths.dir, name), text, { mode: name.includes(".key.") ? 0o600 : 0o644 });
      const before = await listing(paths.dir);
      await assert.rejects(loadIdentity(dir), doesNotMatch(paths.nodeKey), c.what);
      assert.deepEqual(await listing(paths.dir), before, `${c.what}: nothing deleted or renamed`);
      for (const name of Object.keys(c.temps)) await rm(join(paths.dir, name));
    }
    // The control: the right temp is recovered from this very state.
    await writeFile(join(paths.dir, ".swarm-node.crt.tmp-ffffffffffff"), next.certPem, { mode: 0o644 });
    assert.equal((await loadIdentity(dir))?.tls.certPem, next.certPem);
  });
});

test("operator root CA bootstrap interrupted after the key rename (key present, certificate missing, its temp present) recovers", async () => {
  await withStateDir(async (dir) => {
    const root = await createRootCA({ cn: "externalRoot" });
    const paths = certificatePaths(dir);
    await mkdir(paths.dir, { recursive: true, mode: 0o700 });
    await writeFile(paths.rootCaCert, root.certPem, { mode: 0o644 });
    await writeFile(paths.rootCaKey, root.keyPem, { mode: 0o600 });
    const { keyPem, csrPem } = await createKeyAndCsr("nodeaaaaaaaaaaaaaaaaaaaaa", MANAGER_ROLE, "clusteraaaaaaaaaaaaaaaaaa");
    const certPem = signNodeCsr({ csrPem, caCertPem: root.certPem, caKeyPem: root.keyPem, nodeId: "nodeaaaaaaaaaaaaaaaaaaaaa", role: MANAGER_ROLE, clusterId: "clusteraaaaaaaaaaaaaaaaaa" });
    await writeFile(paths.nodeKey, keyPem, { mode: 0o600 });

    // Without the temp, the existing error stays.
    await assert.rejects(loadIdentity(dir), (e: unknown) => e instanceof SwarmError && e.message === `error while loading TLS certificate in ${paths.nodeCert}: missing, but the root CA certificate exists`);

    await writeFile(join(paths.dir, ".swarm-node.crt.tmp-5a5a5a5a5a5a"), certPem, { mode: 0o644 });
    const loaded = await loadIdentity(dir);
    assert.equal(loaded?.nodeId, "nodeaaaaaaaaaaaaaaaaaaaaa");
    assert.equal(loaded?.tls.certPem, certPem);
    assert.equal(loaded?.tls.keyPem, keyPem);
    assert.equal(loaded?.rootCaKeyPem, root.keyPem, "a manager still gets the operator's root key");
    assert.deepEqual(Object.keys(await listing(paths.dir)), ["swarm-node.crt", "swarm-node.key", "swarm-root-ca.crt", "swarm-root-ca.key"]);
  });
});

test("operator root CA bootstrap writes the node pair through temps and leaves none", async () => {
  await withStateDir(async (dir) => {
    const root = await createRootCA();
    const paths = certificatePaths(dir);
    await mkdir(paths.dir, { recursive: true, mode: 0o700 });
    await writeFile(paths.rootCaCert, root.certPem, { mode: 0o644 });
    await writeFile(paths.rootCaKey, root.keyPem, { mode: 0o600 });
    const id = await loadOrCreateIdentity(dir, { role: MANAGER_ROLE });
    assert.equal(id.created, true);
    assert.deepEqual(Object.keys(await listing(paths.dir)), ["swarm-node.crt", "swarm-node.key", "swarm-root-ca.crt", "swarm-root-ca.key"]);
    assert.deepEqual((await loadIdentity(dir))?.tls, id.tls);
  });
});

test("the real pair writer leaves a recoverable state between each of its steps", async () => {
  const dir = await tempStateDir();
  const snapshots = await tempStateDir();
  try {
    const id = await bootstrap(dir);
    const next = await renewal(id, rootOf(id));
    const paths = certificatePaths(dir);
    const seen: Array<{ step: PairWriteStep; files: string[]; stateDir: string }> = [];
    // At each point, copy certificates/ as it is: that is what a kill -9 there would leave on disk.
    await replaceNodePair(paths, next.certPem, next.keyPem, {
      afterStep: async (step) => {
        const stateDir = join(snapshots, step);
        await cp(paths.dir, join(stateDir, "certificates"), { recursive: true });
        seen.push({ step, files: (await readdir(paths.dir)).sort(), stateDir });
      },
    });
    assert.deepEqual(seen.map((s) => s.step), ["staged", "key-renamed", "cert-renamed"]);

    const [staged, keyRenamed, certRenamed] = seen;
    const temps = staged!.files.filter((f) => f.includes(".tmp-"));
    assert.equal(temps.length, 2, `both temps staged: ${staged!.files.join(", ")}`);
    const suffixes = temps.map((f) => f.replace(/^\.swarm-node\.(key|crt)/, ""));
    assert.match(temps.find((f) => f.startsWith(".swarm-node.key."))!, /^\.swarm-node\.key\.tmp-[0-9a-f]+$/);
    assert.match(temps.find((f) => f.startsWith(".swarm-node.crt."))!, /^\.swarm-node\.crt\.tmp-[0-9a-f]+$/);
    assert.equal(suffixes[0], suffixes[1], "the key and certificate temps share one suffix");
    assert.deepEqual(keyRenamed!.files.filter((f) => f.includes(".tmp-")), temps.filter((f) => f.startsWith(".swarm-node.crt.")), "after the key rename only the certificate temp is left");
    assert.deepEqual(certRenamed!.files, NODE_FILES);

    assert.deepEqual((await loadIdentity(staged!.stateDir))?.tls, id.tls, "crash at 'staged': the old pair");
    const recovered = await loadIdentity(keyRenamed!.stateDir);
    assert.deepEqual([recovered?.tls.certPem, recovered?.tls.keyPem], [next.certPem, next.keyPem], "crash at 'key-renamed': the new pair");
    const done = await loadIdentity(certRenamed!.stateDir);
    assert.deepEqual([done?.tls.certPem, done?.tls.keyPem], [next.certPem, next.keyPem], "crash at 'cert-renamed': the new pair");
    for (const s of seen) assert.deepEqual((await readdir(join(s.stateDir, "certificates"))).sort(), NODE_FILES, `${s.step}: no temps after load`);

    // saveNodeCertificate is that writer behind a key/certificate check: the finished state is the three files.
    const third = await renewal(id, rootOf(id));
    await saveNodeCertificate(dir, third.certPem, third.keyPem);
    assert.deepEqual((await readdir(paths.dir)).sort(), NODE_FILES);
    assert.equal((await loadIdentity(dir))?.tls.certPem, third.certPem);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(snapshots, { recursive: true, force: true });
  }
});
