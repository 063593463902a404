// Issues a node certificate from a CSR (SwarmKit: ParseValidateAndSignCSR with
// its signing policy). Only the CSR's public key is trusted; subject, SANs,
// usages and lifetime all come from the CA's arguments.
import { createHash, createPrivateKey, sign as cryptoSign, X509Certificate, type KeyObject } from "node:crypto";
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
import { readCsr } from "./csr-info.js";
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

/** Subject alternative names a node certificate carries. */
export function nodeCertDnsNames(nodeId: string, role: NodeRole): string[] {
  // Clients dial managers as "swarm-manager", and joiners as "swarm-ca".
  return role === MANAGER_ROLE ? [role, nodeId, CA_ROLE] : [role, nodeId];
}

export function signNodeCsr(req: SignRequest): string {
  if (!isNodeRole(req.role)) throw new SwarmError("INVALID_ARGUMENT", `unknown node role ${String(req.role)}`);
  if (!req.nodeId || !req.clusterId) throw new SwarmError("INVALID_ARGUMENT", "node ID and cluster ID are required");
  const ca = parseCA(req.caCertPem, req.caKeyPem);
  const csr = readCsr(req.csrPem);
  const now = req.now ?? Date.now();
  const validity =
    req.validityMs === undefined || req.validityMs < MIN_NODE_CERT_VALIDITY_MS
      ? DEFAULT_NODE_CERT_VALIDITY_MS
      : req.validityMs;

  const cert = pki.createCertificate();
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
  // RFC 5280 method 1 (as forge and Go compute it): SHA-1 over the subjectPublicKey bits.
  const ski = createHash("sha1").update(csr.subjectPublicKeyBits).digest().toString("binary");
  const extensions = [
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true, clientAuth: true },
    {
      name: "subjectKeyIdentifier",
      value: forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.OCTETSTRING, false, ski),
    },
    { name: "authorityKeyIdentifier", keyIdentifier: ca.keyId },
    { name: "subjectAltName", altNames: nodeCertDnsNames(req.nodeId, req.role).map((value) => ({ type: 2, value })) },
  ];
  if (csr.keyType === "rsa") {
    cert.publicKey = pki.publicKeyFromAsn1(forge.asn1.fromDer(csr.spkiDer.toString("binary")));
    cert.setExtensions(extensions);
    cert.sign(nativeRsaSigner(ca.key), md.sha256.create());
    return pki.certificateToPem(cert);
  }
  // forge can only encode RSA keys into a certificate: build the TBS with the
  // CA's key as a stand-in, put the requester's SubjectPublicKeyInfo in its
  // place, and sign the finished TBS with Node's crypto.
  cert.publicKey = ca.cert.publicKey;
  cert.setExtensions(extensions);
  return signWithForeignKey(cert, csr.spkiDer, ca.key);
}

const SHA256_WITH_RSA = pki.oids["sha256WithRSAEncryption"]!;

function sha256WithRsaAlgorithm(): forge.asn1.Asn1 {
  const { asn1 } = forge;
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(SHA256_WITH_RSA).getBytes()),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ""),
  ]);
}

// TBSCertificate fields: [0] version, serial, signature, issuer, validity, subject, subjectPublicKeyInfo, …
const TBS_SPKI_INDEX = 6;

function signWithForeignKey(cert: forge.pki.Certificate, spkiDer: Buffer, caKey: KeyObject): string {
  const { asn1 } = forge;
  // getTBSCertificate reads the algorithm from siginfo (cert.sign would set it).
  (cert as unknown as { siginfo: { algorithmOid: string } }).siginfo.algorithmOid = SHA256_WITH_RSA;
  // Present in forge, missing from its typings.
  const tbs = (pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert);
  const fields = tbs.value as forge.asn1.Asn1[];
  fields[TBS_SPKI_INDEX] = asn1.fromDer(spkiDer.toString("binary"));
  const tbsDer = Buffer.from(asn1.toDer(tbs).getBytes(), "binary");
  const signature = cryptoSign("sha256", tbsDer, caKey);
  const certAsn1 = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    sha256WithRsaAlgorithm(),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, "\x00" + signature.toString("binary")),
  ]);
  // Same PEM framing as forge's certificateToPem (CRLF, 64 columns).
  return forge.pem.encode({ type: "CERTIFICATE", body: asn1.toDer(certAsn1).getBytes() });
}
