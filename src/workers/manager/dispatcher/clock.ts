// Time as the dispatcher sees it. Heartbeat expiry, rate limits and batching
// all run off this interface so tests can drive them with a fake clock
// instead of sleeping for seconds.

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Run fn once after ms milliseconds unless cancelled first. */
  setTimeout(fn: () => void, ms: number): Timer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    // The manager's servers keep the process alive; a pending heartbeat must not.
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};
