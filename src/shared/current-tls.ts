// The node's TLS material as it is now: one holder per worker that every TLS
// endpoint reads at handshake time, so a renewed certificate reaches new
// connections without restarting listeners or dropping open connections.
// It is a grpc-js certificate provider: servers built on it swap their
// secure context on update(), and client credentials built on it make a
// fresh secure context for each new connection from the latest material.
import { experimental, type ChannelCredentials } from "@grpc/grpc-js";

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** A live holder, or fixed material (wrapped into a holder that never changes). */
export type TlsSource = TlsMaterial | CurrentTls;

export class CurrentTls implements experimental.CertificateProvider {
  private tls: TlsMaterial;
  private generation = 0;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly updateListeners = new Set<(tls: TlsMaterial, version: number) => void>();
  private clientCreds: ChannelCredentials | undefined;

  constructor(initial: TlsMaterial) {
    this.tls = copy(initial);
  }

  /** The holder itself, or a new one around fixed material. */
  static from(source: TlsSource): CurrentTls {
    return source instanceof CurrentTls ? source : new CurrentTls(source);
  }

  /** The material in use now (a snapshot: later updates replace it, never mutate it). */
  get material(): Readonly<TlsMaterial> {
    return this.tls;
  }

  /** 0 at start, +1 per update that changed something. */
  get version(): number {
    return this.generation;
  }

  /** Use this material for every handshake from now on. Returns false when nothing changed. */
  update(next: TlsMaterial): boolean {
    if (next.caPem === this.tls.caPem && next.certPem === this.tls.certPem && next.keyPem === this.tls.keyPem) return false;
    this.tls = copy(next);
    this.generation += 1;
    // Identity (certificate + key together) before the CA: a server that combines
    // the two never pairs a new key with an old certificate.
    for (const l of this.identityListeners) l(this.identityUpdate());
    for (const l of this.caListeners) l(this.caUpdate());
    for (const l of this.updateListeners) l(this.tls, this.generation);
    return true;
  }

  /** Called after each update that changed something; returns the unsubscribe. */
  onUpdate(listener: (tls: TlsMaterial, version: number) => void): () => void {
    this.updateListeners.add(listener);
    return () => this.updateListeners.delete(listener);
  }

  /**
   * Mutual-TLS client credentials (this node's certificate, the cluster root as
   * the only trust). Each new connection presents the material current at its
   * handshake; open connections keep theirs. One object per holder, so
   * channels that share a subchannel pool see equal credentials.
   */
  clientCredentials(): ChannelCredentials {
    this.clientCreds ??= experimental.createCertificateProviderChannelCredentials(this, this);
    return this.clientCreds;
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
    // so a synchronous first update would be lost and a server would drop every connection.
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

/** Mutual-TLS client credentials from a live holder or fixed material. */
export function mutualTlsCredentials(source: TlsSource): ChannelCredentials {
  return CurrentTls.from(source).clientCredentials();
}

function copy(t: TlsMaterial): TlsMaterial {
  return { caPem: t.caPem, certPem: t.certPem, keyPem: t.keyPem };
}
