// WAL record framing and payload codecs.
//
// Frame: crc32c u32 | length u32 | type u8 | payload[length], little-endian.
// The checksum covers length, type and payload (bytes 4..end of the frame),
// so a damaged length field is caught too. Type 0 is never written: an
// all-zero header marks the unwritten (preallocated) end of a segment.

import type { Entry, EntryType, HardState } from "../core/types.js";
import { assertU64, readU64, writeU64 } from "./binary.js";
import { crc32c } from "./crc32c.js";

export const HEADER_SIZE = 9;
/** Largest payload accepted; a bigger length field can only be damage. */
export const MAX_PAYLOAD = 1 << 30;

export const enum RecordType {
  SegmentHeader = 1,
  Entry = 2,
  HardState = 3,
  SnapshotMarker = 4,
}

export function isRecordType(t: number): t is RecordType {
  return t >= RecordType.SegmentHeader && t <= RecordType.SnapshotMarker;
}

const SEGMENT_MAGIC = 0x4c41_5753; // "SWAL" little-endian
const SEGMENT_VERSION = 1;

export interface SegmentHeader {
  seq: number;
  /** Index of the first entry appended after this segment was cut. */
  firstIndex: number;
  /** Opaque caller metadata (SwarmKit: the local RaftMember), repeated in every segment. */
  metadata: Uint8Array;
}

export interface SnapshotMarker {
  index: number;
  term: number;
}

/** A record ready to be framed: its type and payload size, and a writer for the payload. */
export interface PendingRecord {
  type: RecordType;
  size: number;
  write(buf: Buffer, offset: number): void;
}

export function frameSize(r: PendingRecord): number {
  return HEADER_SIZE + r.size;
}

/** Frames `records` into buf starting at offset; returns the end offset. */
export function frameInto(buf: Buffer, offset: number, r: PendingRecord): number {
  const start = offset;
  buf.writeUInt32LE(r.size, start + 4);
  buf[start + 8] = r.type;
  r.write(buf, start + HEADER_SIZE);
  const end = start + HEADER_SIZE + r.size;
  buf.writeUInt32LE(crc32c(buf, start + 4, end), start);
  return end;
}

export function frameAll(records: readonly PendingRecord[]): Buffer {
  let total = 0;
  for (const r of records) total += frameSize(r);
  const buf = Buffer.allocUnsafe(total);
  let off = 0;
  for (const r of records) off = frameInto(buf, off, r);
  return buf;
}

export function entryRecord(e: Entry): PendingRecord {
  assertU64(e.index, "entry index");
  assertU64(e.term, "entry term");
  return {
    type: RecordType.Entry,
    size: 17 + e.data.length,
    write(buf, o) {
      writeU64(buf, o, e.term);
      writeU64(buf, o + 8, e.index);
      buf[o + 16] = e.type;
      buf.set(e.data, o + 17);
    },
  };
}

export function hardStateRecord(hs: HardState): PendingRecord {
  assertU64(hs.term, "hard state term");
  assertU64(hs.vote, "hard state vote");
  assertU64(hs.commit, "hard state commit");
  return {
    type: RecordType.HardState,
    size: 24,
    write(buf, o) {
      writeU64(buf, o, hs.term);
      writeU64(buf, o + 8, hs.vote);
      writeU64(buf, o + 16, hs.commit);
    },
  };
}

export function snapshotMarkerRecord(m: SnapshotMarker): PendingRecord {
  assertU64(m.index, "snapshot index");
  assertU64(m.term, "snapshot term");
  return {
    type: RecordType.SnapshotMarker,
    size: 16,
    write(buf, o) {
      writeU64(buf, o, m.index);
      writeU64(buf, o + 8, m.term);
    },
  };
}

export function segmentHeaderRecord(h: SegmentHeader): PendingRecord {
  return {
    type: RecordType.SegmentHeader,
    size: 24 + h.metadata.length,
    write(buf, o) {
      buf.writeUInt32LE(SEGMENT_MAGIC, o);
      buf.writeUInt32LE(SEGMENT_VERSION, o + 4);
      writeU64(buf, o + 8, h.seq);
      writeU64(buf, o + 16, h.firstIndex);
      buf.set(h.metadata, o + 24);
    },
  };
}

// Decoders take a payload whose checksum already matched; a shape they still
// reject means a bug or a foreign file, and they say what is wrong.

export function decodeEntry(p: Buffer): Entry | string {
  if (p.length < 17) return `entry payload too short (${p.length} bytes)`;
  const term = readU64(p, 0);
  const index = readU64(p, 8);
  if (term === undefined || index === undefined) return "entry term/index out of range";
  // Copy the data out so entries do not pin the whole segment buffer.
  return { term, index, type: p[16] as EntryType, data: new Uint8Array(p.subarray(17)) };
}

export function decodeHardState(p: Buffer): HardState | string {
  if (p.length !== 24) return `hard state payload has ${p.length} bytes, want 24`;
  const term = readU64(p, 0);
  const vote = readU64(p, 8);
  const commit = readU64(p, 16);
  if (term === undefined || vote === undefined || commit === undefined) return "hard state field out of range";
  return { term, vote, commit };
}

export function decodeSnapshotMarker(p: Buffer): SnapshotMarker | string {
  if (p.length !== 16) return `snapshot marker payload has ${p.length} bytes, want 16`;
  const index = readU64(p, 0);
  const term = readU64(p, 8);
  if (index === undefined || term === undefined) return "snapshot marker field out of range";
  return { index, term };
}

export function decodeSegmentHeader(p: Buffer): SegmentHeader | string {
  if (p.length < 24) return `segment header payload too short (${p.length} bytes)`;
  if (p.readUInt32LE(0) !== SEGMENT_MAGIC) return "segment header has a wrong magic number";
  const version = p.readUInt32LE(4);
  if (version !== SEGMENT_VERSION) return `segment format version ${version} is not supported (want ${SEGMENT_VERSION})`;
  const seq = readU64(p, 8);
  const firstIndex = readU64(p, 16);
  if (seq === undefined || firstIndex === undefined) return "segment header field out of range";
  return { seq, firstIndex, metadata: new Uint8Array(p.subarray(24)) };
}
