// Reads the framed records of one WAL segment and decides what a bad frame
// means. A segment ends at the first all-zero header followed only by zeros
// (its preallocated space). A bad frame is a torn write, cut off with a
// warning, only when it is in the last segment and no valid frame follows it
// anywhere: a crash mid-write leaves a partial last record and nothing valid
// after it. Anything else (bad frame followed by valid ones, or in an earlier
// segment) is corruption of acknowledged data and is refused.

import { SwarmError } from "../../../../shared/errors.js";
import { isAllZero } from "./binary.js";
import { crc32c } from "./crc32c.js";
import { HEADER_SIZE, MAX_PAYLOAD, RecordType, isRecordType } from "./records.js";

export interface RawRecord {
  type: RecordType;
  /** A view into the segment buffer. */
  payload: Buffer;
  /** Byte offset of the frame in its file. */
  offset: number;
}

export interface TornTail {
  /** Where the torn record starts: the file is valid up to here. */
  offset: number;
  reason: string;
}

export interface SegmentScan {
  records: RawRecord[];
  /** Offset just past the last valid record. */
  end: number;
  torn: TornTail | null;
}

/** Why the frame at `off` is not a valid record, or null if it is. */
function frameProblem(buf: Buffer, off: number): string | null {
  if (buf.length - off < HEADER_SIZE) return `record header cut short (${buf.length - off} of ${HEADER_SIZE} bytes before end of file)`;
  const len = buf.readUInt32LE(off + 4);
  const type = buf[off + 8]!;
  if (!isRecordType(type)) return `invalid record type ${type}`;
  if (len > MAX_PAYLOAD) return `record length ${len} exceeds the limit`;
  const end = off + HEADER_SIZE + len;
  if (end > buf.length) return `record of ${len} bytes extends past end of file (${buf.length} bytes)`;
  const want = buf.readUInt32LE(off);
  const got = crc32c(buf, off + 4, end);
  if (want !== got) return `checksum mismatch (stored ${hex(want)}, computed ${hex(got)})`;
  return null;
}

function hex(n: number): string {
  return "0x" + n.toString(16).padStart(8, "0");
}

/** Offset of the first valid frame after `from`, or -1. Cheap checks first: CRCs only for plausible headers. */
export function findValidFrameAfter(buf: Buffer, from: number): number {
  const last = buf.length - HEADER_SIZE;
  for (let p = from + 1; p <= last; p++) {
    // Preallocated space is mostly zeros: skip whole zero blocks (no frame can start in them).
    if ((p & 4095) === 0 && p + 4096 + HEADER_SIZE <= buf.length && isAllZero(buf, p, p + 4096 + HEADER_SIZE)) {
      p += 4095;
      continue;
    }
    const type = buf[p + 8]!;
    if (type === 0 || !isRecordType(type)) continue;
    const len = buf.readUInt32LE(p + 4);
    if (len > buf.length - p - HEADER_SIZE) continue;
    if (frameProblem(buf, p) === null) return p;
  }
  return -1;
}

export function scanSegment(buf: Buffer, file: string, isLast: boolean): SegmentScan {
  const records: RawRecord[] = [];
  let off = 0;
  while (off < buf.length) {
    // An all-zero header is the unwritten end of the segment, if only zeros follow.
    if (buf.length - off >= HEADER_SIZE && isAllZero(buf, off, off + HEADER_SIZE) && isAllZero(buf, off)) break;
    if (buf.length - off < HEADER_SIZE && isAllZero(buf, off)) break;
    const problem = frameProblem(buf, off);
    if (problem !== null) {
      const problemText = isAllZero(buf, off, Math.min(buf.length, off + HEADER_SIZE))
        ? "zeroed record header followed by non-zero data"
        : problem;
      if (isLast) {
        const next = findValidFrameAfter(buf, off);
        if (next < 0) return { records, end: off, torn: { offset: off, reason: problemText } };
        throw new SwarmError(
          "DATA_LOSS",
          `WAL segment ${file}: corrupt record at offset ${off}: ${problemText}; a valid record follows at offset ${next}, so this is not a torn write — refusing to start`,
        );
      }
      throw new SwarmError(
        "DATA_LOSS",
        `WAL segment ${file}: corrupt record at offset ${off}: ${problemText} (not the last segment, so not a torn write) — refusing to start`,
      );
    }
    const len = buf.readUInt32LE(off + 4);
    records.push({ type: buf[off + 8] as RecordType, payload: buf.subarray(off + HEADER_SIZE, off + HEADER_SIZE + len), offset: off });
    off += HEADER_SIZE + len;
  }
  return { records, end: off, torn: null };
}
