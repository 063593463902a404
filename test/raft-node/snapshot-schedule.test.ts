import { test } from "node:test";
import assert from "node:assert/strict";
import { logOutweighsSnapshot, snapshotDue, snapshotPhase } from "../../src/workers/manager/raft/snapshot-schedule.js";

/** Applies entries one by one from `start`, snapshotting whenever one is due; returns the snapshot indices. */
function run(raftId: number, interval: number, start: number, upTo: number, members: readonly number[] = [raftId]): number[] {
  const taken: number[] = [];
  let last = start;
  const phase = snapshotPhase(raftId, members, interval);
  for (let applied = start + 1; applied <= upTo; applied++) {
    if (snapshotDue(applied, last, interval, () => phase)) {
      taken.push(applied);
      last = applied;
    }
  }
  return taken;
}

test("an interval of 0 or less takes no snapshot", () => {
  assert.deepEqual(run(12345, 0, 0, 100_000), []);
  assert.deepEqual(run(12345, -5, 0, 100_000), []);
});

test("each member snapshots exactly every interval, at indices of its own phase", () => {
  const interval = 10_000;
  const members = [1, 7, 4_999, 9_999, 10_000, 123_456_789, 2 ** 52 + 17];
  for (const raftId of members) {
    const taken = run(raftId, interval, 0, 100_000, members);
    const phase = snapshotPhase(raftId, members, interval);
    assert.ok(taken.length >= 9, `${raftId}: ${taken.length} snapshots`);
    assert.ok(taken[0]! >= interval / 2 && taken[0]! <= 1.5 * interval, `${raftId}: first at ${taken[0]}`);
    for (let i = 1; i < taken.length; i++) assert.equal(taken[i]! - taken[i - 1]!, interval, `${raftId}: gap before ${taken[i]}`);
    for (const t of taken) assert.equal((((t - phase) % interval) + interval) % interval, 0, `${raftId}: ${t} off phase ${phase}`);
  }
});

test("members' phases are spread evenly over the interval by rank, whatever their raft IDs", () => {
  const interval = 10_000;
  // Raft IDs that collide mod the interval, and ones a few entries apart: the raft-ID phase put these together.
  for (const ids of [[1_001, 11_001, 21_001], [5, 9, 10_003], [2 ** 52 + 1, 3, 2 ** 40]]) {
    const phases = ids.map((id) => snapshotPhase(id, ids, interval)).sort((a, b) => a - b);
    assert.deepEqual(phases, [0, 3_333, 6_666], `${ids.join(",")}`);
    const sets = ids.map((id) => run(id, interval, 0, 200_000, ids));
    // Any two members' snapshots are at least a third of an interval apart.
    const all = sets.flat().sort((a, b) => a - b);
    for (let i = 1; i < all.length; i++) assert.ok(all[i]! - all[i - 1]! >= 3_333, `snapshots at ${all[i - 1]} and ${all[i]}`);
  }
  // A member list with the member missing (not applied yet) still gives a phase in range.
  const p = snapshotPhase(123_457, [1, 2], interval);
  assert.ok(p >= 0 && p < interval);
  assert.equal(snapshotPhase(7, [7], 0), 0);
});

test("after a snapshot from anywhere (the leader's, or one before a restart), the next comes within half to one and a half intervals", () => {
  const interval = 1_000;
  for (const raftId of [3, 500, 999, 31_337]) {
    for (const installed of [0, 1, 250, 499, 500, 777, 12_345]) {
      const next = run(raftId, interval, installed, installed + 5 * interval)[0]!;
      assert.ok(next - installed >= interval / 2, `${raftId} after ${installed}: next at ${next}`);
      assert.ok(next - installed <= 1.5 * interval, `${raftId} after ${installed}: next at ${next}`);
    }
  }
});

test("a snapshot waits for the log to outweigh the given share of the last one; none yet always may", () => {
  assert.equal(logOutweighsSnapshot(0, 0), true);
  assert.equal(logOutweighsSnapshot(499, 1000), false);
  assert.equal(logOutweighsSnapshot(500, 1000), true);
  assert.equal(logOutweighsSnapshot(10, 1000, 0), true, "share 0: the interval alone decides");
  assert.equal(logOutweighsSnapshot(999, 1000, 1), false);
  // Over a store that grows by every write, the bytes snapshots write stay within a few times the log's
  // (a snapshot follows at least half its predecessor's size of log); by the interval alone they grow
  // with the store.
  const snapshotWork = (share: number): number => {
    const entry = 400;
    let store = 0, since = 0, lastIndex = 0, lastSize = 0, total = 0;
    for (let i = 1; i <= 1_000_000; i++) {
      store += entry;
      since += entry;
      if (i - lastIndex >= 10_000 && logOutweighsSnapshot(since, lastSize, share)) {
        total += store;
        lastSize = store;
        lastIndex = i;
        since = 0;
      }
    }
    return total / (1_000_000 * entry);
  };
  assert.ok(snapshotWork(0.5) <= 3.2, `with the share: ${snapshotWork(0.5).toFixed(1)}× the log`);
  assert.ok(snapshotWork(0) >= 40, `by the interval alone: ${snapshotWork(0).toFixed(1)}× the log`);
});
