// PKI helpers shared by the main thread (identity) and the manager (CA).
export * from "./constants.js";
export { generateRsaKeyPair, parsePrivateKey, keyMatchesCert, type KeyPairPem } from "./keys.js";
export { createRootCA, type RootCA, type RootCAOptions } from "./root-ca.js";
export { createKeyAndCsr, createCsrForKey, type KeyAndCsr } from "./csr.js";
export { signNodeCsr, nodeCertDnsNames, type SignRequest } from "./sign-node-cert.js";
export {
  parseNodeCert,
  parseCertBundle,
  verifyChain,
  dnValues,
  certValidity,
  CertificateError,
  type NodeCertInfo,
  type CertProblem,
  type VerifyOptions,
} from "./cert-info.js";
export { rootDigest, rootCertHash } from "./digest.js";
export {
  generateJoinToken,
  generateJoinTokens,
  rotateJoinToken,
  parseJoinToken,
  joinTokensEqual,
  roleForJoinToken,
  INVALID_JOIN_TOKEN,
  JOIN_TOKEN_LENGTH,
  type ParsedJoinToken,
  type JoinTokens,
} from "./join-token.js";
export { nextRenewalDelay } from "./renewal.js";
export { generateUnlockKey, formatUnlockKey, parseUnlockKey, UNLOCK_KEY_BYTES } from "./unlock-key.js";
