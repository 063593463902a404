// A commit-index-only hard state is written in order without an fsync of its
// own: the next save's fsync covers it, or the lazy timer does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { LAZY_COMMIT_SYNC_MS, RaftStorage } from "../../src/workers/manager/raft/storage/raft-storage.js";
import { entries, tempDir } from "./helpers.js";

/** Lets the storage's queued flush run (it is chained on promises). */
const settle = () => sleep(1);

test("a commit-only hard state costs no fsync when a save follows, and is replayed", async (t) => {
  const dir = await tempDir(t);
  const { storage } = await RaftStorage.open(dir, { segmentSize: 64 * 1024 });
  await storage.save({ term: 1, vote: 1, commit: 0 }, entries(1, 3, 1));
  const before = storage.stats().fsyncs;
  storage.saveCommit({ term: 1, vote: 1, commit: 3 });
  await settle();
  assert.equal(storage.stats().fsyncs, before, "the commit record alone does not fsync");
  await storage.save(null, entries(4, 4, 1));
  assert.equal(storage.stats().fsyncs, before + 1, "the next save's one fsync covers both");
  // Reopened without close() (as after kill -9: the page cache keeps what was written).
  const again = await RaftStorage.open(dir, { segmentSize: 64 * 1024 });
  assert.deepEqual(again.state.hardState, { term: 1, vote: 1, commit: 3 });
  assert.equal(again.state.entries.length, 4);
  await again.storage.close();
  await storage.close();
});

test("a commit-only hard state with nothing after it is fsynced by the lazy timer", async (t) => {
  const dir = await tempDir(t);
  const { storage } = await RaftStorage.open(dir, { segmentSize: 64 * 1024 });
  await storage.save({ term: 1, vote: 1, commit: 0 }, entries(1, 2, 1));
  const before = storage.stats().fsyncs;
  storage.saveCommit({ term: 1, vote: 1, commit: 2 });
  await settle();
  assert.equal(storage.stats().fsyncs, before);
  const deadline = Date.now() + 5000;
  while (storage.stats().fsyncs === before && Date.now() < deadline) await sleep(LAZY_COMMIT_SYNC_MS);
  assert.equal(storage.stats().fsyncs, before + 1, "fsynced within the lazy window");
  await storage.close();
});

test("close() fsyncs a commit record still waiting for its lazy fsync", async (t) => {
  const dir = await tempDir(t);
  const { storage } = await RaftStorage.open(dir, { segmentSize: 64 * 1024 });
  await storage.save({ term: 2, vote: 1, commit: 0 }, entries(1, 5, 2));
  const before = storage.stats().fsyncs;
  storage.saveCommit({ term: 2, vote: 1, commit: 5 });
  await storage.close();
  assert.equal(storage.stats().fsyncs, before + 1);
  const again = await RaftStorage.open(dir, { segmentSize: 64 * 1024 });
  assert.deepEqual(again.state.hardState, { term: 2, vote: 1, commit: 5 });
  await again.storage.close();
});

test("commit records keep their place behind entries saved before them", async (t) => {
  const dir = await tempDir(t);
  const { storage } = await RaftStorage.open(dir, { segmentSize: 64 * 1024 });
  // Queued in one event-loop turn: entries 1..3 (synced save), then the commit of 3.
  const saved = storage.save({ term: 1, vote: 1, commit: 0 }, entries(1, 3, 1));
  storage.saveCommit({ term: 1, vote: 1, commit: 3 });
  await saved;
  await storage.close();
  const again = await RaftStorage.open(dir, { segmentSize: 64 * 1024 });
  assert.deepEqual(again.state.hardState, { term: 1, vote: 1, commit: 3 });
  assert.equal(again.state.entries.length, 3);
  await again.storage.close();
});
