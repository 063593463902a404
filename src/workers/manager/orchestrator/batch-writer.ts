// Bulk writes for leader components: many small per-object updates packed
// into as few raft entries as SwarmKit's Batch allows. Each update re-reads
// its object and decides again, so a pass that lost a race can just be run
// once more against the fresh state.
import { errorMessage } from "../../../shared/errors.js";
import type { Logger } from "../../../shared/logging.js";
import { batch, update, MAX_CHANGES_PER_TRANSACTION, type Batch, type MemoryStore, type Proposer, type Tx } from "../store/index.js";
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

/**
 * Many independent per-object writes, MAX_CHANGES_PER_TRANSACTION to a
 * transaction, without Batch's per-update savepoints (which cost O(changes)
 * each). `write` must check before it writes and skip, not throw; an update
 * that still throws, or a chunk too large for one entry, sends that chunk
 * through the savepointing Batch instead.
 */
export async function writeChunked<T>(
  store: MemoryStore,
  proposer: Proposer,
  log: Logger,
  what: string,
  items: readonly T[],
  write: (tx: Tx, item: T) => void,
): Promise<boolean> {
  let ok = true;
  for (let i = 0; i < items.length; i += MAX_CHANGES_PER_TRANSACTION) {
    const chunk = items.slice(i, i + MAX_CHANGES_PER_TRANSACTION);
    let done = false;
    try {
      await update(store, proposer, (tx) => {
        for (const item of chunk) write(tx, item);
      });
      done = true;
    } catch (err) {
      log.debug({ err: errorMessage(err) }, `${what}: retrying a chunk update by update`);
    }
    if (done) continue;
    let wrote = false;
    await writeInBatches(store, proposer, log, what, async (b) => {
      for (const item of chunk) await tryUpdate(b, log, (tx) => write(tx, item));
      wrote = true;
    });
    ok &&= wrote;
  }
  return ok;
}
