// node-forge builds the ASN.1 of certificates and CSRs, but its RSA signing is
// pure JavaScript (~25 ms per signature). forge hands the finished digest to
// `key.sign(md)`, so we give it a stand-in key that signs that digest with
// Node's native RSA (PKCS#1 v1.5 over a SHA-256 DigestInfo), well under 1 ms.
import { constants, privateEncrypt, randomBytes, type KeyObject } from "node:crypto";
import forge from "node-forge";
import { SwarmError } from "../errors.js";

// DER prefix of DigestInfo{ sha256, NULL } followed by the 32-byte hash (RFC 8017 §9.2).
const SHA256_DIGEST_INFO_PREFIX = Buffer.from("3031300d060960864801650304020105000420", "hex");

/** A key object that forge's cert.sign / csr.sign accept. */
export function nativeRsaSigner(key: KeyObject): forge.pki.rsa.PrivateKey {
  if (key.asymmetricKeyType !== "rsa") {
    throw new SwarmError("INVALID_ARGUMENT", `signing key must be RSA, got ${key.asymmetricKeyType ?? "unknown"}`);
  }
  const signer = {
    sign(md: forge.md.MessageDigest): string {
      if (md.algorithm !== "sha256") throw new SwarmError("INTERNAL", `unexpected digest ${md.algorithm}`);
      const hash = Buffer.from(md.digest().getBytes(), "binary");
      const sig = privateEncrypt(
        { key, padding: constants.RSA_PKCS1_PADDING },
        Buffer.concat([SHA256_DIGEST_INFO_PREFIX, hash]),
      );
      return sig.toString("binary");
    },
  };
  // forge only calls sign(); the rest of its RSA key interface is never touched.
  return signer as unknown as forge.pki.rsa.PrivateKey;
}

/** A random positive 20-byte serial number, as cfssl issues. */
export function randomSerialHex(): string {
  const bytes = randomBytes(20);
  // Clear the top bit (a positive INTEGER) and keep the first byte non-zero (minimal DER).
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return bytes.toString("hex");
}

/** cfssl's backdating: the current minute minus the backdate. */
export function backdatedNotBefore(now: number, backdateMs: number): Date {
  return new Date(Math.floor(now / 60_000) * 60_000 - backdateMs);
}
