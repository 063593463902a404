import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile, mkdir } from "node:fs/promises";
import { execFile } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SwarmError } from "../../src/shared/errors.js";
import { createEcCsr } from "../helpers/ec-csr.js";
import { loadIdentity, loadOrCreateIdentity, saveNodeCertificate } from "../../src/main/identity/index.js";
import { MANAGER_ROLE, WORKER_ROLE, createKeyAndCsr, createRootCA, keyMatchesCert, signNodeCsr, verifyChain } from "../../src/shared/pki/index.js";

async function tempStateDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "swarm-identity-"));
}

function failsNaming(file: string, pattern: RegExp, code?: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof SwarmError, String(e));
    assert.ok(e.message.includes(file), `message names ${file}: ${e.message}`);
    assert.match(e.message, pattern);
    if (code) assert.equal(e.code, code);
    return true;
  };
}

test("bootstrap writes the three files with SwarmKit's names and modes; a restart reloads the same identity", async () => {
  const dir = await tempStateDir();
  try {
    const first = await loadOrCreateIdentity(dir, { role: MANAGER_ROLE });
    assert.equal(first.created, true);
    assert.equal(first.role, MANAGER_ROLE);
    assert.equal(first.nodeId.length, 25);
    assert.equal(first.clusterId.length, 25);
    assert.ok(first.rootCaKeyPem && keyMatchesCert(first.rootCaKeyPem, first.tls.caPem), "root CA key returned to the caller");
    verifyChain(first.tls.certPem, first.tls.caPem);

    const certDir = join(dir, "certificates");
    assert.deepEqual((await readdir(certDir)).sort(), ["swarm-node.crt", "swarm-node.key", "swarm-root-ca.crt"]);
    assert.equal((await stat(join(certDir, "swarm-node.key"))).mode & 0o777, 0o600);
    assert.equal((await stat(join(certDir, "swarm-node.crt"))).mode & 0o777, 0o644);
    assert.equal((await stat(join(certDir, "swarm-root-ca.crt"))).mode & 0o777, 0o644);
    assert.equal(await readFile(join(certDir, "swarm-root-ca.crt"), "utf8"), first.tls.caPem);
    assert.ok(!(await readdir(dir)).some((n) => n.includes("tmp")), "no temporary files left behind");

    const again = await loadOrCreateIdentity(dir, { role: WORKER_ROLE });
    assert.equal(again.created, false);
    assert.equal(again.rootCaKeyPem, undefined, "the root CA key is not on disk");
    assert.deepEqual(
      [again.nodeId, again.role, again.clusterId, again.tls],
      [first.nodeId, MANAGER_ROLE, first.clusterId, first.tls],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("bootstrap honours a given node ID, cluster ID and role", async () => {
  const dir = await tempStateDir();
  try {
    const id = await loadOrCreateIdentity(dir, { role: WORKER_ROLE, nodeId: "nodefixedaaaaaaaaaaaaaaaa", clusterId: "clusterfixedaaaaaaaaaaaaa" });
    assert.deepEqual([id.nodeId, id.role, id.clusterId], ["nodefixedaaaaaaaaaaaaaaaa", WORKER_ROLE, "clusterfixedaaaaaaaaaaaaa"]);
    assert.equal(await loadIdentity(await tempStateDirGone()), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

async function tempStateDirGone(): Promise<string> {
  const d = await tempStateDir();
  await rm(d, { recursive: true });
  return d;
}

test("problems on restart are reported naming the file", async () => {
  const dir = await tempStateDir();
  const certDir = join(dir, "certificates");
  const keyPath = join(certDir, "swarm-node.key");
  const certPath = join(certDir, "swarm-node.crt");
  const rootPath = join(certDir, "swarm-root-ca.crt");
  try {
    const id = await loadOrCreateIdentity(dir, { role: MANAGER_ROLE });

    // A key readable by others.
    await chmod(keyPath, 0o644);
    await assert.rejects(loadIdentity(dir), failsNaming(keyPath, /mode 0644/, "PERMISSION_DENIED"));
    await chmod(keyPath, 0o600);

    // A group-writable certificate.
    await chmod(certPath, 0o664);
    await assert.rejects(loadIdentity(dir), failsNaming(certPath, /mode 0664/, "PERMISSION_DENIED"));
    await chmod(certPath, 0o644);

    // The wrong key.
    const stranger = await createKeyAndCsr();
    await writeFile(keyPath, stranger.keyPem);
    await assert.rejects(loadIdentity(dir), failsNaming(keyPath, /does not match/));
    await writeFile(keyPath, "garbage");
    await assert.rejects(loadIdentity(dir), failsNaming(keyPath, /cannot parse private key/));
    await writeFile(keyPath, id.tls.keyPem);

    // A tampered certificate: the CN in the signed body edited, DER still well-formed.
    const der = Buffer.from(id.tls.certPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
    const at = der.indexOf(Buffer.from(id.nodeId));
    assert.ok(at > 0);
    der[at] = der[at] === 0x61 ? 0x62 : 0x61;
    const tampered = `-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END CERTIFICATE-----\n`;
    await writeFile(certPath, tampered);
    await assert.rejects(loadIdentity(dir), failsNaming(certPath, /not signed by the root CA/));
    await writeFile(certPath, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    await assert.rejects(loadIdentity(dir), failsNaming(certPath, /cannot parse certificate/));
    await writeFile(certPath, id.tls.certPem);

    // A certificate from another CA, with its own matching key.
    const otherCa = await createRootCA();
    const foreign = signNodeCsr({ csrPem: stranger.csrPem, caCertPem: otherCa.certPem, caKeyPem: otherCa.keyPem, nodeId: id.nodeId, role: MANAGER_ROLE, clusterId: id.clusterId });
    await saveNodeCertificate(dir, foreign, stranger.keyPem);
    await assert.rejects(loadIdentity(dir), failsNaming(certPath, /not signed by the root CA/));
    await saveNodeCertificate(dir, id.tls.certPem, id.tls.keyPem);
    assert.equal((await stat(keyPath)).mode & 0o777, 0o600);

    // Expired: refused, unless allowExpired.
    const later = Date.now() + 91 * 24 * 3600_000;
    await assert.rejects(loadIdentity(dir, { now: later }), failsNaming(certPath, /expired.*--force-new-cluster/));
    assert.equal((await loadIdentity(dir, { now: later, allowExpired: true }))?.nodeId, id.nodeId);

    // Garbage root bundle.
    await writeFile(rootPath, "not a certificate");
    await assert.rejects(loadIdentity(dir), failsNaming(rootPath, /no certificate found/));
    await writeFile(rootPath, id.tls.caPem);

    // A missing piece.
    await rm(keyPath);
    await assert.rejects(loadIdentity(dir), failsNaming(keyPath, /missing/, "NOT_FOUND"));
    await assert.rejects(loadOrCreateIdentity(dir, { role: MANAGER_ROLE }), failsNaming(keyPath, /missing/));
    await writeFile(keyPath, id.tls.keyPem, { mode: 0o600 });

    assert.equal((await loadIdentity(dir))?.nodeId, id.nodeId, "restored files load again");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("bootstrap into an existing empty certificates directory, and next to unrelated files", async () => {
  const dir = await tempStateDir();
  try {
    await mkdir(join(dir, "certificates"));
    const a = await loadOrCreateIdentity(dir, { role: MANAGER_ROLE });
    assert.equal(a.created, true);
    await rm(join(dir, "certificates"), { recursive: true });
    await mkdir(join(dir, "certificates"));
    await writeFile(join(dir, "certificates", "README"), "x");
    const b = await loadOrCreateIdentity(dir, { role: MANAGER_ROLE });
    assert.equal(b.created, true);
    assert.equal((await loadIdentity(dir))?.nodeId, b.nodeId);
    assert.equal((await stat(join(dir, "certificates", "swarm-node.key"))).mode & 0o777, 0o600);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a renewal whose certificate cannot be written leaves the old key and certificate in place", async () => {
  const dir = await tempStateDir();
  try {
    const id = await loadOrCreateIdentity(dir, { role: MANAGER_ROLE });
    // An ECDSA key (as a Go node's) is smaller than its certificate: a file size limit of 1 KiB lets the key through and makes writing the certificate fail (EFBIG).
    const { keyPem, csrPem } = createEcCsr({});
    const certPem = signNodeCsr({ csrPem, caCertPem: id.tls.caPem, caKeyPem: id.rootCaKeyPem!, nodeId: id.nodeId, role: MANAGER_ROLE, clusterId: id.clusterId });
    assert.ok(Buffer.byteLength(keyPem) <= 1024 && Buffer.byteLength(certPem) > 1024, `sizes: key ${keyPem.length}, cert ${certPem.length}`);
    const identityModule = new URL("../../src/main/identity/index.js", import.meta.url).href;
    const script = `import { saveNodeCertificate } from ${JSON.stringify(identityModule)};
      saveNodeCertificate(process.env.DIR, process.env.CERT, process.env.KEY).then(() => console.log("saved"), (e) => console.log("failed", e.code));`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile("bash", ["-c", 'ulimit -f 1 && exec "$0" --input-type=module -e "$1"', process.execPath, script], { env: { ...process.env, DIR: dir, CERT: certPem, KEY: keyPem } }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      );
    });
    assert.match(out, /failed EFBIG/);
    const after = await loadIdentity(dir);
    assert.equal(after?.tls.keyPem, id.tls.keyPem, "the old key is still on disk");
    assert.equal(after?.tls.certPem, id.tls.certPem);
    assert.deepEqual((await readdir(join(dir, "certificates"))).filter((f) => f.includes(".tmp-")), [], "no temporary files left");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
