import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { RaftStorage } from "../../src/workers/manager/raft/storage/index.js";
import { entries, entry, tempDir } from "./helpers.js";

test("hard state and entries survive a restart unchanged", async (t) => {
  const dir = await tempDir(t);
  const meta = new Uint8Array([1, 2, 3, 4]);
  const { storage, state } = await RaftStorage.open(dir, { segmentSize: 64 * 1024, metadata: meta });
  assert.equal(state.fresh, true);
  assert.deepEqual(state.entries, []);
  assert.equal(state.snapshot, null);
  const ents = [...entries(1, 10, 1), entry(11, 2, 0), entry(12, 2, 5000)];
  await storage.save({ term: 1, vote: 3, commit: 0 }, ents.slice(0, 5));
  await storage.save({ term: 2, vote: 1, commit: 7 }, ents.slice(5));
  assert.equal(storage.lastIndex(), 12);
  assert.equal(storage.lastTerm(), 2);
  await storage.close();

  const again = await RaftStorage.open(dir, { segmentSize: 64 * 1024 });
  assert.equal(again.state.fresh, false);
  assert.deepEqual(again.state.hardState, { term: 2, vote: 1, commit: 7 });
  assert.deepEqual(again.state.entries, ents);
  assert.deepEqual(again.state.metadata, meta);
  assert.deepEqual(again.state.repairs, []);
  assert.equal(again.storage.lastIndex(), 12);
  assert.equal(again.storage.term(10), 1);
  assert.equal(again.storage.term(11), 2);
  await again.storage.close();
});

test("the raft directory and its files are private", async (t) => {
  const dir = await tempDir(t);
  const { storage } = await RaftStorage.open(dir, { segmentSize: 8192 });
  await storage.close();
  for (const d of [dir, join(dir, "wal"), join(dir, "snap")]) assert.equal((await stat(d)).mode & 0o777, 0o700, d);
  const [seg] = await readdir(join(dir, "wal"));
  assert.equal(seg, "0000000000000000-0000000000000001.wal");
  const st = await stat(join(dir, "wal", seg!));
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal(st.size, 8192, "segment is preallocated to its size limit");
});

test("an entry at or below the last index replaces the log's tail", async (t) => {
  const dir = await tempDir(t);
  const { storage } = await RaftStorage.open(dir, { segmentSize: 64 * 1024 });
  await storage.save({ term: 1, vote: 1, commit: 3 }, entries(1, 8, 1));
  // A new leader at term 2 overwrites 5..8 with a shorter suffix.
  await storage.save({ term: 2, vote: 2, commit: 3 }, entries(5, 6, 2));
  assert.equal(storage.lastIndex(), 6);
  assert.equal(storage.lastTerm(), 2);
  await storage.save(null, entries(7, 7, 2));
  await storage.close();
  const { storage: s2, state } = await RaftStorage.open(dir, { segmentSize: 64 * 1024 });
  assert.deepEqual(state.entries, [...entries(1, 4, 1), ...entries(5, 7, 2)]);
  assert.deepEqual(state.hardState, { term: 2, vote: 2, commit: 3 });
  await s2.close();
});

test("segments rotate at the size limit and replay across many segments", async (t) => {
  const dir = await tempDir(t);
  const segmentSize = 4096;
  const { storage } = await RaftStorage.open(dir, { segmentSize });
  const all = entries(1, 300, 1, 100);
  for (let i = 0; i < all.length; i += 7) {
    const batch = all.slice(i, i + 7);
    await storage.save({ term: 1, vote: 1, commit: batch[0]!.index }, batch);
  }
  // A record bigger than a whole segment still goes in (its segment grows).
  const big = entry(301, 1, 10_000);
  await storage.save({ term: 1, vote: 1, commit: 300 }, [big]);
  await storage.save(null, [entry(302, 1)]);
  const segs = storage.segments();
  assert.ok(segs.length >= 10, `expected many segments, got ${segs.length}`);
  await storage.close();

  const names = (await readdir(join(dir, "wal"))).sort();
  assert.deepEqual(names, segs.map((s) => s.name));
  for (let i = 0; i < segs.length; i++) assert.equal(segs[i]!.seq, i);
  for (const n of names.slice(0, -2)) assert.equal((await stat(join(dir, "wal", n))).size, segmentSize, `${n} stays preallocated`);

  const { storage: s2, state } = await RaftStorage.open(dir, { segmentSize });
  assert.deepEqual(state.entries, [...all, big, entry(302, 1)]);
  assert.deepEqual(state.hardState, { term: 1, vote: 1, commit: 300 });
  // Appending after a restart continues in the last segment and replays again.
  await s2.save({ term: 1, vote: 1, commit: 302 }, entries(303, 340, 1, 100));
  await s2.close();
  const { storage: s3, state: st3 } = await RaftStorage.open(dir, { segmentSize });
  assert.equal(st3.entries.length, 340);
  assert.deepEqual(st3.entries.at(-1), entry(340, 1, 100));
  await s3.close();
});

test("concurrent saves share fsyncs (group commit) and keep their order", async (t) => {
  const dir = await tempDir(t);
  const { storage } = await RaftStorage.open(dir, { segmentSize: 64 * 1024 });
  const before = storage.stats();
  const saves: Promise<void>[] = [];
  for (let i = 1; i <= 200; i++) saves.push(storage.save({ term: 1, vote: 1, commit: i - 1 }, [entry(i, 1)]));
  // Overwrite the tail within the same burst: order of records must be preserved.
  saves.push(storage.save({ term: 2, vote: 2, commit: 150 }, entries(190, 195, 2)));
  await Promise.all(saves);
  const after = storage.stats();
  assert.equal(after.saves - before.saves, 201);
  assert.ok(after.fsyncs - before.fsyncs < 20, `201 saves took ${after.fsyncs - before.fsyncs} fsyncs`);
  assert.ok(after.flushes >= 1);
  await storage.close();
  const { storage: s2, state } = await RaftStorage.open(dir, { segmentSize: 64 * 1024 });
  assert.deepEqual(state.entries, [...entries(1, 189, 1), ...entries(190, 195, 2)]);
  assert.deepEqual(state.hardState, { term: 2, vote: 2, commit: 150 });
  await s2.close();
});

test("a lone save costs one write and one fsync", async (t) => {
  const dir = await tempDir(t);
  const { storage } = await RaftStorage.open(dir, { segmentSize: 64 * 1024 });
  const before = storage.stats();
  await storage.save({ term: 1, vote: 1, commit: 0 }, entries(1, 5, 1));
  const after = storage.stats();
  assert.equal(after.fsyncs - before.fsyncs, 1);
  assert.equal(after.flushes - before.flushes, 1);
  await storage.close();
  await assert.rejects(storage.save(null, [entry(6, 1)]), /closed/);
});
