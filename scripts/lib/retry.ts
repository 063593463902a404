// Polling helpers shared by the cluster scripts and the tests (test/helpers/wait.ts).

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Calls `fn` every `everyMs` until it returns something other than undefined
 * (errors count as "not yet"); after `timeoutMs` throws "<what> within N ms"
 * with the last error.
 */
export async function retryUntil<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined> | T | undefined, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`${what} within ${timeoutMs} ms${last ? `: ${String((last as Error).message ?? last)}` : ""}`);
}
