import { test } from "node:test";
import assert from "node:assert/strict";
import { open, readdir, readFile, truncate } from "node:fs/promises";
import { join } from "node:path";
import { RaftStorage } from "../../src/workers/manager/raft/storage/index.js";
import { scanSegment } from "../../src/workers/manager/raft/storage/segment-scan.js";
import { copyDir, entries, entry, tempDir } from "./helpers.js";

const SEG = 8192;

/** Builds a WAL whose last record is entry 6; returns the last segment's path and that record's frame. */
async function pristine(dir: string): Promise<{ file: string; start: number; end: number }> {
  const { storage } = await RaftStorage.open(dir, { segmentSize: SEG });
  for (let i = 1; i <= 5; i++) await storage.save({ term: 1, vote: 1, commit: i - 1 }, [entry(i, 1)]);
  await storage.save(null, [entry(6, 1, 40)]);
  await storage.close();
  const names = (await readdir(join(dir, "wal"))).sort();
  const file = join(dir, "wal", names.at(-1)!);
  const scan = scanSegment(await readFile(file), file, true);
  const last = scan.records.at(-1)!;
  return { file, start: last.offset, end: scan.end };
}

for (const variant of ["file truncated", "rest zeroed (preallocated)"] as const) {
  test(`torn last record at every byte offset (${variant}): cut off with a warning, earlier records intact, appends work`, async (t) => {
    const base = await tempDir(t);
    const { file, start, end } = await pristine(base);
    assert.ok(end - start > 40);
    const work = base + "-work";
    const workFile = file.replace(base, work);
    for (let k = start; k <= end; k++) {
      await copyDir(base, work);
      if (variant === "file truncated") await truncate(workFile, k);
      else {
        const fh = await open(workFile, "r+");
        await fh.write(Buffer.alloc(end - k), 0, end - k, k);
        await fh.close();
      }
      const { storage, state } = await RaftStorage.open(work, { segmentSize: SEG });
      const torn = k > start && k < end;
      assert.deepEqual(state.entries, k === end ? [...entries(1, 5, 1), entry(6, 1, 40)] : entries(1, 5, 1), `cut at ${k}`);
      assert.deepEqual(state.hardState, { term: 1, vote: 1, commit: 4 });
      assert.equal(state.repairs.length, torn ? 1 : 0, `repairs at cut ${k}`);
      if (torn) {
        assert.equal(state.repairs[0]!.file, workFile);
        assert.equal(state.repairs[0]!.offset, start);
      }
      // Appending after the repair lands where the torn record was and replays cleanly.
      await storage.save({ term: 2, vote: 2, commit: 5 }, [entry(6, 2), entry(7, 2)]);
      await storage.close();
      const again = await RaftStorage.open(work, { segmentSize: SEG });
      assert.deepEqual(again.state.entries, [...entries(1, 5, 1), entry(6, 2), entry(7, 2)], `after append, cut at ${k}`);
      assert.deepEqual(again.state.repairs, []);
      await again.storage.close();
    }
  });
}

test("a last segment whose header is torn (crash while cutting it) is removed", async (t) => {
  const dir = await tempDir(t);
  const { storage } = await RaftStorage.open(dir, { segmentSize: 4096 });
  for (let i = 1; i <= 60; i++) await storage.save({ term: 1, vote: 1, commit: i - 1 }, [entry(i, 1, 100)]);
  const segs = storage.segments().map((s) => s.name);
  await storage.close();
  assert.ok(segs.length >= 2);
  const lastFile = join(dir, "wal", segs.at(-1)!);
  // Keep only what the previous segments hold: the entries up to the last segment's first index - 1.
  const firstOfLast = parseInt(segs.at(-1)!.split("-")[1]!, 16);
  for (const cut of [0, 4]) {
    const work = dir + `-hdr${cut}`;
    await copyDir(dir, work);
    await truncate(lastFile.replace(dir, work), cut);
    const { storage: s2, state } = await RaftStorage.open(work, { segmentSize: 4096 });
    assert.deepEqual(state.entries, entries(1, firstOfLast - 1, 1, 100));
    assert.equal(state.repairs.at(-1)!.reason, "segment without header");
    assert.equal(state.repairs.at(-1)!.file, lastFile.replace(dir, work));
    await s2.save(null, [entry(firstOfLast, 2)]);
    await s2.close();
    const again = await RaftStorage.open(work, { segmentSize: 4096 });
    assert.equal(again.state.entries.length, firstOfLast);
    await again.storage.close();
  }
});
