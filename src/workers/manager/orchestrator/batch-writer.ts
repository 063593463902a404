// Bulk writes for leader components: many small per-object updates packed
// into as few raft entries as SwarmKit's Batch allows. Each update re-reads
// its object and decides again, so a pass that lost a race can just be run
// once more against the fresh state.
import { errorMessage } from "../../../shared/errors.js";
import type { Logger } from "../../../shared/logging.js";
import { batch, type Batch, type MemoryStore, type Proposer } from "../store/index.js";
import { isConflict } from "./retry.js";

const PASSES = 3;

/** Run `fn` in a batch; on a lost race (the batch stops there) run the whole pass again. */
export async function writeInBatches(
  store: MemoryStore,
  proposer: Proposer,
  log: Logger,
  what: string,
  fn: (b: Batch) => Promise<void>,
): Promise<void> {
  for (let pass = 1; ; pass++) {
    try {
      await batch(store, proposer, fn);
      return;
    } catch (err) {
      if (isConflict(err) && pass < PASSES) continue;
      log.warn({ err: errorMessage(err), pass }, `${what} failed`);
      return;
    }
  }
}

/**
 * A Batch.update whose own failure (object gone, say) is only logged; a
 * failed proposal still ends the batch.
 */
export async function tryUpdate(b: Batch, log: Logger, fn: Parameters<Batch["update"]>[0]): Promise<void> {
  let own: unknown;
  try {
    await b.update((tx) => {
      try {
        fn(tx);
      } catch (err) {
        own = err;
        throw err;
      }
    });
  } catch (err) {
    if (err === own && isConflict(err)) {
      log.debug({ err: errorMessage(err) }, "skipped a stale update");
      return;
    }
    throw err;
  }
}
