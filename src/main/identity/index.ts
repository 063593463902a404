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
export { CertificateRenewer, renewCertificate, knownManagers, TEST_RENEW_AFTER_ENV, type RenewerOptions } from "./renewer.js";
export { startNodeRenewer, type RenewableNode } from "./node-renewer.js";
