import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, createPrivateKey } from "node:crypto";
import forge from "node-forge";
import {
  CA_ROLE,
  CERT_BACKDATE_MS,
  CertificateError,
  DEFAULT_NODE_CERT_VALIDITY_MS,
  MANAGER_ROLE,
  ROOT_CA_VALIDITY_MS,
  WORKER_ROLE,
  createKeyAndCsr,
  createRootCA,
  keyMatchesCert,
  parseNodeCert,
  signNodeCsr,
  verifyChain,
} from "../../src/shared/pki/index.js";
import { SwarmError } from "../../src/shared/errors.js";

const HOUR = 3600_000;
const ca = await createRootCA();
const otherCa = await createRootCA();
const node = await createKeyAndCsr("ignored", WORKER_ROLE, "ignored");

function lines(dn: string): string[] {
  return dn.split("\n");
}

test("root CA: CN swarm-ca, self-signed CA with certSign/cRLSign, 20 years, backdated 1 h", () => {
  const now = Date.now();
  const cert = new X509Certificate(ca.certPem);
  assert.deepEqual(lines(cert.subject), ["CN=swarm-ca"]);
  assert.equal(cert.issuer, cert.subject);
  assert.equal(cert.ca, true);
  assert.ok(cert.verify(cert.publicKey));
  assert.ok(cert.checkPrivateKey(createPrivateKey(ca.keyPem)));
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  assert.ok(notBefore <= now - CERT_BACKDATE_MS && notBefore > now - CERT_BACKDATE_MS - 2 * 60_000, cert.validFrom);
  assert.ok(Math.abs(notAfter - (now + ROOT_CA_VALIDITY_MS)) < 2 * 60_000, cert.validTo);
  const f = forge.pki.certificateFromPem(ca.certPem);
  const ku = f.getExtension("keyUsage") as { keyCertSign?: boolean; cRLSign?: boolean; digitalSignature?: boolean; critical?: boolean };
  assert.equal(ku.keyCertSign, true);
  assert.equal(ku.cRLSign, true);
  assert.equal(ku.critical, true);
  const bc = f.getExtension("basicConstraints") as { cA?: boolean; critical?: boolean };
  assert.equal(bc.cA, true);
  assert.equal(bc.critical, true);
  assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----/);
  assert.equal(createPrivateKey(ca.keyPem).asymmetricKeyDetails?.modulusLength, 2048);
});

test("two root CAs are distinct", () => {
  assert.notEqual(ca.certPem, otherCa.certPem);
  assert.equal(keyMatchesCert(ca.keyPem, otherCa.certPem), false);
});

function sign(role: typeof MANAGER_ROLE | typeof WORKER_ROLE, extra: Partial<Parameters<typeof signNodeCsr>[0]> = {}): string {
  return signNodeCsr({
    csrPem: node.csrPem,
    caCertPem: ca.certPem,
    caKeyPem: ca.keyPem,
    nodeId: "node1aaaaaaaaaaaaaaaaaaaaa",
    role,
    clusterId: "clusteraaaaaaaaaaaaaaaaaa",
    ...extra,
  });
}

test("worker certificate: subject, SANs, EKU, key usage, 90 days, backdated 1 h, chains", () => {
  const now = Date.now();
  const pem = sign(WORKER_ROLE);
  const cert = new X509Certificate(pem);
  assert.deepEqual(lines(cert.subject), ["O=clusteraaaaaaaaaaaaaaaaaa", "OU=swarm-worker", "CN=node1aaaaaaaaaaaaaaaaaaaaa"]);
  assert.deepEqual(lines(cert.issuer), ["CN=swarm-ca"]);
  assert.equal(cert.subjectAltName, "DNS:swarm-worker, DNS:node1aaaaaaaaaaaaaaaaaaaaa");
  assert.equal(cert.ca, false);
  assert.deepEqual([...(cert.keyUsage ?? [])].sort(), ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
  assert.ok(cert.checkPrivateKey(createPrivateKey(node.keyPem)));
  assert.ok(cert.verify(new X509Certificate(ca.certPem).publicKey));
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  assert.ok(notBefore <= now - HOUR && notBefore > now - HOUR - 2 * 60_000, cert.validFrom);
  assert.ok(Math.abs(notAfter - (now + DEFAULT_NODE_CERT_VALIDITY_MS)) < 2 * 60_000, cert.validTo);
  const f = forge.pki.certificateFromPem(pem);
  const ku = f.getExtension("keyUsage") as { digitalSignature?: boolean; keyEncipherment?: boolean; keyCertSign?: boolean };
  assert.equal(ku.digitalSignature, true);
  assert.equal(ku.keyEncipherment, true);
  assert.notEqual(ku.keyCertSign, true);
  const aki = f.getExtension("authorityKeyIdentifier") as { keyIdentifier?: string } | undefined;
  assert.ok(aki, "authorityKeyIdentifier present");
  assert.equal(verifyChain(pem, ca.certPem).length, 2);
  assert.deepEqual(
    { ...parseNodeCert(pem), notBefore: undefined, notAfter: undefined },
    { nodeId: "node1aaaaaaaaaaaaaaaaaaaaa", role: WORKER_ROLE, clusterId: "clusteraaaaaaaaaaaaaaaaaa", notBefore: undefined, notAfter: undefined },
  );
  assert.equal(parseNodeCert(pem).notAfter.getTime(), notAfter);
});

test("manager certificate also answers to swarm-ca", () => {
  const cert = new X509Certificate(sign(MANAGER_ROLE));
  assert.equal(cert.subjectAltName, `DNS:swarm-manager, DNS:node1aaaaaaaaaaaaaaaaaaaaa, DNS:${CA_ROLE}`);
  assert.equal(cert.checkHost("swarm-manager"), "swarm-manager");
  assert.equal(cert.checkHost("swarm-ca"), "swarm-ca");
  assert.equal(parseNodeCert(cert.toString()).role, MANAGER_ROLE);
});

test("validity: custom lifetime honoured, below one hour falls back to 90 days", () => {
  const now = Date.now();
  const day = new X509Certificate(sign(WORKER_ROLE, { validityMs: 24 * HOUR, now }));
  assert.ok(Math.abs(Date.parse(day.validTo) - (now + 24 * HOUR)) < 2 * 60_000);
  const tiny = new X509Certificate(sign(WORKER_ROLE, { validityMs: 60_000, now }));
  assert.ok(Math.abs(Date.parse(tiny.validTo) - (now + DEFAULT_NODE_CERT_VALIDITY_MS)) < 2 * 60_000);
});

test("a CSR with a forged subject and SANs still gets the subject the CA chose", async () => {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 1024 });
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = keys.publicKey;
  csr.setSubject([
    { name: "organizationName", value: "evil-cluster" },
    { name: "organizationalUnitName", value: MANAGER_ROLE },
    { name: "commonName", value: "admin" },
  ]);
  csr.setAttributes([
    { name: "extensionRequest", extensions: [{ name: "subjectAltName", altNames: [{ type: 2, value: "evil.example" }] }, { name: "basicConstraints", cA: true }] },
  ]);
  csr.sign(keys.privateKey, forge.md.sha256.create());
  const pem = sign(WORKER_ROLE, { csrPem: forge.pki.certificationRequestToPem(csr), nodeId: "chosen", clusterId: "realcluster" });
  const cert = new X509Certificate(pem);
  assert.deepEqual(lines(cert.subject), ["O=realcluster", "OU=swarm-worker", "CN=chosen"]);
  assert.equal(cert.subjectAltName, "DNS:swarm-worker, DNS:chosen");
  assert.equal(cert.ca, false);
});

test("a CSR whose signature does not verify is refused", () => {
  const other = forge.pki.rsa.generateKeyPair({ bits: 1024 });
  const csr = forge.pki.certificationRequestFromPem(node.csrPem);
  csr.publicKey = other.publicKey; // claims a key it did not sign with
  (csr as unknown as { certificationRequestInfo: unknown }).certificationRequestInfo = null; // re-encode the changed body
  const swappedKey = forge.pki.certificationRequestToPem(csr);
  assert.notEqual(swappedKey, node.csrPem);
  const refused = (e: unknown): boolean => e instanceof SwarmError && e.code === "INVALID_ARGUMENT" && /does not verify/.test(e.message);
  assert.throws(() => sign(WORKER_ROLE, { csrPem: swappedKey }), refused);
  // Flip one bit of the signature itself.
  const der = Buffer.from(node.csrPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  der[der.length - 5]! ^= 0x01;
  const badSig = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END CERTIFICATE REQUEST-----\n`;
  assert.throws(() => sign(WORKER_ROLE, { csrPem: badSig }), refused);
  assert.throws(() => sign(WORKER_ROLE, { csrPem: "garbage" }), (e: unknown) => e instanceof SwarmError && e.code === "INVALID_ARGUMENT");
});

test("a SHA-1 CSR is refused", () => {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 1024 });
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = keys.publicKey;
  csr.setSubject([{ name: "commonName", value: "x" }]);
  csr.sign(keys.privateKey, forge.md.sha1.create());
  assert.throws(() => sign(WORKER_ROLE, { csrPem: forge.pki.certificationRequestToPem(csr) }), /signature algorithm not allowed/);
});

test("signing with a CA key that does not match the CA certificate fails", () => {
  assert.throws(() => sign(WORKER_ROLE, { caKeyPem: otherCa.keyPem }), (e: unknown) => e instanceof SwarmError && e.code === "FAILED_PRECONDITION");
});

test("chain verification fails against a different CA, and for expired certificates", () => {
  const pem = sign(WORKER_ROLE);
  assert.throws(() => verifyChain(pem, otherCa.certPem), (e: unknown) => e instanceof CertificateError && e.problem === "unknown-authority");
  // A bundle holding both roots still verifies.
  assert.equal(verifyChain(pem, otherCa.certPem + ca.certPem).length, 2);
  const later = Date.now() + DEFAULT_NODE_CERT_VALIDITY_MS + 2 * HOUR;
  assert.throws(() => verifyChain(pem, ca.certPem, { now: later }), (e: unknown) => e instanceof CertificateError && e.problem === "expired");
  assert.equal(verifyChain(pem, ca.certPem, { now: later, allowExpired: true }).length, 2);
  assert.throws(() => verifyChain(pem, ca.certPem, { now: Date.now() - 3 * HOUR }), (e: unknown) => e instanceof CertificateError && e.problem === "not-yet-valid");
});

test("a leaf signed by another CA's key but naming our CA as issuer does not verify", () => {
  const forged = signNodeCsr({ csrPem: node.csrPem, caCertPem: otherCa.certPem, caKeyPem: otherCa.keyPem, nodeId: "n", role: MANAGER_ROLE, clusterId: "c" });
  // Both CAs are called swarm-ca, so only the signature tells them apart.
  assert.throws(() => verifyChain(forged, ca.certPem), CertificateError);
});

test("keyMatchesCert detects a mismatched key", async () => {
  const pem = sign(WORKER_ROLE);
  assert.equal(keyMatchesCert(node.keyPem, pem), true);
  const stranger = await createKeyAndCsr();
  assert.equal(keyMatchesCert(stranger.keyPem, pem), false);
  assert.equal(keyMatchesCert("not a key", pem), false);
});

test("parseNodeCert rejects a certificate without a node role", () => {
  assert.throws(() => parseNodeCert(ca.certPem), (e: unknown) => e instanceof CertificateError && /node role/.test(e.message));
  assert.throws(() => parseNodeCert("nothing here"), (e: unknown) => e instanceof CertificateError && e.problem === "malformed");
});
