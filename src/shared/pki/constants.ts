// SwarmKit's CA constants (ca/config.go, ca/certificates.go). Node roles are
// carried in the certificate's OU, so the OU strings are wire facts.

export const MANAGER_ROLE = "swarm-manager";
export const WORKER_ROLE = "swarm-worker";
/** Server name a joining node verifies before it has a certificate. */
export const CA_ROLE = "swarm-ca";
export const ROOT_CN = "swarm-ca";

export type NodeRole = typeof MANAGER_ROLE | typeof WORKER_ROLE;

export function isNodeRole(s: string): s is NodeRole {
  return s === MANAGER_ROLE || s === WORKER_ROLE;
}

const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;

/** RootCAExpiration = 630720000 s (20 years of 365 days). */
export const ROOT_CA_VALIDITY_MS = 630_720_000_000;
/** DefaultNodeCertExpiration = 2160 h. */
export const DEFAULT_NODE_CERT_VALIDITY_MS = 90 * DAY_MS;
/** MinNodeCertExpiration: shorter requests fall back to the default. */
export const MIN_NODE_CERT_VALIDITY_MS = HOUR_MS;
/** CertBackdate: tolerate clock skew between nodes. */
export const CERT_BACKDATE_MS = HOUR_MS;
/** Renewal happens at a random point in this share of the validity. */
export const RENEWAL_LOWER = 0.5;
export const RENEWAL_UPPER = 0.8;

/** RSA modulus for every key we make (node-forge handles RSA only). */
export const RSA_BITS = 2048;
