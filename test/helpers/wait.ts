// Waiting in system tests: poll until a condition yields a value, or fail
// with what was awaited and the last error seen (scripts/lib/retry.ts).
import { retryUntil } from "../../scripts/lib/retry.js";

export function eventually<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  return retryUntil(`timed out waiting for ${what}`, timeoutMs, fn, everyMs);
}
