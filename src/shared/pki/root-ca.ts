// The cluster's self-signed root CA (SwarmKit: CreateRootCA("swarm-ca")).
import { createPrivateKey } from "node:crypto";
import forge from "node-forge";
import { CERT_BACKDATE_MS, ROOT_CA_VALIDITY_MS, ROOT_CN } from "./constants.js";
import { generateRsaKeyPair } from "./keys.js";
import { backdatedNotBefore, nativeRsaSigner, randomSerialHex } from "./native-signer.js";

const { pki, md } = forge;

export interface RootCA {
  certPem: string;
  /** PKCS#8 PEM. Never written to disk; it lives in the replicated Cluster object. */
  keyPem: string;
}

export interface RootCAOptions {
  cn?: string;
  validityMs?: number;
  now?: number;
}

export async function createRootCA(opts: RootCAOptions = {}): Promise<RootCA> {
  const { keyPem, publicKeyPem } = await generateRsaKeyPair();
  const now = opts.now ?? Date.now();
  const cert = pki.createCertificate();
  cert.publicKey = pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = backdatedNotBefore(now, CERT_BACKDATE_MS);
  // Like cfssl, the backdate is added to the lifetime so the CA still lasts its full term from now.
  cert.validity.notAfter = new Date(
    cert.validity.notBefore.getTime() + (opts.validityMs ?? ROOT_CA_VALIDITY_MS) + CERT_BACKDATE_MS,
  );
  const name = [{ name: "commonName", value: opts.cn ?? ROOT_CN }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(nativeRsaSigner(createPrivateKey(keyPem)), md.sha256.create());
  return { certPem: pki.certificateToPem(cert), keyPem };
}
