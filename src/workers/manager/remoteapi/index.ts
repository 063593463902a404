// The remote API (TCP, TLS with optional client certificates, per-method authorization).
export * from "./caller.js";
export * from "./policies.js";
export { RemoteApiServer, advertiseAddress, requestCaller, methodName, type RemoteApiServerOptions } from "./server.js";
export { storeClusterView } from "./cluster-view.js";
export { optionalClientCertCredentials, type ServerTls } from "./tls-provider.js";
