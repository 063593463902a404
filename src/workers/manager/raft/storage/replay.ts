// Turns the records of a WAL (already framed and checksummed, in segment
// order) into the raft state they describe, the way etcd's WAL does:
// - the last hard state wins;
// - the newest snapshot marker (index S, term T) is the replay base: entries
//   at or below S are covered by the snapshot file and skipped;
// - an entry at an index at or below one already read replaces the tail
//   (a new leader overwrote uncommitted entries);
// - if the log written before the marker held a different term at S, that log
//   was discarded by raft when it restored a snapshot from the leader, so it
//   is discarded here too;
// - entries above S must follow S contiguously; a gap is data loss.

import { SwarmError } from "../../../../shared/errors.js";
import { EMPTY_HARD_STATE, type Entry, type HardState } from "../core/types.js";
import {
  RecordType,
  decodeEntry,
  decodeHardState,
  decodeSegmentHeader,
  decodeSnapshotMarker,
  type SegmentHeader,
  type SnapshotMarker,
} from "./records.js";
import type { RawRecord } from "./segment-scan.js";

export interface ReplaySegment {
  file: string;
  seq: number;
  firstIndex: number;
  records: RawRecord[];
}

export interface ReplayResult {
  hardState: HardState;
  /** The newest snapshot marker: the snapshot file the state is based on. */
  marker: SnapshotMarker | null;
  /** Entries after the marker's index, contiguous. */
  entries: Entry[];
  /** Metadata of the newest segment header. */
  metadata: Uint8Array;
  /** Index of the last entry record read, whatever its fate: the writer's naming base. */
  lastRecordIndex: number;
}

function fail(file: string, offset: number, what: string): SwarmError {
  return new SwarmError("DATA_LOSS", `WAL segment ${file} at offset ${offset}: ${what} — refusing to start`);
}

function must<T>(v: T | string, file: string, offset: number): T {
  if (typeof v === "string") throw fail(file, offset, v);
  return v;
}

export function replay(segments: readonly ReplaySegment[]): ReplayResult {
  // Pass 1: the newest marker is the base.
  let marker: SnapshotMarker | null = null;
  for (const seg of segments)
    for (const r of seg.records)
      if (r.type === RecordType.SnapshotMarker) marker = must(decodeSnapshotMarker(r.payload), seg.file, r.offset);
  const base = marker?.index ?? 0;

  let hardState: HardState = { ...EMPTY_HARD_STATE };
  let log: Entry[] = [];
  let termAtBase: number | undefined;
  let markerSeen = false;
  let metadata: Uint8Array = new Uint8Array(0);
  let lastRecordIndex = 0;
  let newestMarkerSoFar = 0;
  let anyEntry = false;

  for (let s = 0; s < segments.length; s++) {
    const seg = segments[s]!;
    const first = seg.records[0];
    if (!first || first.type !== RecordType.SegmentHeader) throw fail(seg.file, first?.offset ?? 0, "segment does not start with a segment header");
    const header: SegmentHeader = must(decodeSegmentHeader(first.payload), seg.file, first.offset);
    if (header.seq !== seg.seq || header.firstIndex !== seg.firstIndex)
      throw fail(seg.file, first.offset, `segment header says seq ${header.seq}, first index ${header.firstIndex}, which does not match the file name`);
    // Segments are cut at (last index written) + 1; a mismatch means records of the previous segment are missing.
    if (s > 0 && anyEntry) {
      const expected = Math.max(lastRecordIndex, newestMarkerSoFar) + 1;
      if (header.firstIndex !== expected)
        throw fail(seg.file, first.offset, `segment starts at index ${header.firstIndex} but the previous segment ends at index ${expected - 1}; records are missing`);
    }
    metadata = header.metadata;

    for (let i = 1; i < seg.records.length; i++) {
      const r = seg.records[i]!;
      switch (r.type) {
        case RecordType.Entry: {
          const e = must(decodeEntry(r.payload), seg.file, r.offset);
          anyEntry = true;
          lastRecordIndex = e.index;
          if (e.index <= base) {
            // Before the base marker, an overwrite at or below S also truncates everything above S.
            if (!markerSeen) {
              log = [];
              termAtBase = e.index === base ? e.term : undefined;
            }
            break;
          }
          const last = log.length > 0 ? log[log.length - 1]!.index : base;
          if (log.length === 0 && e.index !== base + 1)
            throw fail(seg.file, r.offset, `entry ${e.index} does not follow ${marker ? `snapshot index ${base}` : "the start of the log"} (gap: entry ${base + 1} is missing)`);
          if (e.index <= last) log.length = e.index - base - 1;
          else if (e.index !== last + 1) throw fail(seg.file, r.offset, `entry ${e.index} does not follow entry ${last} (gap)`);
          log.push(e);
          break;
        }
        case RecordType.HardState:
          hardState = must(decodeHardState(r.payload), seg.file, r.offset);
          break;
        case RecordType.SnapshotMarker: {
          const m = must(decodeSnapshotMarker(r.payload), seg.file, r.offset);
          newestMarkerSoFar = Math.max(newestMarkerSoFar, m.index);
          if (!markerSeen && marker && m.index === marker.index && m.term === marker.term) {
            markerSeen = true;
            if (termAtBase !== undefined && termAtBase !== marker.term) log = [];
          }
          break;
        }
        case RecordType.SegmentHeader:
          throw fail(seg.file, r.offset, "segment header in the middle of a segment");
      }
    }
  }
  const lastIndex = log.length > 0 ? log[log.length - 1]!.index : base;
  if (hardState.commit > lastIndex && segments.length > 0) {
    const seg = segments[segments.length - 1]!;
    throw new SwarmError(
      "DATA_LOSS",
      `WAL in ${seg.file}: hard state commit index ${hardState.commit} is beyond the last entry ${lastIndex}; committed entries are missing (a lost segment?) — refusing to start`,
    );
  }
  return { hardState, marker, entries: log, metadata, lastRecordIndex };
}
