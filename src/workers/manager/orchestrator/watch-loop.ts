// The event loop every leader component runs (SwarmKit's `for { select {
// case event := <-watchQueue … } }`): list the state and subscribe
// atomically, hand each committed change to the component, call it once per
// committed transaction, and run its timers inside the same loop so that
// handlers never interleave. A watcher that falls behind or a failing handler
// makes the loop re-list from scratch instead of dying.
import { errorMessage } from "../../../shared/errors.js";
import type { Logger } from "../../../shared/logging.js";
import type { ChangeEvent, Kind, MemoryStore, ReadTx, Watcher, WatchEvent } from "../store/index.js";

export interface WatchLoopHandlers {
  /** Rebuild in-memory state from a consistent view (start and every re-list). */
  init(tx: ReadTx): void;
  /** After init, before the first event: e.g. reconcile everything. */
  afterInit?(): Promise<void>;
  /** One committed change; must not await (state bookkeeping only). */
  onEvent(ev: ChangeEvent): void;
  /** The end of a committed transaction: act on what the events marked. */
  onCommit?(index: number): Promise<void>;
  /** Called inside the loop after wake(): timers, debounces. */
  onWake?(): Promise<void>;
}

export interface WatchLoopOptions {
  kinds: readonly Kind[];
  log: Logger;
  /** Watcher queue bound; a leader writing big batches sees many events at once. */
  maxQueue?: number;
  /** Pause before re-listing after a failure (ms). */
  retryDelayMs?: number;
}

type Next = { kind: "event"; r: IteratorResult<WatchEvent> } | { kind: "wake" };

export class WatchLoop {
  private watcher: Watcher | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private wakeRequested = false;
  private wakeSignal: (() => void) | undefined;

  constructor(
    private readonly store: MemoryStore,
    private readonly handlers: WatchLoopHandlers,
    private readonly opts: WatchLoopOptions,
  ) {}

  get isRunning(): boolean {
    return !this.stopped;
  }

  /** Lists, subscribes and starts the loop; the initial view is taken before this returns. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const first = this.subscribe();
    this.running = this.run(first);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.watcher?.close();
    this.signal();
    await this.running;
  }

  /** Ask the loop to call onWake soon (from a timer, say). */
  wake(): void {
    this.wakeRequested = true;
    this.signal();
  }

  private signal(): void {
    const s = this.wakeSignal;
    this.wakeSignal = undefined;
    s?.();
  }

  private subscribe(): Watcher {
    const { watcher } = this.store.viewAndWatch((tx) => this.handlers.init(tx), {
      kinds: this.opts.kinds,
      includeCommits: true,
      maxQueue: this.opts.maxQueue ?? 1_000_000,
    });
    this.watcher = watcher;
    return watcher;
  }

  private async run(first: Watcher): Promise<void> {
    let watcher: Watcher | undefined = first;
    while (!this.stopped) {
      try {
        watcher ??= this.subscribe();
        await this.handlers.afterInit?.();
        await this.consume(watcher);
      } catch (err) {
        if (this.stopped) break;
        this.opts.log.warn({ err: errorMessage(err) }, "event loop failed; re-listing the store");
        watcher?.close();
        await new Promise((r) => setTimeout(r, this.opts.retryDelayMs ?? 100));
      }
      watcher = undefined;
    }
  }

  private async consume(w: Watcher): Promise<void> {
    // At most one next() may be outstanding; when a wake-up wins the race the
    // same promise is raced again on the following turn.
    let pendingNext: Promise<Next> | undefined;
    while (!this.stopped) {
      if (this.wakeRequested) {
        this.wakeRequested = false;
        await this.handlers.onWake?.();
        continue;
      }
      let next: Next;
      if (pendingNext === undefined && w.pending > 0) {
        next = { kind: "event", r: await w.next() };
      } else {
        pendingNext ??= w.next().then((r): Next => ({ kind: "event", r }));
        const wake = new Promise<Next>((resolve) => {
          this.wakeSignal = () => resolve({ kind: "wake" });
        });
        next = await Promise.race([pendingNext, wake]);
        this.wakeSignal = undefined;
        if (next.kind === "event") pendingNext = undefined;
      }
      if (next.kind === "wake") continue;
      if (next.r.done) {
        if (this.stopped) return;
        throw new Error("store watch ended");
      }
      const ev = next.r.value;
      if (this.stopped) return;
      if (ev.type === "commit") await this.handlers.onCommit?.(ev.index);
      else this.handlers.onEvent(ev);
    }
  }
}
