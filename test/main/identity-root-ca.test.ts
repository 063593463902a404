// Identity logic for an operator-supplied root CA (swarm-root-ca.crt/.key
// placed before the first start) and for expired node certificates
// (--force-new-cluster on a manager renews through its own CA).
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SwarmError } from "../../src/shared/errors.js";
import { CertificateRenewer, loadIdentity, loadOrCreateIdentity } from "../../src/main/identity/index.js";
import {
  MANAGER_ROLE,
  WORKER_ROLE,
  createKeyAndCsr,
  createRootCA,
  keyMatchesCert,
  parseNodeCert,
  signNodeCsr,
  verifyChain,
  type RootCA,
} from "../../src/shared/pki/index.js";
import { newId } from "../../src/shared/ids.js";
import { reDateCert } from "../helpers/certs.js";
import { tempDir } from "./helpers.js";

function failsNaming(file: string, pattern: RegExp, code?: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof SwarmError, String(e));
    assert.ok(e.message.includes(file), `message names ${file}: ${e.message}`);
    assert.match(e.message, pattern);
    if (code) assert.equal(e.code, code);
    return true;
  };
}

async function writeRoot(stateDir: string, root: { certPem: string; keyPem?: string }): Promise<string> {
  const dir = join(stateDir, "certificates");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, "swarm-root-ca.crt"), root.certPem, { mode: 0o644 });
  if (root.keyPem !== undefined) await writeFile(join(dir, "swarm-root-ca.key"), root.keyPem, { mode: 0o600 });
  return dir;
}

/** SwarmKit's generateCerts: root cert + key and a node certificate for `role` signed by it. */
async function writeFullIdentity(stateDir: string, root: RootCA, role: typeof MANAGER_ROLE | typeof WORKER_ROLE): Promise<{ nodeId: string; certPem: string }> {
  const dir = await writeRoot(stateDir, root);
  const nodeId = newId();
  const { keyPem, csrPem } = await createKeyAndCsr();
  const certPem = signNodeCsr({ csrPem, caCertPem: root.certPem, caKeyPem: root.keyPem, nodeId, role, clusterId: newId() });
  await writeFile(join(dir, "swarm-node.crt"), certPem, { mode: 0o644 });
  await writeFile(join(dir, "swarm-node.key"), keyPem, { mode: 0o600 });
  return { nodeId, certPem };
}

test("a root CA certificate and key in certificates/ bootstrap the new cluster instead of a generated root", async () => {
  const dir = await tempDir("swarmd-rootca-");
  try {
    const root = await createRootCA({ cn: "externalRoot" });
    await writeRoot(dir.path, root);
    assert.equal(await loadIdentity(dir.path), undefined, "a root alone is no identity yet");
    const id = await loadOrCreateIdentity(dir.path, { role: MANAGER_ROLE });
    assert.equal(id.created, true);
    assert.equal(id.tls.caPem, root.certPem, "the operator's root, byte for byte");
    assert.equal(id.rootCaKeyPem, root.keyPem, "its key goes to the cluster object");
    verifyChain(id.tls.certPem, root.certPem);
    const certDir = join(dir.path, "certificates");
    assert.deepEqual((await readdir(certDir)).sort(), ["swarm-node.crt", "swarm-node.key", "swarm-root-ca.crt", "swarm-root-ca.key"]);
    assert.equal(await readFile(join(certDir, "swarm-root-ca.crt"), "utf8"), root.certPem);

    // A restart loads the same identity and still hands over the key (a manager).
    const again = await loadIdentity(dir.path);
    assert.equal(again?.nodeId, id.nodeId);
    assert.equal(again?.rootCaKeyPem, root.keyPem);
  } finally {
    await dir.remove();
  }
});

test("a full identity with a root key (SwarmKit's generateCerts) loads with the key for a manager, without it for a worker", async () => {
  const root = await createRootCA({ cn: "externalRoot" });
  const m = await tempDir("swarmd-rootca-");
  const w = await tempDir("swarmd-rootca-");
  try {
    const seeded = await writeFullIdentity(m.path, root, MANAGER_ROLE);
    const id = await loadIdentity(m.path);
    assert.equal(id?.nodeId, seeded.nodeId);
    assert.equal(id?.rootCaKeyPem, root.keyPem);
    await writeFullIdentity(w.path, root, WORKER_ROLE);
    const wid = await loadIdentity(w.path);
    assert.equal(wid?.role, WORKER_ROLE);
    assert.equal(wid?.rootCaKeyPem, undefined);
  } finally {
    await m.remove();
    await w.remove();
  }
});

test("an operator root CA is validated: key matches, certificate is a CA, key is private, both files present", async () => {
  const root = await createRootCA();
  const other = await createRootCA();
  const cases: Array<{ what: string; setup: (stateDir: string) => Promise<void>; file: string; pattern: RegExp; code?: string }> = [
    {
      what: "key of another root",
      setup: async (d) => void (await writeRoot(d, { certPem: root.certPem, keyPem: other.keyPem })),
      file: "swarm-root-ca.key",
      pattern: /root CA key does not match the certificate in swarm-root-ca.crt/,
    },
    {
      what: "not a CA",
      setup: async (d) => {
        const { keyPem, csrPem } = await createKeyAndCsr();
        const leaf = signNodeCsr({ csrPem, caCertPem: root.certPem, caKeyPem: root.keyPem, nodeId: newId(), role: MANAGER_ROLE, clusterId: newId() });
        await writeRoot(d, { certPem: leaf, keyPem });
      },
      file: "swarm-root-ca.crt",
      pattern: /not a CA/,
    },
    {
      what: "key readable by others",
      setup: async (d) => {
        const dir = await writeRoot(d, root);
        await chmod(join(dir, "swarm-root-ca.key"), 0o644);
      },
      file: "swarm-root-ca.key",
      pattern: /chmod 600/,
      code: "PERMISSION_DENIED",
    },
    {
      what: "key without certificate",
      setup: async (d) => {
        const dir = await writeRoot(d, root);
        await rm(join(dir, "swarm-root-ca.crt"));
      },
      file: "swarm-root-ca.key",
      pattern: /swarm-root-ca.crt is missing/,
      code: "NOT_FOUND",
    },
    {
      what: "certificate without key",
      setup: async (d) => void (await writeRoot(d, { certPem: root.certPem })),
      file: "swarm-root-ca.crt",
      pattern: /without a node certificate.*swarm-root-ca.key/,
      code: "NOT_FOUND",
    },
    {
      what: "garbage key",
      setup: async (d) => void (await writeRoot(d, { certPem: root.certPem, keyPem: "not a key" })),
      file: "swarm-root-ca.key",
      pattern: /cannot parse private key/,
    },
  ];
  for (const c of cases) {
    const dir = await tempDir("swarmd-rootca-");
    try {
      await c.setup(dir.path);
      await assert.rejects(loadOrCreateIdentity(dir.path, { role: MANAGER_ROLE }), failsNaming(c.file, c.pattern, c.code), c.what);
      // Nothing was generated in its place.
      const files = await readdir(join(dir.path, "certificates")).catch(() => [] as string[]);
      assert.ok(!files.includes("swarm-node.crt"), `${c.what}: no node certificate written`);
    } finally {
      await dir.remove();
    }
  }
});

test("an expired manager certificate fails to load, naming it, unless allowExpired (--force-new-cluster); a worker's always fails", async () => {
  const root = await createRootCA({ cn: "externalRoot" });
  const m = await tempDir("swarmd-expired-");
  const w = await tempDir("swarmd-expired-");
  try {
    const now = Date.now();
    const seeded = await writeFullIdentity(m.path, root, MANAGER_ROLE);
    const certPath = join(m.path, "certificates", "swarm-node.crt");
    const expired = reDateCert(seeded.certPem, root.certPem, root.keyPem, new Date(now - 3600_000), new Date(now - 1000));
    assert.ok(parseNodeCert(expired).notAfter.getTime() < now);
    await writeFile(certPath, expired);
    await assert.rejects(loadIdentity(m.path), failsNaming(certPath, /certificate has expired.*--force-new-cluster/, "FAILED_PRECONDITION"));
    const forced = await loadIdentity(m.path, { allowExpired: true });
    assert.equal(forced?.nodeId, seeded.nodeId);
    assert.equal(forced?.expired, true);
    assert.equal(forced?.rootCaKeyPem, root.keyPem);

    // After a renewal the key is a new one: the old expired certificate still fails on its expiry first.
    const fresh = await createKeyAndCsr();
    await writeFile(join(m.path, "certificates", "swarm-node.key"), fresh.keyPem, { mode: 0o600 });
    await assert.rejects(loadIdentity(m.path), failsNaming(certPath, /certificate has expired/));

    const ws = await writeFullIdentity(w.path, root, WORKER_ROLE);
    const wCertPath = join(w.path, "certificates", "swarm-node.crt");
    await writeFile(wCertPath, reDateCert(ws.certPem, root.certPem, root.keyPem, new Date(now - 3600_000), new Date(now - 1000)));
    await assert.rejects(loadIdentity(w.path, { allowExpired: true }), failsNaming(wCertPath, /expired.*worker cannot renew.*join again/));
  } finally {
    await m.remove();
    await w.remove();
  }
});

test("the renewer renews an expired certificate through issueExpired (no TLS), saves it and hands it over", { timeout: 30_000 }, async () => {
  const root = await createRootCA();
  const dir = await tempDir("swarmd-expired-");
  try {
    const now = Date.now();
    const seeded = await writeFullIdentity(dir.path, root, MANAGER_ROLE);
    const certPath = join(dir.path, "certificates", "swarm-node.crt");
    await writeFile(certPath, reDateCert(seeded.certPem, root.certPem, root.keyPem, new Date(now - 3600_000), new Date(now - 1000)));
    const id = (await loadIdentity(dir.path, { allowExpired: true }))!;
    const info = parseNodeCert(id.tls.certPem);
    let asked = 0;
    let managersAsked = 0;
    let handed: string | undefined;
    let renewer: CertificateRenewer | undefined;
    const done = new Promise<void>((resolve) => {
      renewer = new CertificateRenewer({
        stateDir: dir.path,
        tls: id.tls,
        managers: async () => {
          managersAsked++;
          return [];
        },
        issueExpired: async (csrPem) => {
          asked++;
          return signNodeCsr({ csrPem, caCertPem: root.certPem, caKeyPem: root.keyPem, nodeId: info.nodeId, role: info.role, clusterId: info.clusterId });
        },
        onRenewed: async (tls) => {
          handed = tls.certPem;
          resolve();
        },
      });
      renewer.start();
    });
    const keepAlive = setInterval(() => undefined, 1000);
    await done.finally(() => clearInterval(keepAlive));
    await renewer!.stop();
    assert.equal(asked, 1);
    assert.equal(managersAsked, 0, "an expired certificate is not presented to any manager");
    const onDisk = await readFile(certPath, "utf8");
    assert.equal(onDisk, handed);
    const renewed = parseNodeCert(onDisk);
    assert.ok(renewed.notAfter.getTime() > Date.now(), "NotAfter in the future");
    assert.equal(renewed.nodeId, info.nodeId);
    assert.ok(keyMatchesCert(await readFile(join(dir.path, "certificates", "swarm-node.key"), "utf8"), onDisk));
    // And it loads without --force-new-cluster now.
    assert.equal((await loadIdentity(dir.path))?.expired, undefined);
  } finally {
    await dir.remove();
  }
});
