// SwarmKit's dispatcher constants (manager/dispatcher/dispatcher.go, nodes.go)
// and the error texts agents react to.
import { SwarmError } from "../../../shared/errors.js";

export const DEFAULT_HEARTBEAT_PERIOD_MS = 5_000;
export const DEFAULT_HEARTBEAT_EPSILON_MS = 500;
/** A node expires after this many heartbeat periods without a beat. */
export const DEFAULT_GRACE_PERIOD_MULTIPLIER = 3;
/** Registrations counted within this window… */
export const DEFAULT_RATE_LIMIT_PERIOD_MS = 8_000;
/** …may not exceed this count. */
export const RATE_LIMIT_COUNT = 3;
/** Queued status writes that force an immediate flush. */
export const MAX_BATCH_ITEMS = 10_000;
/** Queued status writes are flushed at least this often. */
export const MAX_BATCH_INTERVAL_MS = 100;
/** Assignment changes sent together at most. */
export const MODIFICATION_BATCH_LIMIT = 100;
/** Assignment changes are sent this long after the last one (debounce). */
export const BATCHING_WAIT_TIME_MS = 100;
/** Tasks of a node DOWN this long become ORPHANED. */
export const DEFAULT_NODE_DOWN_PERIOD_MS = 24 * 60 * 60 * 1000;
/** remotes.DefaultObservationWeight: the weight every manager is advertised with. */
export const MANAGER_WEIGHT = 10;

export const MSG_UNKNOWN_AFTER_LEADER_CHANGE = 'Node moved to "unknown" state due to leadership change in cluster';
export const MSG_UNKNOWN_HEARTBEAT_FAILURE = 'heartbeat failure for node in "unknown" state';
export const MSG_HEARTBEAT_FAILURE = "heartbeat failure";
export const MSG_DISCONNECTED = "node is currently trying to find new manager";

export const errStopped = (): SwarmError => new SwarmError("ABORTED", "dispatcher is stopped");
export const errNodeNotRegistered = (): SwarmError => new SwarmError("NOT_FOUND", "node not registered");
export const errSessionInvalid = (): SwarmError => new SwarmError("INVALID_ARGUMENT", "session invalid");
export const errNodeNotFound = (): SwarmError => new SwarmError("NOT_FOUND", "node not found");
export const errRateLimited = (nodeId: string): SwarmError =>
  new SwarmError("UNAVAILABLE", `node ${nodeId} exceeded rate limit count of registrations`);
export const errNotAssigned = (): SwarmError => new SwarmError("PERMISSION_DENIED", "cannot update a task not assigned this node");
export const errMustDisconnect = (): SwarmError => new SwarmError("ABORTED", "node must disconnect");
