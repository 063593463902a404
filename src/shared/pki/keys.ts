// Key generation and key/certificate matching, on Node's native crypto.
// Keygen runs on libuv's thread pool, so it never blocks the event loop.
import { createPrivateKey, generateKeyPair, X509Certificate, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { SwarmError } from "../errors.js";
import { RSA_BITS } from "./constants.js";

const generateKeyPairAsync = promisify(generateKeyPair);

export interface KeyPairPem {
  /** PKCS#8 `PRIVATE KEY` PEM, the format SwarmKit stores. */
  keyPem: string;
  /** SPKI `PUBLIC KEY` PEM. */
  publicKeyPem: string;
}

export async function generateRsaKeyPair(): Promise<KeyPairPem> {
  const { privateKey, publicKey } = await generateKeyPairAsync("rsa", {
    modulusLength: RSA_BITS,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return { keyPem: privateKey, publicKeyPem: publicKey };
}

/** Parses a private key PEM (PKCS#8 or PKCS#1); throws INVALID_ARGUMENT. */
export function parsePrivateKey(keyPem: string): KeyObject {
  try {
    return createPrivateKey(keyPem);
  } catch (err) {
    throw new SwarmError("INVALID_ARGUMENT", `cannot parse private key: ${(err as Error).message}`, { cause: err });
  }
}

/** True when keyPem is the private half of the first certificate in certPem. */
export function keyMatchesCert(keyPem: string, certPem: string): boolean {
  try {
    return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}
