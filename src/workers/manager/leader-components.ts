// The components only the leader runs (orchestrators, scheduler, CA signer…):
// started in order when this manager becomes leader, stopped in reverse when
// it stops being it. A component that fails to start is retried with backoff
// for as long as this manager leads, so one failure — signing threads that
// could not start, say — does not leave the cluster without that component
// for the rest of the term, which for a CA meant every join hanging.
import { errorMessage } from "../../shared/errors.js";
import type { Logger } from "../../shared/logging.js";

/** Something only the leader runs. */
export interface LeaderComponent {
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

export interface LeaderComponentsOptions {
  log: Logger;
  /** First retry after a failed start (ms); doubles up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
}

export class LeaderComponents {
  private readonly components: LeaderComponent[] = [];
  private readonly retries = new Map<LeaderComponent, NodeJS.Timeout>();
  private active = false;
  /** Starts, stops and retries run one at a time, in order. */
  private queue: Promise<void> = Promise.resolve();
  private readonly retryMs: number;
  private readonly maxRetryMs: number;

  constructor(private readonly opts: LeaderComponentsOptions) {
    this.retryMs = opts.retryMs ?? 1000;
    this.maxRetryMs = opts.maxRetryMs ?? 30_000;
  }

  /** Registers a component; started at once if the leader's components are running. */
  add(c: LeaderComponent): void {
    this.components.push(c);
    if (this.active) this.enqueue(() => this.tryStart(c, 0));
  }

  /** Starts every component in order; resolves when each has started or failed (and is due for a retry). */
  startAll(): Promise<void> {
    return this.enqueue(async () => {
      if (this.active) return;
      this.active = true;
      for (const c of this.components) await this.tryStart(c, 0);
    });
  }

  /** Cancels pending retries and stops every component in reverse order. */
  stopAll(): Promise<void> {
    return this.enqueue(async () => {
      if (!this.active) return;
      this.active = false;
      for (const t of this.retries.values()) clearTimeout(t);
      this.retries.clear();
      for (const c of [...this.components].reverse()) {
        try {
          await c.stop();
        } catch (err) {
          this.opts.log.warn({ component: c.name, err: errorMessage(err) }, "leader component failed to stop");
        }
      }
    });
  }

  /** Components waiting for a retry of their start, by name. */
  get failed(): string[] {
    return [...this.retries.keys()].map((c) => c.name);
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async tryStart(c: LeaderComponent, attempt: number): Promise<void> {
    if (!this.active) return;
    try {
      await c.start();
      if (attempt > 0) this.opts.log.info({ component: c.name, attempt }, "leader component started after retrying");
    } catch (err) {
      const delayMs = Math.min(this.maxRetryMs, this.retryMs * 2 ** attempt);
      this.opts.log.error({ component: c.name, err: errorMessage(err), retryInMs: delayMs }, "leader component failed to start; retrying");
      const timer = setTimeout(() => {
        this.retries.delete(c);
        void this.enqueue(() => this.tryStart(c, attempt + 1));
      }, delayMs);
      // A retry must not keep a stopping worker alive.
      timer.unref();
      this.retries.set(c, timer);
    }
  }
}
