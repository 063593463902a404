// Issues a node certificate from a CSR (SwarmKit: ParseValidateAndSignCSR with
// its signing policy). Only the CSR's public key is trusted; subject, SANs,
// usages and lifetime all come from the CA's arguments.
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import forge from "node-forge";
import { SwarmError } from "../errors.js";
import {
  CA_ROLE,
  CERT_BACKDATE_MS,
  DEFAULT_NODE_CERT_VALIDITY_MS,
  MANAGER_ROLE,
  MIN_NODE_CERT_VALIDITY_MS,
  isNodeRole,
  type NodeRole,
} from "./constants.js";
import { backdatedNotBefore, nativeRsaSigner, randomSerialHex } from "./native-signer.js";

const { pki, md } = forge;

export interface SignRequest {
  csrPem: string;
  caCertPem: string;
  caKeyPem: string;
  nodeId: string;
  role: NodeRole;
  clusterId: string;
  /** Certificate lifetime; below one hour SwarmKit's 90-day default applies. */
  validityMs?: number;
  now?: number;
}

// SHA-2 with RSA only, as SwarmKit's CSR policy (no SHA-1 / MD5 signatures).
const ALLOWED_CSR_SIGNATURES = new Set([
  pki.oids["sha256WithRSAEncryption"],
  pki.oids["sha384WithRSAEncryption"],
  pki.oids["sha512WithRSAEncryption"],
]);

interface ParsedCA {
  certPem: string;
  keyPem: string;
  cert: forge.pki.Certificate;
  key: KeyObject;
  keyId: string;
}

// The CA rarely changes: keep the last parsed one (per thread) keyed by its PEMs.
let cachedCA: ParsedCA | undefined;

function parseCA(caCertPem: string, caKeyPem: string): ParsedCA {
  if (cachedCA && cachedCA.certPem === caCertPem && cachedCA.keyPem === caKeyPem) return cachedCA;
  let cert: forge.pki.Certificate;
  let key: KeyObject;
  try {
    cert = pki.certificateFromPem(caCertPem);
    key = createPrivateKey(caKeyPem);
  } catch (err) {
    throw new SwarmError("FAILED_PRECONDITION", `CA material unusable: ${(err as Error).message}`, { cause: err });
  }
  if (!new X509Certificate(caCertPem).checkPrivateKey(key)) {
    throw new SwarmError("FAILED_PRECONDITION", "CA key does not match the CA certificate");
  }
  const ski = cert.getExtension("subjectKeyIdentifier") as { subjectKeyIdentifier?: string } | undefined;
  const keyId = ski?.subjectKeyIdentifier
    ? forge.util.hexToBytes(ski.subjectKeyIdentifier)
    : cert.generateSubjectKeyIdentifier().getBytes();
  cachedCA = { certPem: caCertPem, keyPem: caKeyPem, cert, key, keyId };
  return cachedCA;
}

function parseCsr(csrPem: string): forge.pki.CertificateSigningRequest {
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = pki.certificationRequestFromPem(csrPem);
  } catch (err) {
    const msg = (err as Error).message;
    const hint = /not RSA/i.test(msg) ? "CSR must carry an RSA public key" : `malformed CSR: ${msg}`;
    throw new SwarmError("INVALID_ARGUMENT", hint, { cause: err });
  }
  if (!csr.signatureOid || !ALLOWED_CSR_SIGNATURES.has(csr.signatureOid)) {
    throw new SwarmError("INVALID_ARGUMENT", "CSR signature algorithm not allowed (need SHA-2 with RSA)");
  }
  let ok = false;
  try {
    ok = csr.verify();
  } catch {
    ok = false;
  }
  if (!ok) throw new SwarmError("INVALID_ARGUMENT", "CSR signature does not verify");
  return csr;
}

/** Subject alternative names a node certificate carries. */
export function nodeCertDnsNames(nodeId: string, role: NodeRole): string[] {
  // Clients dial managers as "swarm-manager", and joiners as "swarm-ca".
  return role === MANAGER_ROLE ? [role, nodeId, CA_ROLE] : [role, nodeId];
}

export function signNodeCsr(req: SignRequest): string {
  if (!isNodeRole(req.role)) throw new SwarmError("INVALID_ARGUMENT", `unknown node role ${String(req.role)}`);
  if (!req.nodeId || !req.clusterId) throw new SwarmError("INVALID_ARGUMENT", "node ID and cluster ID are required");
  const ca = parseCA(req.caCertPem, req.caKeyPem);
  const csr = parseCsr(req.csrPem);
  const now = req.now ?? Date.now();
  const validity =
    req.validityMs === undefined || req.validityMs < MIN_NODE_CERT_VALIDITY_MS
      ? DEFAULT_NODE_CERT_VALIDITY_MS
      : req.validityMs;

  const cert = pki.createCertificate();
  cert.publicKey = csr.publicKey!;
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = backdatedNotBefore(now, CERT_BACKDATE_MS);
  const notAfter = cert.validity.notBefore.getTime() + validity + CERT_BACKDATE_MS;
  // A leaf never outlives its issuer.
  cert.validity.notAfter = new Date(Math.min(notAfter, ca.cert.validity.notAfter.getTime()));
  // Go's pkix.Name order: O, OU, CN.
  cert.setSubject([
    { name: "organizationName", value: req.clusterId },
    { name: "organizationalUnitName", value: req.role },
    { name: "commonName", value: req.nodeId },
  ]);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true, clientAuth: true },
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: ca.keyId },
    { name: "subjectAltName", altNames: nodeCertDnsNames(req.nodeId, req.role).map((value) => ({ type: 2, value })) },
  ]);
  cert.sign(nativeRsaSigner(ca.key), md.sha256.create());
  return pki.certificateToPem(cert);
}
