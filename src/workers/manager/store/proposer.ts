// The write path seen from a manager component: prepare a transaction, hand
// its actions to raft, wait until the entry is applied here. The raft node
// loop implements Proposer; InMemoryProposer stands in for it in tests and
// benchmarks (it applies at once, with no log and no replication).
import type { StoreAction } from "./actions.js";
import { encodedActionSize, encodedActionsSize } from "./codec.js";
import { errTooLarge, MAX_CHANGES_PER_TRANSACTION, MAX_TRANSACTION_BYTES } from "./errors.js";
import type { MemoryStore } from "./memory-store.js";
import { Transaction, type Savepoint, type Tx } from "./tx.js";

export interface Proposer {
  /**
   * Propose one transaction. Resolves once the entry is committed and applied
   * to the local store; rejects with the apply error (e.g. "update out of
   * sequence" when another write got there first) or a raft error.
   * `encoded`, when given, is codec.encodeActions(actions), already computed.
   */
  propose(actions: readonly StoreAction[], encoded?: Uint8Array): Promise<void>;
}

/** Prepare, propose and wait: SwarmKit's store.Update. Returns fn's result. */
export async function update<R>(store: MemoryStore, proposer: Proposer, fn: (tx: Tx) => R): Promise<R> {
  const prepared = store.prepare(fn);
  if (prepared.actions.length > 0) await proposer.propose(prepared.actions, prepared.encoded);
  return prepared.result;
}

/**
 * Many small updates split into as few transactions as the limits allow:
 * a transaction is proposed once it holds MAX_CHANGES_PER_TRANSACTION changes
 * or about 3/4 of MAX_TRANSACTION_BYTES (SwarmKit's Batch). An update whose
 * function throws is rolled back alone and its error is returned to the
 * caller of batch.update; a failed proposal ends the batch.
 */
export class Batch {
  private tx: Transaction | undefined;
  private pendingBytes = 0;
  private failed: unknown;
  /** Updates that ran to completion (proposed or still pending). */
  applied = 0;
  /** Transactions proposed so far. */
  committedTransactions = 0;

  constructor(
    private readonly store: MemoryStore,
    private readonly proposer: Proposer,
  ) {}

  async update(fn: (tx: Tx) => void): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    const tx = (this.tx ??= this.store.openTransaction());
    const sp: Savepoint = tx.savepoint();
    const before = tx.actions.length;
    try {
      const r: unknown = fn(tx);
      if (r instanceof Promise) {
        r.then(undefined, () => undefined);
        throw new TypeError("batch update function must be synchronous");
      }
    } catch (err) {
      tx.rollback(sp);
      throw err;
    }
    this.applied++;
    for (let i = before; i < tx.actions.length; i++) this.pendingBytes += encodedActionSize(tx.actions[i]!);
    if (tx.actions.length >= MAX_CHANGES_PER_TRANSACTION || this.pendingBytes >= (MAX_TRANSACTION_BYTES * 3) / 4) {
      await this.flush();
    }
  }

  /** Propose what is pending now. */
  async flush(): Promise<void> {
    const tx = this.tx;
    this.tx = undefined;
    this.pendingBytes = 0;
    if (!tx) return;
    tx.finish();
    if (tx.actions.length === 0) return;
    try {
      const bytes = encodedActionsSize(tx.actions);
      if (bytes > MAX_TRANSACTION_BYTES) throw errTooLarge(bytes);
      await this.proposer.propose([...tx.actions]);
      this.committedTransactions++;
    } catch (err) {
      this.failed = err;
      throw err;
    }
  }
}

/** Run fn with a Batch and propose whatever is left at the end. */
export async function batch(
  store: MemoryStore,
  proposer: Proposer,
  fn: (b: Batch) => Promise<void> | void,
): Promise<{ updates: number; transactions: number }> {
  const b = new Batch(store, proposer);
  await fn(b);
  await b.flush();
  return { updates: b.applied, transactions: b.committedTransactions };
}

/**
 * Applies proposals directly at the next index, as a one-member raft log
 * would, without persistence. For tests and benchmarks only: production
 * writes always go through the raft node loop.
 */
export class InMemoryProposer implements Proposer {
  proposals = 0;
  constructor(private readonly store: MemoryStore) {}

  async propose(actions: readonly StoreAction[]): Promise<void> {
    this.proposals++;
    const result = this.store.apply(this.store.index + 1, actions);
    if (!result.ok) throw result.error;
  }
}
