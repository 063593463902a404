// The committed task changes of one service, for an updater that waits for
// its new tasks to come up and watches for failures. The watch is opened
// before the updater writes anything, so no change is missed; waits also
// re-read the store now and then in case the watch was closed under them.
import type { Task } from "../../../shared/api/index.js";
import type { MemoryStore, Watcher } from "../store/index.js";

const RECHECK_MS = 1000;

export class ServiceTaskFeed {
  private readonly watcher: Watcher;
  private readonly listeners = new Set<(t: Task) => void>();

  constructor(
    private readonly store: MemoryStore,
    private readonly serviceId: string,
  ) {
    this.watcher = store.watch({ kinds: ["task"], maxQueue: 1_000_000 });
    void this.pump();
  }

  close(): void {
    this.listeners.clear();
    this.watcher.close();
  }

  /** Call fn with every created or updated task of the service; returns an unsubscribe. */
  on(fn: (t: Task) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Resolves with the task once `done(task)` holds, with undefined if the task
   * is deleted or `abort` settles first.
   */
  waitFor(taskId: string, done: (t: Task) => boolean, abort: Promise<void>): Promise<Task | undefined> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let off: (() => void) | undefined;
      const finish = (t: Task | undefined): void => {
        off?.();
        if (timer) clearInterval(timer);
        resolve(t);
      };
      const check = (): void => {
        const t = this.store.get("task", taskId);
        if (t === undefined) finish(undefined);
        else if (done(t)) finish(t);
      };
      off = this.on((t) => {
        if (t.id === taskId && done(t)) finish(t);
      });
      timer = setInterval(check, RECHECK_MS);
      void abort.then(() => finish(undefined));
      check();
    });
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        const r = await this.watcher.next();
        if (r.done) return;
        const ev = r.value;
        if (ev.type !== "change" || ev.kind !== "task" || ev.action === "remove") continue;
        if (ev.object.serviceId !== this.serviceId) continue;
        for (const l of [...this.listeners]) l(ev.object);
      }
    } catch {
      // Closed with an error (overflow): waits fall back to re-reading the store.
    }
  }
}
