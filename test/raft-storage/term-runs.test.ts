import { test } from "node:test";
import assert from "node:assert/strict";
import { TermRuns } from "../../src/workers/manager/raft/storage/term-runs.js";
import { entries } from "./helpers.js";

test("term runs answer term(i) across appends, overwrites and snapshots", () => {
  const r = new TermRuns(0, 0, [...entries(1, 5, 1), ...entries(6, 9, 2)]);
  assert.equal(r.firstIndex, 1);
  assert.equal(r.lastIndex, 9);
  assert.equal(r.lastTerm, 2);
  assert.equal(r.term(0), 0);
  assert.equal(r.term(5), 1);
  assert.equal(r.term(6), 2);
  assert.equal(r.term(10), undefined);
  r.append(entries(4, 6, 3)); // overwrite from 4
  assert.equal(r.lastIndex, 6);
  assert.deepEqual([r.term(3), r.term(4), r.term(6), r.term(7)], [1, 3, 3, undefined]);
  r.restore(5, 3); // matches: keeps 6
  assert.deepEqual([r.firstIndex, r.lastIndex, r.term(5), r.term(6), r.term(4)], [6, 6, 3, 3, undefined]);
  r.restore(20, 4); // beyond the log: replaces it
  assert.deepEqual([r.firstIndex, r.lastIndex, r.lastTerm], [21, 20, 4]);
  r.append(entries(21, 22, 4));
  assert.equal(r.lastIndex, 22);
  r.restore(21, 9); // conflicts at 21: drops everything
  assert.deepEqual([r.lastIndex, r.lastTerm, r.term(22)], [21, 9, undefined]);
});
