// The identity as plain data for the workers (roles in the thread contracts'
// spelling, no file paths).
import type { IdentityData } from "../../shared/contracts/index.js";
import { MANAGER_ROLE } from "../../shared/pki/index.js";
import type { NodeIdentity } from "./identity.js";

export function identityData(id: NodeIdentity): IdentityData {
  return {
    nodeId: id.nodeId,
    role: id.role === MANAGER_ROLE ? "manager" : "worker",
    clusterId: id.clusterId,
    tls: id.tls,
    ...(id.rootCaKeyPem !== undefined ? { rootCaKeyPem: id.rootCaKeyPem } : {}),
  };
}
