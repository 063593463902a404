// SwarmKit identifies a root CA by the SHA-256 of its exact PEM bundle bytes
// (not of the DER): the join token carries it, and joiners check it.
import { createHash } from "node:crypto";

/** Lowercase hex SHA-256 of the PEM bundle as given. */
export function rootDigest(caCertPem: string | Uint8Array): string {
  return createHash("sha256").update(caCertPem).digest("hex");
}

/** The Cluster object's RootCA.CACertHash form: "sha256:<hex>". */
export function rootCertHash(caCertPem: string | Uint8Array): string {
  return `sha256:${rootDigest(caCertPem)}`;
}
