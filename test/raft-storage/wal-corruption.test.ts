import { test } from "node:test";
import assert from "node:assert/strict";
import { open, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { SwarmError } from "../../src/shared/errors.js";
import { RaftStorage } from "../../src/workers/manager/raft/storage/index.js";
import { scanSegment } from "../../src/workers/manager/raft/storage/segment-scan.js";
import { copyDir, entries, entry, tempDir } from "./helpers.js";

async function flipBit(file: string, offset: number, bit: number): Promise<void> {
  const fh = await open(file, "r+");
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, offset);
  b[0] = b[0]! ^ (1 << bit);
  await fh.write(b, 0, 1, offset);
  await fh.close();
}

function isDataLoss(file: string, offset: number): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof SwarmError, `not a SwarmError: ${String(err)}`);
    assert.equal(err.code, "DATA_LOSS");
    assert.ok(err.message.includes(file), `message does not name ${file}: ${err.message}`);
    assert.ok(err.message.includes(`offset ${offset}`), `message does not name offset ${offset}: ${err.message}`);
    return true;
  };
}

test("a flipped bit in any byte of a record before the tail is refused, naming file and offset", async (t) => {
  const base = await tempDir(t);
  const { storage } = await RaftStorage.open(base, { segmentSize: 16384 });
  for (let i = 1; i <= 8; i++) await storage.save({ term: 1, vote: 1, commit: i - 1 }, [entry(i, 1)]);
  await storage.close();
  const name = (await readdir(join(base, "wal")))[0]!;
  const scan = scanSegment(await readFile(join(base, "wal", name)), name, true);
  // The entry record of the 4th save (records: header, then entry/hard state pairs).
  const victim = scan.records.findIndex((r) => r.type === 2 && r.payload.readUInt32LE(8) === 4);
  const start = scan.records[victim]!.offset;
  const end = scan.records[victim + 1]!.offset;
  const work = base + "-work";
  const file = join(work, "wal", name);
  for (let off = start; off < end; off++) {
    await copyDir(base, work);
    await flipBit(file, off, off % 8);
    await assert.rejects(RaftStorage.open(work, { segmentSize: 16384 }), isDataLoss(file, start), `flip at ${off}`);
  }
});

test("corruption in an earlier segment is refused even at its end", async (t) => {
  const dir = await tempDir(t);
  const { storage } = await RaftStorage.open(dir, { segmentSize: 4096 });
  for (let i = 1; i <= 100; i++) await storage.save({ term: 1, vote: 1, commit: i - 1 }, [entry(i, 1, 100)]);
  const segs = storage.segments();
  await storage.close();
  assert.ok(segs.length >= 3);
  const file = join(dir, "wal", segs[1]!.name);
  const scan = scanSegment(await readFile(file), file, false);
  const lastRec = scan.records.at(-1)!;
  await flipBit(file, lastRec.offset + 20, 3);
  await assert.rejects(RaftStorage.open(dir, { segmentSize: 4096 }), (err) => {
    isDataLoss(file, lastRec.offset)(err);
    assert.match((err as Error).message, /not the last segment/);
    return true;
  });
});

test("a missing middle segment is refused, naming the neighbours", async (t) => {
  const dir = await tempDir(t);
  const { storage } = await RaftStorage.open(dir, { segmentSize: 4096 });
  for (let i = 1; i <= 100; i++) await storage.save({ term: 1, vote: 1, commit: i - 1 }, [entry(i, 1, 100)]);
  const segs = storage.segments();
  await storage.close();
  await unlink(join(dir, "wal", segs[2]!.name));
  await assert.rejects(RaftStorage.open(dir, { segmentSize: 4096 }), (err) => {
    assert.ok(err instanceof SwarmError && err.code === "DATA_LOSS");
    assert.ok(err.message.includes(segs[1]!.name) && err.message.includes(segs[3]!.name), err.message);
    return true;
  });
});

test("a missing first segment (no snapshot covers it) is refused as a gap", async (t) => {
  const dir = await tempDir(t);
  const { storage } = await RaftStorage.open(dir, { segmentSize: 4096 });
  for (let i = 1; i <= 60; i++) await storage.save({ term: 1, vote: 1, commit: i - 1 }, [entry(i, 1, 100)]);
  const segs = storage.segments();
  await storage.close();
  await unlink(join(dir, "wal", segs[0]!.name));
  await assert.rejects(RaftStorage.open(dir, { segmentSize: 4096 }), /DATA_LOSS|gap|missing/);
  await assert.rejects(RaftStorage.open(dir, { segmentSize: 4096 }), (err) => err instanceof SwarmError && err.code === "DATA_LOSS" && err.message.includes(segs[1]!.name));
});

test("a record lost at the end of an earlier segment is detected at the next segment's start", async (t) => {
  const dir = await tempDir(t);
  const { storage } = await RaftStorage.open(dir, { segmentSize: 4096 });
  for (let i = 1; i <= 60; i++) await storage.save(null, [entry(i, 1, 100)]);
  const segs = storage.segments();
  await storage.close();
  // Zero the last record of segment 0 as if it had never been written.
  const file = join(dir, "wal", segs[0]!.name);
  const scan = scanSegment(await readFile(file), file, false);
  const lastRec = scan.records.at(-1)!;
  const fh = await open(file, "r+");
  await fh.write(Buffer.alloc(scan.end - lastRec.offset), 0, scan.end - lastRec.offset, lastRec.offset);
  await fh.close();
  await assert.rejects(RaftStorage.open(dir, { segmentSize: 4096 }), (err) => err instanceof SwarmError && err.code === "DATA_LOSS" && err.message.includes(segs[1]!.name) && /missing/.test(err.message));
});

test("the group commit survives overwrites at restart and entries(1..n) stay equal", async (t) => {
  const dir = await tempDir(t);
  const { storage } = await RaftStorage.open(dir, { segmentSize: 4096 });
  await Promise.all([storage.save(null, entries(1, 30, 1, 64)), storage.save({ term: 1, vote: 0, commit: 30 }, [])]);
  await storage.close();
  const { storage: s2, state } = await RaftStorage.open(dir, { segmentSize: 4096 });
  assert.deepEqual(state.entries, entries(1, 30, 1, 64));
  await s2.close();
});
