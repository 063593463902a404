import { test } from "node:test";
import assert from "node:assert/strict";
import { snapshotDue, snapshotPhase } from "../../src/workers/manager/raft/snapshot-schedule.js";

/** Applies entries one by one from `start`, snapshotting whenever one is due; returns the snapshot indices. */
function run(raftId: number, interval: number, start: number, upTo: number): number[] {
  const taken: number[] = [];
  let last = start;
  for (let applied = start + 1; applied <= upTo; applied++) {
    if (snapshotDue(applied, last, interval, raftId)) {
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
  for (const raftId of [1, 7, 4_999, 9_999, 10_000, 123_456_789, 2 ** 52 + 17]) {
    const taken = run(raftId, interval, 0, 100_000);
    const phase = snapshotPhase(raftId, interval);
    assert.ok(taken.length >= 9, `${raftId}: ${taken.length} snapshots`);
    assert.ok(taken[0]! >= interval / 2 && taken[0]! <= 1.5 * interval, `${raftId}: first at ${taken[0]}`);
    for (let i = 1; i < taken.length; i++) assert.equal(taken[i]! - taken[i - 1]!, interval, `${raftId}: gap before ${taken[i]}`);
    for (const t of taken) assert.equal((((t - phase) % interval) + interval) % interval, 0, `${raftId}: ${t} off phase ${phase}`);
  }
});

test("managers with different phases never snapshot at the same index", () => {
  const interval = 10_000;
  const ids = [1_001, 4_002, 7_003];
  const sets = ids.map((id) => new Set(run(id, interval, 0, 200_000)));
  for (let a = 0; a < sets.length; a++) {
    for (let b = a + 1; b < sets.length; b++) {
      for (const i of sets[a]!) assert.ok(!sets[b]!.has(i), `members ${ids[a]} and ${ids[b]} both snapshot at ${i}`);
    }
  }
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
