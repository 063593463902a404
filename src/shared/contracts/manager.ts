// main → manager worker. The manager worker exposes ManagerApi on its main
// port; main connects to it. Errors reject with a SwarmError carrying a code.
import type { LifecycleState, NodeRole, Pong } from "./common.js";
import type { IdentityData } from "./identity.js";

/** What the manager worker runs while the role is manager. */
export interface ManagerServicesStatus {
  /** Absolute path of the control socket, while bound. */
  controlSocket: string;
  /** The bound remote API address (actual port when 0 was asked for); the configured one while pending. */
  remoteApi: { host: string; port: number };
  /** The listen address is not on any interface yet: the remote API is not served, binding is retried. */
  remoteApiPending?: boolean;
}

export interface ManagerStatus {
  state: LifecycleState;
  /** The role generation the worker has finished applying. */
  appliedGeneration: number;
  /** The role it applied at that generation. */
  role: NodeRole;
  /** Present while the manager services run. */
  services?: ManagerServicesStatus;
  /** Why applying the last generation failed, if it did. */
  lastError?: { code?: string; message: string };
}

export interface ManagerApi {
  ping(): Pong;
  status(): ManagerStatus;
  /**
   * Resolves once the worker has applied role generation `generation` (or a
   * newer one): services started for manager, stopped for worker. Rejects
   * with the start-up error if starting them failed.
   */
  awaitRole(generation: number): Promise<ManagerStatus>;
  /**
   * A renewed node certificate (same node, cluster and root): served by the
   * remote API to new connections and used for new outgoing connections.
   */
  updateIdentity(tls: IdentityData["tls"]): void;
  /**
   * Renews this node's own certificate through the local CA without TLS (the
   * current certificate has expired; --force-new-cluster). Resolves with the
   * issued certificate PEM for `csrPem`; rejects when this node runs no
   * manager, does not lead within `timeoutMs`, or the cluster has no CA key.
   */
  renewOwnCertificate(csrPem: string, timeoutMs: number): Promise<string>;
  /** Stop the services and stop waiting on the role flag. */
  stop(): Promise<void>;
}
