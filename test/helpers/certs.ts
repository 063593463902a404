// Certificate forging for tests (SwarmKit's cautils.ReDateCert): the same
// certificate (subject, public key, extensions) re-issued by the root with
// other validity dates, e.g. an expired node certificate.
import { randomBytes } from "node:crypto";
import forge from "node-forge";

const { pki, md } = forge;

/** `certPem` re-signed by the CA (`caCertPem`/`caKeyPem`, RSA) with validity [notBefore, notAfter]. */
export function reDateCert(certPem: string, caCertPem: string, caKeyPem: string, notBefore: Date, notAfter: Date): string {
  const orig = pki.certificateFromPem(certPem);
  const ca = pki.certificateFromPem(caCertPem);
  const cert = pki.createCertificate();
  cert.publicKey = orig.publicKey;
  // A positive serial: the first byte's high bit clear.
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  cert.serialNumber = serial.toString("hex");
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject(orig.subject.attributes);
  cert.setIssuer(ca.subject.attributes);
  // Parsed extensions keep their encoded value, so forge writes them back unchanged.
  cert.setExtensions(orig.extensions);
  cert.sign(pki.privateKeyFromPem(caKeyPem), md.sha256.create());
  return pki.certificateToPem(cert);
}
