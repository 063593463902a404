// SwarmKit's agent session backoff: grows as 100 ms + 2·previous up to 8 s,
// resets after a successful registration; the actual wait is uniformly
// random below the current bound, so restarted agents do not stampede.
export const INITIAL_SESSION_BACKOFF_MS = 100;
export const MAX_SESSION_BACKOFF_MS = 8000;

export class Backoff {
  private current = 0;
  constructor(
    private readonly initialMs = INITIAL_SESSION_BACKOFF_MS,
    private readonly maxMs = MAX_SESSION_BACKOFF_MS,
    private readonly random: () => number = Math.random,
  ) {}

  /** The bound for the next wait (0 right after a reset). */
  get boundMs(): number {
    return this.current;
  }

  /** Records a failure: the bound grows. */
  fail(): void {
    this.current = Math.min(this.initialMs + 2 * this.current, this.maxMs);
  }

  reset(): void {
    this.current = 0;
  }

  /** A random delay in [0, bound). */
  delayMs(): number {
    return Math.floor(this.random() * this.current);
  }
}

/** Resolves after `ms`, or early (without error) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
