import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, open, readdir, readFile, truncate, unlink } from "node:fs/promises";
import { join } from "node:path";
import { SwarmError } from "../../src/shared/errors.js";
import { RaftStorage } from "../../src/workers/manager/raft/storage/index.js";
import { decodeSnapshot, encodeSnapshot, writeSnapshotFile } from "../../src/workers/manager/raft/storage/snapshot-file.js";
import type { Snapshot } from "../../src/workers/manager/raft/core/types.js";
import { entries, snapshot, tempDir } from "./helpers.js";

const SEG = 4096;

async function withLog(dir: string, n: number, keepOldSnapshots = 0): Promise<RaftStorage> {
  const { storage } = await RaftStorage.open(dir, { segmentSize: SEG, keepOldSnapshots });
  for (let i = 1; i <= n; i += 5) await storage.save({ term: 1, vote: 1, commit: i - 1 }, entries(i, Math.min(n, i + 4), 1, 100));
  return storage;
}

test("snapshot + compaction + replay restores snapshot, later entries and hard state", async (t) => {
  const dir = await tempDir(t);
  const storage = await withLog(dir, 200);
  await storage.saveSnapshot(snapshot(100, 1));
  await storage.saveSnapshot(snapshot(150, 1, 5000));
  const segsBefore = storage.segments().length;
  const { segments, snapshots } = await storage.compact(150);
  assert.ok(segments.length > 0, "some WAL segments were released");
  assert.equal(storage.segments().length, segsBefore - segments.length);
  assert.deepEqual(snapshots, ["0000000000000001-0000000000000064.snap"]);
  assert.ok(storage.segments()[0]!.firstIndex <= 150, "the segment holding the snapshot index is kept");
  assert.equal(storage.firstIndex(), 151);
  await storage.save({ term: 2, vote: 2, commit: 200 }, entries(201, 220, 2, 100));
  await storage.close();

  assert.deepEqual(await readdir(join(dir, "snap")), ["0000000000000001-0000000000000096.snap"]);
  const { storage: s2, state } = await RaftStorage.open(dir, { segmentSize: SEG });
  assert.deepEqual(state.snapshot, snapshot(150, 1, 5000));
  assert.deepEqual(state.entries, [...entries(151, 200, 1, 100), ...entries(201, 220, 2, 100)]);
  assert.deepEqual(state.hardState, { term: 2, vote: 2, commit: 200 });
  assert.equal(s2.firstIndex(), 151);
  assert.equal(s2.lastIndex(), 220);
  assert.equal(s2.term(150), 1);
  // Compacting again after more snapshots keeps replay exact.
  await s2.saveSnapshot(snapshot(215, 2));
  await s2.compact(215);
  await s2.close();
  const { storage: s3, state: st3 } = await RaftStorage.open(dir, { segmentSize: SEG });
  assert.deepEqual(st3.snapshot, snapshot(215, 2));
  assert.deepEqual(st3.entries, entries(216, 220, 2, 100));
  await s3.close();
});

test("keepOldSnapshots keeps that many older snapshot files", async (t) => {
  const dir = await tempDir(t);
  const storage = await withLog(dir, 60, 1);
  for (const i of [10, 20, 30]) await storage.saveSnapshot(snapshot(i, 1));
  await storage.compact(30);
  await storage.close();
  assert.deepEqual((await readdir(join(dir, "snap"))).sort(), ["0000000000000001-0000000000000014.snap", "0000000000000001-000000000000001e.snap"]);
});

test("a snapshot from the leader beyond the log replaces it; later entries follow it", async (t) => {
  const dir = await tempDir(t);
  const storage = await withLog(dir, 20);
  await storage.saveSnapshot(snapshot(50, 3));
  assert.equal(storage.lastIndex(), 50);
  assert.equal(storage.lastTerm(), 3);
  await storage.save({ term: 3, vote: 0, commit: 52 }, entries(51, 55, 3));
  await storage.close();
  const { storage: s2, state } = await RaftStorage.open(dir, { segmentSize: SEG });
  assert.deepEqual(state.snapshot, snapshot(50, 3));
  assert.deepEqual(state.entries, entries(51, 55, 3));
  await s2.close();
});

test("a snapshot that conflicts with the log at its index discards the log; one that matches keeps the suffix", async (t) => {
  const dir = await tempDir(t);
  const storage = await withLog(dir, 40);
  await storage.saveSnapshot(snapshot(30, 2)); // the log has term 1 at index 30
  await storage.save({ term: 2, vote: 0, commit: 30 }, []); // raft commits up to the snapshot
  assert.equal(storage.lastIndex(), 30);
  await storage.close();
  const { storage: s2, state } = await RaftStorage.open(dir, { segmentSize: SEG });
  assert.deepEqual(state.entries, []);
  assert.deepEqual(state.hardState, { term: 2, vote: 0, commit: 30 });
  assert.equal(s2.lastIndex(), 30);
  assert.equal(s2.lastTerm(), 2);
  await s2.close();

  const dir2 = dir + "-match";
  const other = await withLog(dir2, 40);
  await other.saveSnapshot(snapshot(30, 1));
  assert.equal(other.lastIndex(), 40);
  await other.close();
  const { storage: s3, state: st3 } = await RaftStorage.open(dir2, { segmentSize: SEG });
  assert.deepEqual(st3.entries, entries(31, 40, 1, 100));
  await s3.close();
});

test("a corrupt or truncated newest snapshot is refused, naming the file", async (t) => {
  const dir = await tempDir(t);
  const storage = await withLog(dir, 30);
  await storage.saveSnapshot(snapshot(10, 1));
  await storage.saveSnapshot(snapshot(20, 1, 300));
  await storage.close();
  const file = join(dir, "snap", "0000000000000001-0000000000000014.snap");
  const fh = await open(file, "r+");
  await fh.write(Buffer.from([0x55]), 0, 1, 200);
  await fh.close();
  await assert.rejects(RaftStorage.open(dir, { segmentSize: SEG }), (err) => {
    assert.ok(err instanceof SwarmError && err.code === "DATA_LOSS");
    assert.ok(err.message.includes(file) && /offset \d+/.test(err.message) && /checksum/.test(err.message), err.message);
    return true;
  });
  await truncate(file, 15);
  await assert.rejects(RaftStorage.open(dir, { segmentSize: SEG }), (err) => err instanceof SwarmError && err.message.includes(file) && err.message.includes("offset 0"));
});

test("a missing snapshot file that the WAL refers to is refused", async (t) => {
  const dir = await tempDir(t);
  const storage = await withLog(dir, 30);
  await storage.saveSnapshot(snapshot(20, 1));
  await storage.close();
  const file = join(dir, "snap", "0000000000000001-0000000000000014.snap");
  await unlink(file);
  await assert.rejects(RaftStorage.open(dir, { segmentSize: SEG }), (err) => err instanceof SwarmError && err.code === "DATA_LOSS" && err.message.includes(file) && /missing/.test(err.message));
});

test("a snapshot file without a WAL marker (crash mid-save) is removed and the log replays", async (t) => {
  const dir = await tempDir(t);
  const storage = await withLog(dir, 30);
  await storage.saveSnapshot(snapshot(10, 1));
  await storage.close();
  await writeSnapshotFile(join(dir, "snap"), snapshot(25, 1));
  const { storage: s2, state } = await RaftStorage.open(dir, { segmentSize: SEG });
  assert.deepEqual(state.snapshot, snapshot(10, 1));
  assert.deepEqual(state.entries, entries(11, 30, 1, 100));
  assert.deepEqual(await readdir(join(dir, "snap")), ["0000000000000001-000000000000000a.snap"]);
  await s2.close();
});

test("an older snapshot than the saved one is rejected", async (t) => {
  const dir = await tempDir(t);
  const storage = await withLog(dir, 30);
  await storage.saveSnapshot(snapshot(20, 1));
  await assert.rejects(storage.saveSnapshot(snapshot(10, 1)), (err) => err instanceof SwarmError && err.code === "FAILED_PRECONDITION");
  await storage.close();
});

test("a snapshot larger than one checksum slice is written byte for byte as encodeSnapshot encodes it, and reads back", async (t) => {
  const dir = await tempDir(t);
  await mkdir(dir, { recursive: true });
  const data = new Uint8Array(3 * (1 << 20) + 12345);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  const snap: Snapshot = { metadata: { index: 77, term: 3, confState: { voters: [1, 2, 3], learners: [9] } }, data };
  // The checksum runs in 1 MiB slices and header and data are written separately: the result must not change.
  const name = await writeSnapshotFile(dir, snap);
  const bytes = await readFile(join(dir, name));
  assert.ok(bytes.equals(encodeSnapshot(snap)), "the file is what encodeSnapshot encodes");
  assert.deepEqual(decodeSnapshot(bytes, name), snap);
  bytes[bytes.length - 1] ^= 1;
  assert.throws(() => decodeSnapshot(bytes, name), (err) => err instanceof SwarmError && err.code === "DATA_LOSS" && /checksum mismatch/.test(err.message));
});
