// A fresh node key and a certificate signing request for it. The CA ignores
// the CSR's subject (it picks CN/OU/O itself); the subject here is only a hint.
import { createPrivateKey } from "node:crypto";
import forge from "node-forge";
import { generateRsaKeyPair } from "./keys.js";
import { nativeRsaSigner } from "./native-signer.js";

const { pki, md } = forge;

export interface KeyAndCsr {
  keyPem: string;
  csrPem: string;
}

export async function createKeyAndCsr(cn?: string, ou?: string, o?: string): Promise<KeyAndCsr> {
  const { keyPem, publicKeyPem } = await generateRsaKeyPair();
  return { keyPem, csrPem: createCsrForKey(keyPem, publicKeyPem, cn, ou, o) };
}

/** A CSR for an existing key (renewals keep the key when they want to). */
export function createCsrForKey(keyPem: string, publicKeyPem: string, cn?: string, ou?: string, o?: string): string {
  const csr = pki.createCertificationRequest();
  csr.publicKey = pki.publicKeyFromPem(publicKeyPem);
  const subject: forge.pki.CertificateField[] = [];
  if (o !== undefined) subject.push({ name: "organizationName", value: o });
  if (ou !== undefined) subject.push({ name: "organizationalUnitName", value: ou });
  if (cn !== undefined) subject.push({ name: "commonName", value: cn });
  csr.setSubject(subject);
  csr.sign(nativeRsaSigner(createPrivateKey(keyPem)), md.sha256.create());
  return pki.certificationRequestToPem(csr);
}
