// Server TLS for the remote API: SwarmKit's VerifyClientCertIfGiven. A
// joining node has no certificate yet and must reach the CA endpoints, so the
// server asks for a client certificate but does not require one; a
// certificate that does not chain to the cluster root is treated as none
// (grpc-js only exposes verified peers). grpc-js's createSsl cannot express
// this (it either requires a certificate or never asks for one); its
// certificate-provider credentials can, and also let a renewed node
// certificate replace the served one without restarting the listener.
import { experimental, type ServerCredentials } from "@grpc/grpc-js";

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export interface ServerTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** A certificate provider fed from memory; update() pushes new material to live servers. */
export class MemoryCertificateProvider implements experimental.CertificateProvider {
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();

  constructor(private tls: ServerTls) {}

  get current(): ServerTls {
    return this.tls;
  }

  update(tls: ServerTls): void {
    this.tls = tls;
    for (const l of this.caListeners) l(this.caUpdate());
    for (const l of this.identityListeners) l(this.identityUpdate());
  }

  private caUpdate(): experimental.CaCertificateUpdate {
    return { caCertificate: Buffer.from(this.tls.caPem) };
  }

  private identityUpdate(): experimental.IdentityCertificateUpdate {
    return { certificate: Buffer.from(this.tls.certPem), privateKey: Buffer.from(this.tls.keyPem) };
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    // Asynchronously: grpc-js registers its own watcher only after adding this listener,
    // so a synchronous first update would be lost and the server would drop every connection.
    queueMicrotask(() => this.caListeners.has(listener) && listener(this.caUpdate()));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => this.identityListeners.has(listener) && listener(this.identityUpdate()));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
}

/** Server credentials that request, verify, but do not require a client certificate. */
export function optionalClientCertCredentials(provider: MemoryCertificateProvider): ServerCredentials {
  // The same provider serves both roles, so grpc-js's argument order does not matter here.
  return experimental.createCertificateProviderServerCredentials(provider, provider, false);
}
