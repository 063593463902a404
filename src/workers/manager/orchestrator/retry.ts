// Writes from leader components race with the control API and agents'
// status reports. A transaction that lost ("update out of sequence", object
// gone) is simply run again against the fresh state, a few times.
import { SwarmError } from "../../../shared/errors.js";
import { update, type MemoryStore, type Proposer, type Tx } from "../store/index.js";

const ATTEMPTS = 5;

export function isConflict(err: unknown): boolean {
  return err instanceof SwarmError && (err.code === "FAILED_PRECONDITION" || err.code === "NOT_FOUND" || err.code === "ALREADY_EXISTS");
}

/** update() that re-runs fn on a lost race; fn must re-read what it changes. */
export async function updateWithRetry<R>(store: MemoryStore, proposer: Proposer, fn: (tx: Tx) => R): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await update(store, proposer, fn);
    } catch (err) {
      if (!isConflict(err) || attempt >= ATTEMPTS) throw err;
    }
  }
}
