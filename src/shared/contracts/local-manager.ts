// agent worker → manager worker on the same host: the local agent's path to
// its manager (later: the dispatcher session). The manager worker exposes it
// on its agent port; it rejects with UNAVAILABLE while the node is not a
// manager, like a dispatcher that is not running.
import type { NodeRole, Pong } from "./common.js";

export interface LocalManagerApi {
  ping(): Pong;
  /** The role the manager worker currently runs as. */
  role(): NodeRole;
  /** Throws UNAVAILABLE unless the manager services are running. */
  requireManager(): { controlSocket: string };
}
