// Server TLS for the remote API: SwarmKit's VerifyClientCertIfGiven. A
// joining node has no certificate yet and must reach the CA endpoints, so the
// server asks for a client certificate but does not require one; a
// certificate that does not chain to the cluster root is treated as none
// (grpc-js only exposes verified peers). grpc-js's createSsl cannot express
// this (it either requires a certificate or never asks for one); its
// certificate-provider credentials can, and, fed from the worker's
// CurrentTls, also let a renewed node certificate replace the served one
// without restarting the listener.
import { experimental, type ServerCredentials } from "@grpc/grpc-js";
import type { CurrentTls, TlsMaterial } from "../../../shared/current-tls.js";

export type ServerTls = TlsMaterial;

/** Server credentials that request, verify, but do not require a client certificate. */
export function optionalClientCertCredentials(provider: CurrentTls): ServerCredentials {
  // The same provider serves both roles, so grpc-js's argument order does not matter here.
  return experimental.createCertificateProviderServerCredentials(provider, provider, false);
}
