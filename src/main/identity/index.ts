export {
  loadIdentity,
  loadOrCreateIdentity,
  saveNodeCertificate,
  saveRootCA,
  type NodeIdentity,
  type TlsMaterial,
  type LoadOptions,
  type BootstrapOptions,
} from "./identity.js";
export * from "./paths.js";
export { identityData } from "./identity-data.js";
export { joinCluster, requestJoin, saveJoinedIdentity, fetchRootCA, DEFAULT_JOIN_TIMEOUT_MS, type JoinOptions, type JoinResult } from "./join.js";
