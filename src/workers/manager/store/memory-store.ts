// The manager's replicated object store. State is a set of in-memory tables
// that change only in apply(), which the raft node loop calls for every
// committed entry on every manager, in log order. The leader builds those
// entries with prepare(): a transaction function runs against the current
// state and its writes come back as StoreActions to propose. Apply repeats the
// checks, so a proposal that lost a race fails cleanly there.
import { SwarmError } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import type { StoreAction } from "./actions.js";
import {
  decodeRaftRequest,
  decodeStoreSnapshot,
  encodeActions,
  MAX_ID_FIELD_BYTES,
  encodeStoreSnapshot,
  SNAPSHOT_FIELD,
  type StoreSnapshot,
} from "./codec.js";
import { byId, type Filter } from "./find.js";
import { errInvalid, errTooLarge, MAX_TRANSACTION_BYTES } from "./errors.js";
import { KINDS, normalize, type Kind, type ObjectOfKind, type StoreObject } from "./objects.js";
import { schemaOf } from "./schema.js";
import { Table } from "./table.js";
import { Transaction, type ReadTx, type Tx } from "./tx.js";
import { WatchHub, type ChangeEvent, type WatchOptions, type Watcher } from "./watch.js";
import { deepFreeze } from "./copy.js";

const log = getLogger("store");
const EMPTY = new Uint8Array(0);

export interface MemoryStoreOptions {
  /** Events kept for watch resume (default 10000). */
  historyEvents?: number;
  /** The leader's clock, used by prepare() only to stamp createdAt/updatedAt. */
  clock?: () => Date;
}

export interface Prepared<R> {
  /** The transaction's writes, in order; empty when it wrote nothing (propose nothing). */
  actions: StoreAction[];
  /** What the transaction function returned. */
  result: R;
  /** Encoded size of the actions, in bytes. */
  bytes: number;
  /** The actions encoded for raft, without a request ID (codec.withRequestId adds it). */
  encoded: Uint8Array;
}

export type ApplyResult =
  | { ok: true; index: number; changes: number }
  | { ok: false; index: number; error: SwarmError };

export class MemoryStore {
  private readonly tables = new Map<Kind, Table>();
  private appliedIndex = 0;
  private readonly hub: WatchHub;
  private readonly clock: () => Date;

  constructor(options: MemoryStoreOptions = {}) {
    for (const kind of KINDS) this.tables.set(kind, new Table(schemaOf(kind)));
    this.hub = new WatchHub(options.historyEvents);
    this.clock = options.clock ?? (() => new Date());
  }

  /** Raft index of the last applied entry (or of the restored snapshot). */
  get index(): number {
    return this.appliedIndex;
  }

  // ---- reads

  /** Run fn against a consistent view; the view must not be kept past fn. */
  view<R>(fn: (tx: ReadTx) => R): R {
    const tx = new Transaction(this.tables, this.appliedIndex, { mode: "apply", index: this.appliedIndex });
    try {
      return notAsync(fn(tx), "view");
    } finally {
      tx.finish();
    }
  }

  get<K extends Kind>(kind: K, id: string): ObjectOfKind[K] | undefined {
    return this.view((tx) => tx.get(kind, id));
  }

  find<K extends Kind>(kind: K, filter: Filter = {}): ObjectOfKind[K][] {
    return this.view((tx) => tx.find(kind, filter));
  }

  // ---- writes, leader side

  /**
   * Run a transaction function and return its writes as actions to propose.
   * fn must be synchronous. Validation errors (missing object, stale version,
   * duplicate ID or name) are thrown from here; nothing in the store changes.
   */
  prepare<R>(fn: (tx: Tx) => R, options: { now?: Date } = {}): Prepared<R> {
    const tx = new Transaction(this.tables, this.appliedIndex, { mode: "prepare", now: options.now ?? this.clock() });
    let result: R;
    try {
      result = notAsync(fn(tx), "transaction");
    } finally {
      tx.finish();
    }
    const actions = [...tx.actions];
    const encoded = actions.length === 0 ? EMPTY : encodeActions(actions);
    const bytes = actions.length === 0 ? 0 : encoded.byteLength + MAX_ID_FIELD_BYTES;
    if (bytes > MAX_TRANSACTION_BYTES) throw errTooLarge(bytes);
    return { actions, result, bytes, encoded };
  }

  /** A write transaction over current state, for Batch; its actions are checked again at apply. */
  openTransaction(now: Date = this.clock()): Transaction {
    return new Transaction(this.tables, this.appliedIndex, { mode: "prepare", now });
  }

  // ---- writes, every manager

  /**
   * Apply one committed transaction at a raft index: all of its actions or
   * none. Version and name checks are repeated against current state; a
   * failure leaves the store unchanged and is returned, not thrown, so the
   * node loop can hand it to the proposer. Throws only when called out of order.
   */
  apply(index: number, actions: readonly StoreAction[]): ApplyResult {
    if (!Number.isSafeInteger(index) || index <= this.appliedIndex) {
      throw new SwarmError("INTERNAL", `store apply out of order: index ${index} after ${this.appliedIndex}`);
    }
    const tx = new Transaction(this.tables, index, { mode: "apply", index });
    try {
      for (const a of actions) tx.applyAction(a);
    } catch (err) {
      this.appliedIndex = index;
      tx.finish();
      const error = err instanceof SwarmError ? err : new SwarmError("INTERNAL", `store apply failed: ${String(err)}`, { cause: err });
      log.debug({ index, code: error.code, err: error.message }, "transaction rejected at apply");
      return { ok: false, index, error };
    }
    for (const s of tx.staged()) {
      const table = this.tables.get(s.kind)!;
      if (s.obj) table.put(s.obj);
      else table.delete(s.id);
    }
    const events: ChangeEvent[] = tx.changes.map(
      (c) => ({ type: "change", index, kind: c.kind, action: c.action, object: c.object, oldObject: c.oldObject }) as ChangeEvent,
    );
    tx.finish();
    this.appliedIndex = index;
    this.hub.publish(index, events);
    return { ok: true, index, changes: tx.changes.length };
  }

  /** Decode an InternalRaftRequest and apply it; returns the request ID with the result. */
  applyEntry(index: number, data: Uint8Array): ApplyResult & { requestId: number } {
    const req = decodeRaftRequest(data);
    // Decoding builds complete messages, every field set as normalize() would set it; frozen, they
    // are staged with a shallow copy instead of a second deep one (every manager, every entry).
    for (const a of req.actions) deepFreeze(a.target);
    return { ...this.apply(index, req.actions), requestId: req.id };
  }

  // ---- watch

  /** Stream committed changes; with fromIndex, first those after that index. */
  watch(options: WatchOptions = {}): Watcher {
    return this.hub.watch(options, this.appliedIndex);
  }

  /** Read a consistent view and start watching right after it, atomically. */
  viewAndWatch<R>(fn: (tx: ReadTx) => R, options: Omit<WatchOptions, "fromIndex"> = {}): { result: R; watcher: Watcher } {
    const result = this.view(fn);
    return { result, watcher: this.watch(options) };
  }

  get watcherCount(): number {
    return this.hub.watcherCount;
  }

  // ---- snapshots

  /** Every object, per kind, sorted by ID: the store part of a raft snapshot. */
  save(options: { sorted?: boolean } = {}): StoreSnapshot {
    const snap = {} as Record<string, StoreObject[]>;
    for (const kind of KINDS) {
      const objects = [...this.tables.get(kind)!.objects.values()];
      // Unsorted for raft snapshots: order means nothing to load(), and sorting a large store blocks the loop.
      snap[SNAPSHOT_FIELD[kind]] = options.sorted === false ? objects : objects.sort(byId);
    }
    return snap as unknown as StoreSnapshot;
  }

  snapshot(): Uint8Array {
    return encodeStoreSnapshot(this.save());
  }

  /** Replace everything with a snapshot taken at raft index `index`. Watchers are closed. */
  load(snap: StoreSnapshot, index: number): void {
    if (!Number.isSafeInteger(index) || index < 0) throw errInvalid(`store restore: bad index ${index}`);
    // Build aside first so a bad snapshot leaves the current state alone.
    const fresh = new Map<Kind, Table>();
    for (const kind of KINDS) {
      const table = new Table(schemaOf(kind));
      for (const obj of snap[SNAPSHOT_FIELD[kind]] as StoreObject[]) {
        if (typeof obj?.id !== "string" || obj.id === "") throw new SwarmError("DATA_LOSS", `store snapshot: a ${kind} has no ID`);
        if (table.get(obj.id)) throw new SwarmError("DATA_LOSS", `store snapshot: duplicate ${kind} ${obj.id}`);
        table.put(deepFreeze(normalize(kind, obj as never)));
      }
      fresh.set(kind, table);
    }
    for (const [kind, table] of fresh) this.tables.set(kind, table);
    this.appliedIndex = index;
    this.hub.reset(index, `store restored from a snapshot at index ${index}`);
  }

  restore(bytes: Uint8Array, index: number): void {
    this.load(decodeStoreSnapshot(bytes), index);
  }

  /** Index contents per kind, for tests comparing replicas. */
  dumpIndexes(): Record<string, Record<string, Record<string, string[]>>> {
    const out: Record<string, Record<string, Record<string, string[]>>> = {};
    for (const [kind, table] of this.tables) out[kind] = table.dumpIndexes();
    return out;
  }
}

function notAsync<R>(value: R, what: string): R {
  if (value !== null && typeof value === "object" && typeof (value as { then?: unknown }).then === "function") {
    // Its later writes hit the ended transaction and reject; that is reported here instead.
    (value as unknown as Promise<unknown>).then(undefined, () => undefined);
    throw errInvalid(`store ${what} function must be synchronous (it returned a promise)`);
  }
  return value;
}
