// Where a node keeps its TLS identity (SwarmKit's names, under <state-dir>/certificates).
import { join } from "node:path";

export const CERT_DIR_NAME = "certificates";
export const ROOT_CA_CERT_FILE = "swarm-root-ca.crt";
export const NODE_CERT_FILE = "swarm-node.crt";
export const NODE_KEY_FILE = "swarm-node.key";
/** An operator-supplied root CA key (SwarmKit's name); only read, never written by swarmd. */
export const ROOT_CA_KEY_FILE = "swarm-root-ca.key";

export const CERT_FILE_MODE = 0o644;
export const KEY_FILE_MODE = 0o600;
// Stricter than SwarmKit's 0755: the state dir's own checks require private subdirectories.
export const CERT_DIR_MODE = 0o700;

export interface CertificatePaths {
  dir: string;
  rootCaCert: string;
  rootCaKey: string;
  nodeCert: string;
  nodeKey: string;
}

export function certificatePaths(stateDir: string): CertificatePaths {
  const dir = join(stateDir, CERT_DIR_NAME);
  return {
    dir,
    rootCaCert: join(dir, ROOT_CA_CERT_FILE),
    rootCaKey: join(dir, ROOT_CA_KEY_FILE),
    nodeCert: join(dir, NODE_CERT_FILE),
    nodeKey: join(dir, NODE_KEY_FILE),
  };
}
