// The manager's replicated object store: see docs/store.md.
export * from "./objects.js";
export type { StoreAction, ActionKind } from "./actions.js";
export { MemoryStore, type ApplyResult, type Prepared, type MemoryStoreOptions } from "./memory-store.js";
export type { ReadTx, Tx } from "./tx.js";
export type { Filter } from "./find.js";
export { taskName, slotKey } from "./schema.js";
export { cloneObject } from "./copy.js";
export { MAX_CHANGES_PER_TRANSACTION, MAX_TRANSACTION_BYTES } from "./errors.js";
export { Watcher, WatchOverflowError, type WatchEvent, type ChangeEvent, type ChangeEventOf, type CommitEvent, type WatchOptions } from "./watch.js";
export {
  encodeRaftRequest,
  decodeRaftRequest,
  encodeStoreSnapshot,
  decodeStoreSnapshot,
  type RaftRequest,
  type StoreSnapshot,
} from "./codec.js";
export { update, batch, Batch, InMemoryProposer, type Proposer } from "./proposer.js";
