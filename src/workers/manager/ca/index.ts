// The manager's certificate authority: signer threads, the signing loop, and the CA/NodeCA services.
export { SignerPool, type SignerPoolOptions } from "./signer-pool.js";
export { SigningLoop, type SigningLoopOptions } from "./signing-loop.js";
export { CaServer, DEFAULT_STATUS_WAIT_MS, type CaServerOptions } from "./server.js";
export { GrpcLeaderLink, forwardingMetadata, type LeaderLink } from "./leader-link.js";
export { issueNodeCertificate, nodeCertificateStatus, INVALID_TOKEN_TEXT, isFinal, apiRole, certRole } from "./issuance.js";
