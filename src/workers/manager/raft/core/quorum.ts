// Majority helpers over a voter set: the committed index and vote tallies.
import type { MemberId } from "./types.js";

export const enum VoteResult {
  Pending = 0,
  Lost = 1,
  Won = 2,
}

/** A strict majority of n voters. */
export function quorumSize(n: number): number {
  return (n >> 1) + 1;
}

/**
 * The largest value that a quorum of `values[0..n)` is at or above, computed
 * in place (values is scratch space; sorted descending by insertion sort,
 * cheap for the 3–7 voters of a real cluster).
 */
export function quorumValue(values: Float64Array, n: number): number {
  if (n === 0) return Infinity;
  for (let i = 1; i < n; i++) {
    const v = values[i]!;
    let j = i - 1;
    while (j >= 0 && values[j]! < v) {
      values[j + 1] = values[j]!;
      j--;
    }
    values[j + 1] = v;
  }
  return values[quorumSize(n) - 1]!;
}

/** Tallies granted/rejected votes among voters. */
export function tallyVotes(voters: readonly MemberId[], votes: Map<MemberId, boolean>): VoteResult {
  let granted = 0;
  let missing = 0;
  for (let i = 0; i < voters.length; i++) {
    const v = votes.get(voters[i]!);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const q = quorumSize(voters.length);
  if (granted >= q) return VoteResult.Won;
  if (granted + missing >= q) return VoteResult.Pending;
  return VoteResult.Lost;
}
