// The node's TLS identity as main hands it to the workers (plain data).
import type { NodeRole } from "./common.js";

export interface IdentityData {
  nodeId: string;
  role: NodeRole;
  clusterId: string;
  tls: { caPem: string; certPem: string; keyPem: string };
  /**
   * The root CA key, known to main only on the node that bootstrapped the
   * cluster (it is never written to disk; the first leader stores it in the
   * replicated Cluster object).
   */
  rootCaKeyPem?: string;
}
