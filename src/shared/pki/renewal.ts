// When to renew a node certificate: at a random point between 50 % and 80 % of
// its validity (SwarmKit's calculateRandomExpiry), so a cluster's nodes do not
// all renew at once.
import { RENEWAL_LOWER, RENEWAL_UPPER } from "./constants.js";

/**
 * Milliseconds from `now` until the renewal should start; 0 if that point has
 * passed. `rand` returns a number in [0, 1) (Math.random by default).
 */
export function nextRenewalDelay(
  notBefore: Date,
  notAfter: Date,
  rand: () => number = Math.random,
  now: number = Date.now(),
): number {
  const start = notBefore.getTime();
  const validity = Math.max(0, notAfter.getTime() - start);
  const share = RENEWAL_LOWER + (RENEWAL_UPPER - RENEWAL_LOWER) * Math.min(Math.max(rand(), 0), 1);
  return Math.max(0, Math.round(start + validity * share - now));
}
