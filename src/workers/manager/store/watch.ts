// Committed changes, streamed to the rest of the manager. Events are kept in a
// bounded history so a consumer can resume from the raft index it last saw;
// each watcher has its own bounded queue, and a watcher that falls too far
// behind is closed with an error instead of holding up apply.
import { SwarmError } from "../../../shared/errors.js";
import type { ActionKind } from "./actions.js";
import type { Kind, ObjectOfKind } from "./objects.js";

export interface ChangeEventOf<K extends Kind> {
  type: "change";
  /** Raft index of the transaction that made the change. */
  index: number;
  kind: K;
  action: ActionKind;
  /** The object after the change (for remove: the object as it was). */
  object: ObjectOfKind[K];
  /** The object before an update or remove. */
  oldObject?: ObjectOfKind[K] | undefined;
}

/** A change to any kind; checking `kind` narrows `object`. */
export type ChangeEvent = { [K in Kind]: ChangeEventOf<K> }[Kind];

/** Ends every applied transaction (SwarmKit's EventCommit). */
export interface CommitEvent {
  type: "commit";
  index: number;
}

export type WatchEvent = ChangeEvent | CommitEvent;

export interface WatchOptions {
  /** Only these kinds (default: all). Commit events are not filtered by kind. */
  kinds?: readonly Kind[];
  /** Deliver every event after this raft index first (from history), then live ones. */
  fromIndex?: number;
  /** Also deliver a commit event after each transaction (default false). */
  includeCommits?: boolean;
  /** Queued, undelivered events allowed before the watcher is closed (default 10000). */
  maxQueue?: number;
}

export const DEFAULT_WATCH_QUEUE = 10_000;
export const DEFAULT_HISTORY_EVENTS = 10_000;

/** The watcher fell behind; it may resume from `resumeIndex` if history still has it. */
export class WatchOverflowError extends SwarmError {
  constructor(
    readonly resumeIndex: number,
    limit: number,
  ) {
    super(
      "RESOURCE_EXHAUSTED",
      `store watcher fell behind: more than ${limit} events queued; resume the watch from index ${resumeIndex} or re-list`,
    );
  }
}

type Waiter = { resolve: (r: IteratorResult<WatchEvent>) => void; reject: (e: unknown) => void };

export class Watcher implements AsyncIterableIterator<WatchEvent> {
  private queue: WatchEvent[] = [];
  private head = 0;
  private waiter: Waiter | undefined;
  private closedWith: { error?: Error } | undefined;
  private readonly kinds: ReadonlySet<Kind> | undefined;
  readonly includeCommits: boolean;
  readonly maxQueue: number;

  constructor(
    options: WatchOptions,
    private readonly onClose: (w: Watcher) => void,
  ) {
    this.kinds = options.kinds && options.kinds.length > 0 ? new Set(options.kinds) : undefined;
    this.includeCommits = options.includeCommits ?? false;
    this.maxQueue = options.maxQueue ?? DEFAULT_WATCH_QUEUE;
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Why the watcher closed, if it closed on an error. */
  get error(): Error | undefined {
    return this.closedWith?.error;
  }

  /** Events queued and not yet taken. */
  get pending(): number {
    return this.queue.length - this.head;
  }

  wants(ev: WatchEvent): boolean {
    if (ev.type === "commit") return this.includeCommits;
    return this.kinds === undefined || this.kinds.has(ev.kind);
  }

  /** Called by the hub, synchronously from apply; never blocks. */
  push(ev: WatchEvent): void {
    if (this.closedWith || !this.wants(ev)) return;
    if (this.waiter && this.pending === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: ev, done: false });
      return;
    }
    if (this.pending >= this.maxQueue) {
      // Everything before the oldest undelivered event was delivered whole.
      const oldest = this.pending > 0 ? this.queue[this.head]! : ev;
      this.close(new WatchOverflowError(oldest.index - 1, this.maxQueue));
      return;
    }
    this.queue.push(ev);
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    if (this.pending > 0 && !this.closedWith?.error) {
      const ev = this.queue[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      return Promise.resolve({ value: ev, done: false });
    }
    if (this.closedWith) {
      return this.closedWith.error ? Promise.reject(this.closedWith.error) : Promise.resolve({ value: undefined, done: true });
    }
    if (this.waiter) return Promise.reject(new SwarmError("FAILED_PRECONDITION", "store watcher: next() called while another next() is pending"));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Stop watching. With an error, a pending or later next() rejects with it and queued events are dropped. */
  close(error?: Error): void {
    if (this.closedWith) return;
    this.closedWith = error ? { error } : {};
    if (error) {
      this.queue = [];
      this.head = 0;
    }
    const w = this.waiter;
    this.waiter = undefined;
    if (w) {
      if (error) w.reject(error);
      else w.resolve({ value: undefined, done: true });
    }
    this.onClose(this);
  }

  return(): Promise<IteratorResult<WatchEvent>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<WatchEvent> {
    return this;
  }
}

interface TxRecord {
  index: number;
  changes: readonly ChangeEvent[];
  commit: CommitEvent;
}

/**
 * Recent transactions plus the live watchers. History is kept per
 * transaction and bounded by its number of change events, so a resume never
 * starts in the middle of a transaction.
 */
export class WatchHub {
  private history: TxRecord[] = [];
  private head = 0;
  private events = 0;
  /** Changes at or below this index may no longer all be in history. */
  private truncatedThrough: number;
  private readonly watchers = new Set<Watcher>();

  constructor(
    readonly historyLimit = DEFAULT_HISTORY_EVENTS,
    baseIndex = 0,
  ) {
    if (!(historyLimit >= 1)) throw new SwarmError("INVALID_ARGUMENT", "watch history must hold at least one event");
    this.truncatedThrough = baseIndex;
  }

  get watcherCount(): number {
    return this.watchers.size;
  }

  /** The oldest index a watch may resume from. */
  get oldestResumableIndex(): number {
    return this.truncatedThrough;
  }

  watch(options: WatchOptions, currentIndex: number): Watcher {
    const from = options.fromIndex ?? currentIndex;
    if (!Number.isSafeInteger(from) || from < 0) {
      throw new SwarmError("INVALID_ARGUMENT", `watch: fromIndex must be a non-negative integer, got ${from}`);
    }
    if (from < this.truncatedThrough) {
      throw new SwarmError(
        "OUT_OF_RANGE",
        `watch: cannot resume from index ${from}: the store only keeps changes after index ${this.truncatedThrough}; ` +
          `re-list the objects and watch from the current index ${currentIndex}`,
      );
    }
    const w = new Watcher(options, (x) => this.watchers.delete(x));
    for (let i = this.head; i < this.history.length && !w.closed; i++) {
      const rec = this.history[i]!;
      if (rec.index <= from) continue;
      for (const ev of rec.changes) w.push(ev);
      w.push(rec.commit);
    }
    if (!w.closed) this.watchers.add(w);
    return w;
  }

  /** One applied transaction's changes, then its commit marker. */
  publish(index: number, changes: readonly ChangeEvent[]): void {
    const commit: CommitEvent = { type: "commit", index };
    if (changes.length > 0) this.remember({ index, changes, commit });
    for (const w of this.watchers) {
      for (const ev of changes) w.push(ev);
      w.push(commit);
    }
  }

  /** Forget history and close every watcher (after a snapshot restore). */
  reset(index: number, reason: string): void {
    this.history = [];
    this.head = 0;
    this.events = 0;
    this.truncatedThrough = index;
    for (const w of [...this.watchers]) w.close(new SwarmError("ABORTED", `store watch ended: ${reason}; re-list and watch again`));
  }

  private remember(rec: TxRecord): void {
    this.history.push(rec);
    this.events += rec.changes.length;
    // Keep at least the newest transaction, however large.
    while (this.events > this.historyLimit && this.history.length - this.head > 1) {
      const old = this.history[this.head++]!;
      this.events -= old.changes.length;
      this.truncatedThrough = old.index;
    }
    if (this.head > 1024 && this.head * 2 > this.history.length) {
      this.history = this.history.slice(this.head);
      this.head = 0;
    }
  }
}
