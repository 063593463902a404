// A save whose caller has nothing to overlap with the fsync syncs inline, on
// the loop thread: durable as ever, and done before the loop turns again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RaftStorage } from "../../src/workers/manager/raft/storage/raft-storage.js";
import { entries, tempDir } from "./helpers.js";

test("an inline save is durable, counted, and completes without yielding to the event loop", async (t) => {
  const dir = await tempDir(t);
  const { storage } = await RaftStorage.open(dir, { segmentSize: 64 * 1024 });
  const before = storage.stats().fsyncs;
  let immediateRan = false;
  const saved = storage.save({ term: 1, vote: 1, commit: 0 }, entries(1, 3, 1), { inlineSync: true });
  setImmediate(() => (immediateRan = true));
  await saved;
  assert.equal(immediateRan, false, "the fsync ran on this thread: no macrotask ran before the save resolved");
  assert.equal(storage.stats().fsyncs, before + 1);
  // Reopened without close() (as after kill -9).
  const again = await RaftStorage.open(dir, { segmentSize: 64 * 1024 });
  assert.equal(again.state.entries.length, 3);
  assert.deepEqual(again.state.hardState, { term: 1, vote: 1, commit: 0 });
  await again.storage.close();
  await storage.close();
});

test("inline and pooled saves queued together share one fsync and keep their order", async (t) => {
  const dir = await tempDir(t);
  const { storage } = await RaftStorage.open(dir, { segmentSize: 64 * 1024 });
  await storage.save({ term: 1, vote: 1, commit: 0 }, entries(1, 1, 1));
  const before = storage.stats().fsyncs;
  const a = storage.save(null, entries(2, 3, 1), { inlineSync: true });
  const b = storage.save({ term: 1, vote: 1, commit: 3 }, entries(4, 5, 1));
  await Promise.all([a, b]);
  assert.equal(storage.stats().fsyncs, before + 1, "one group-commit round");
  const again = await RaftStorage.open(dir, { segmentSize: 64 * 1024 });
  assert.deepEqual(again.state.entries.map((e) => e.index), [1, 2, 3, 4, 5]);
  assert.equal(again.state.hardState?.commit, 3);
  await again.storage.close();
  await storage.close();
});
