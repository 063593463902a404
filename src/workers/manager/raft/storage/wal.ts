// The write-ahead log: a directory of preallocated segment files, each a
// sequence of framed records (see records.ts). Opening reads every segment,
// repairs a torn tail and replays; appending places records into the current
// segment and cuts a new one when the next record would not fit.
// The Wal is not concurrency-safe: RaftStorage serialises calls to it.

import { fdatasync, fdatasyncSync, writeSync } from "node:fs";
import { open, readFile, readdir, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { SwarmError } from "../../../../shared/errors.js";
import { getLogger } from "../../../../shared/logging.js";
import { EMPTY_HARD_STATE, type HardState } from "../core/types.js";
import { fsyncDir } from "./fs-util.js";
import { TMP_SUFFIX, parseWalName, walName } from "./names.js";
import {
  frameInto,
  frameSize,
  hardStateRecord,
  segmentHeaderRecord,
  snapshotMarkerRecord,
  type PendingRecord,
  type SnapshotMarker,
} from "./records.js";
import { replay, type ReplayResult, type ReplaySegment } from "./replay.js";
import { scanSegment } from "./segment-scan.js";

const log = getLogger("raft/wal");

export const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;

/** A record to append plus what it changes in the writer's view of the log. */
export type WalItem =
  | { kind: "entry"; index: number; record: PendingRecord }
  | { kind: "hardState"; hardState: HardState; record: PendingRecord }
  | { kind: "marker"; marker: SnapshotMarker; record: PendingRecord };

export interface SegmentInfo {
  seq: number;
  firstIndex: number;
  name: string;
}

/** A torn tail that was cut off on open. */
export interface Repair {
  file: string;
  offset: number;
  discardedBytes: number;
  reason: string;
}

export interface WalOpenResult {
  wal: Wal;
  replayed: ReplayResult;
  repairs: Repair[];
  /** True when the WAL directory held no segment and a new WAL was created. */
  created: boolean;
}

export interface WalStats {
  fsyncs: number;
  /** Of those, run on the calling thread rather than the pool. */
  inlineFsyncs: number;
  writes: number;
  bytesWritten: number;
  segmentsCreated: number;
}

export class Wal {
  readonly stats: WalStats = { fsyncs: 0, inlineFsyncs: 0, writes: 0, bytesWritten: 0, segmentsCreated: 0 };
  /** Records were written (page cache) after the last fdatasync. */
  private unsynced = false;
  private fh: FileHandle;
  private offset: number;
  /** Whether the current segment holds anything beyond its header and baseline. */
  private hasItems: boolean;
  private lastRecordIndex: number;
  private marker: SnapshotMarker | null;
  private hardState: HardState;

  private constructor(
    readonly dir: string,
    private readonly segmentSize: number,
    private readonly metadata: Uint8Array,
    private readonly segments: SegmentInfo[],
    fh: FileHandle,
    offset: number,
    state: { lastRecordIndex: number; marker: SnapshotMarker | null; hardState: HardState },
  ) {
    this.fh = fh;
    this.offset = offset;
    this.hasItems = true;
    this.lastRecordIndex = state.lastRecordIndex;
    this.marker = state.marker;
    this.hardState = state.hardState;
  }

  /** Segment files currently in use, oldest first. */
  listSegments(): readonly SegmentInfo[] {
    return this.segments;
  }

  static async open(dir: string, segmentSize: number, metadata: Uint8Array): Promise<WalOpenResult> {
    const names = await readdir(dir);
    const infos: SegmentInfo[] = [];
    for (const name of names) {
      const parsed = parseWalName(name);
      if (parsed) infos.push({ ...parsed, name });
      else if (name.endsWith(TMP_SUFFIX)) {
        log.warn({ file: join(dir, name) }, "removing leftover temporary file");
        await unlink(join(dir, name));
      } else log.warn({ file: join(dir, name) }, "ignoring unexpected file in the WAL directory");
    }
    infos.sort((a, b) => a.seq - b.seq);
    for (let i = 1; i < infos.length; i++) {
      const prev = infos[i - 1]!;
      const cur = infos[i]!;
      if (cur.seq !== prev.seq + 1)
        throw new SwarmError(
          "DATA_LOSS",
          `WAL segment missing in ${dir}: ${prev.name} (seq ${prev.seq}) is followed by ${cur.name} (seq ${cur.seq}); segment seq ${prev.seq + 1} is gone — refusing to start`,
        );
    }

    const repairs: Repair[] = [];
    const scanned: ReplaySegment[] = [];
    let tailEnd = 0;
    let tailSize = 0;
    for (let i = 0; i < infos.length; i++) {
      const info = infos[i]!;
      const file = join(dir, info.name);
      const buf = await readFile(file);
      const isLast = i === infos.length - 1;
      const scan = scanSegment(buf, file, isLast);
      if (scan.torn) {
        const r: Repair = { file, offset: scan.torn.offset, discardedBytes: buf.length - scan.torn.offset, reason: scan.torn.reason };
        log.warn(r, "WAL ends in a torn record (crash during a write); cutting it off");
        repairs.push(r);
        await zeroFrom(file, scan.torn.offset, Math.max(buf.length, segmentSize));
      }
      if (isLast && scan.records.length === 0) {
        // A crash while cutting a segment: nothing in it was ever acknowledged.
        log.warn({ file }, "last WAL segment has no header (crash while creating it); removing it");
        repairs.push({ file, offset: 0, discardedBytes: buf.length, reason: "segment without header" });
        await unlink(file);
        await fsyncDir(dir);
        infos.pop();
        break;
      }
      scanned.push({ file, seq: info.seq, firstIndex: info.firstIndex, records: scan.records });
      tailEnd = scan.end;
      tailSize = Math.max(buf.length, segmentSize);
    }

    if (infos.length === 0) {
      const first: SegmentInfo = { seq: 0, firstIndex: 1, name: walName(0, 1) };
      const empty: ReplayResult = { hardState: { ...EMPTY_HARD_STATE }, marker: null, entries: [], metadata, lastRecordIndex: 0 };
      const { fh, end } = await createSegment(dir, first, segmentSize, metadata, null, null);
      const wal = new Wal(dir, segmentSize, metadata, [first], fh, end, { lastRecordIndex: 0, marker: null, hardState: empty.hardState });
      wal.hasItems = false;
      wal.stats.segmentsCreated++;
      return { wal, replayed: empty, repairs, created: true };
    }

    const replayed = replay(scanned);
    const last = infos[infos.length - 1]!;
    const fh = await open(join(dir, last.name), "r+");
    if ((await fh.stat()).size < tailSize) await fh.truncate(tailSize);
    const wal = new Wal(dir, segmentSize, replayed.metadata, infos, fh, tailEnd, {
      lastRecordIndex: replayed.lastRecordIndex,
      marker: replayed.marker,
      hardState: replayed.hardState,
    });
    return { wal, replayed, repairs, created: false };
  }

  /**
   * Appends the items in order and makes them durable: one positional write
   * per touched segment and one fdatasync (plus the cut of a segment when the
   * next record does not fit).
   */
  async append(items: readonly WalItem[], sync = true, inline = false): Promise<void> {
    let i = 0;
    while (i < items.length) {
      // Take as many items as fit in the current segment (at least one if the segment is fresh).
      let size = 0;
      let j = i;
      while (j < items.length) {
        const s = frameSize(items[j]!.record);
        if (this.offset + size + s > this.segmentSize && (this.hasItems || j > i)) break;
        size += s;
        j++;
      }
      if (j === i) {
        await this.cut();
        continue;
      }
      const buf = Buffer.allocUnsafe(size);
      let o = 0;
      for (let k = i; k < j; k++) {
        const item = items[k]!;
        o = frameInto(buf, o, item.record);
        this.track(item);
      }
      await this.writeAt(buf, this.offset);
      this.offset += size;
      this.hasItems = true;
      i = j;
      if (i < items.length) await this.cut();
    }
    if (sync) await this.sync(inline);
    else this.unsynced = true;
  }

  /**
   * Makes everything written so far durable (one fdatasync). `inline` runs it
   * on the calling thread instead of the thread pool: it blocks the event
   * loop for the flush, but spares the hand-off to a pool thread and back
   * (futex, eventfd, epoll: tens of microseconds, more on a busy machine) —
   * worth it when the caller has nothing else to do meanwhile.
   */
  async sync(inline = false): Promise<void> {
    this.unsynced = false;
    const fd = this.fh.fd;
    if (inline) {
      fdatasyncSync(fd);
      this.stats.inlineFsyncs++;
    }
    // The callback form: one thread-pool round trip without FileHandle's promise bookkeeping.
    else await new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
    this.stats.fsyncs++;
  }

  /** Deletes segments whose every entry is at or below `index` - 1; never the current one. */
  async releaseTo(index: number): Promise<string[]> {
    const removed: string[] = [];
    while (this.segments.length > 1 && this.segments[1]!.firstIndex <= index) {
      const seg = this.segments.shift()!;
      await unlink(join(this.dir, seg.name));
      removed.push(seg.name);
    }
    if (removed.length > 0) await fsyncDir(this.dir);
    return removed;
  }

  async close(): Promise<void> {
    if (this.unsynced) await this.sync();
    await this.fh.close();
  }

  private track(item: WalItem): void {
    if (item.kind === "entry") this.lastRecordIndex = item.index;
    else if (item.kind === "hardState") this.hardState = item.hardState;
    else this.marker = item.marker;
  }

  private async writeAt(buf: Buffer, position: number): Promise<void> {
    let done = 0;
    // A synchronous write into the page cache (microseconds): one thread-pool round trip per save
    // (the fdatasync) instead of two. Durability is unchanged: append() resolves after the fdatasync.
    while (done < buf.length) {
      const bytesWritten = writeSync(this.fh.fd, buf, done, buf.length - done, position + done);
      done += bytesWritten;
      this.stats.writes++;
    }
    this.stats.bytesWritten += buf.length;
  }

  /** Seals the current segment (durably) and starts the next one with a baseline of the current state. */
  private async cut(): Promise<void> {
    await this.fh.datasync();
    this.stats.fsyncs++;
    await this.fh.close();
    const prev = this.segments[this.segments.length - 1]!;
    const next: SegmentInfo = {
      seq: prev.seq + 1,
      firstIndex: Math.max(this.lastRecordIndex, this.marker?.index ?? 0) + 1,
      name: "",
    };
    next.name = walName(next.seq, next.firstIndex);
    const hs = this.hardState.term === 0 && this.hardState.vote === 0 && this.hardState.commit === 0 ? null : this.hardState;
    const { fh, end } = await createSegment(this.dir, next, this.segmentSize, this.metadata, this.marker, hs);
    this.segments.push(next);
    this.fh = fh;
    this.offset = end;
    this.hasItems = false;
    this.stats.segmentsCreated++;
    this.stats.fsyncs += 2;
    log.debug({ segment: next.name }, "cut a new WAL segment");
  }
}

/**
 * Creates a preallocated segment holding its header and a baseline (newest
 * snapshot marker, current hard state), so any suffix of segments replays on
 * its own after older ones are released. Durable (file and directory) on return.
 */
async function createSegment(
  dir: string,
  info: SegmentInfo,
  segmentSize: number,
  metadata: Uint8Array,
  marker: SnapshotMarker | null,
  hardState: HardState | null,
): Promise<{ fh: FileHandle; end: number }> {
  const records: PendingRecord[] = [segmentHeaderRecord({ seq: info.seq, firstIndex: info.firstIndex, metadata })];
  if (marker) records.push(snapshotMarkerRecord(marker));
  if (hardState) records.push(hardStateRecord(hardState));
  let size = 0;
  for (const r of records) size += frameSize(r);
  const buf = Buffer.allocUnsafe(size);
  let o = 0;
  for (const r of records) o = frameInto(buf, o, r);
  const fh = await open(join(dir, info.name), "wx", 0o600);
  try {
    // ftruncate preallocates the size (sparse): appends then never change the file length.
    await fh.truncate(Math.max(segmentSize, size));
    await fh.write(buf, 0, size, 0);
    await fh.sync();
    await fsyncDir(dir);
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
  return { fh, end: size };
}

/** Zeroes a file from `offset` on and keeps (or restores) its preallocated size. */
async function zeroFrom(file: string, offset: number, size: number): Promise<void> {
  const fh = await open(file, "r+");
  try {
    await fh.truncate(offset);
    await fh.truncate(size);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
