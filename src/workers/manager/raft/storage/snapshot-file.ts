// Snapshot files in raft/snap: one checksummed file per snapshot, written
// atomically (temp file, fsync, rename, fsync the directory).
//
// Layout (little-endian):
//   0  magic "SWKSNAP1"
//   8  crc32c u32 over bytes 12..end
//  12  body length u64 (file size - 20)
//  20  index u64 | term u64 | voters count u32, voters u64[] | learners count u32, learners u64[] | data

import { open, readFile, rename, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { Snapshot } from "../core/types.js";
import { SwarmError } from "../../../../shared/errors.js";
import { assertU64, readU64, writeU64 } from "./binary.js";
import { crc32c } from "./crc32c.js";
import { fsyncDir } from "./fs-util.js";
import { TMP_SUFFIX, snapName } from "./names.js";

const MAGIC = Buffer.from("SWKSNAP1", "latin1");
const PREFIX = 20;

/** Everything before the data, with room for the checksum at offset 8 (left zero). */
function snapshotHeader(s: Snapshot): Buffer {
  const { index, term, confState } = s.metadata;
  assertU64(index, "snapshot index");
  assertU64(term, "snapshot term");
  const metaLen = 16 + 4 + 8 * confState.voters.length + 4 + 8 * confState.learners.length;
  const buf = Buffer.alloc(PREFIX + metaLen);
  MAGIC.copy(buf, 0);
  writeU64(buf, 12, metaLen + s.data.length);
  let o = PREFIX;
  o = writeU64(buf, o, index);
  o = writeU64(buf, o, term);
  for (const ids of [confState.voters, confState.learners]) {
    buf.writeUInt32LE(ids.length, o);
    o += 4;
    for (const id of ids) {
      assertU64(id, "member id");
      o = writeU64(buf, o, id);
    }
  }
  return buf;
}

/** A snapshot file's bytes in one buffer: what writeSnapshotFile writes in two pieces (tests and tools compare against it). */
export function encodeSnapshot(s: Snapshot): Buffer {
  const buf = Buffer.concat([snapshotHeader(s), s.data]);
  buf.writeUInt32LE(crc32c(buf, 12), 8);
  return buf;
}

/** Bytes checksummed between yields: about a millisecond of CRC work. */
const CRC_SLICE = 1 << 20;

/**
 * The file checksum over the header's bytes 12.. and then the data, a slice
 * at a time with a yield between: over a store of tens of MB the CRC takes
 * tens of ms, which in one piece would stall raft, the transport and the
 * control API that long at every snapshot.
 */
async function checksumSliced(header: Buffer, data: Uint8Array): Promise<number> {
  let crc = crc32c(header, 12);
  for (let off = 0; off < data.length; off += CRC_SLICE) {
    if (off > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    crc = crc32c(data, off, Math.min(data.length, off + CRC_SLICE), crc);
  }
  return crc;
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length; ) {
    const { bytesWritten } = await fh.write(bytes, off, bytes.length - off);
    off += bytesWritten;
  }
}

/** Decodes a snapshot file's bytes; every failure names the file and the offset. */
export function decodeSnapshot(buf: Buffer, file: string): Snapshot {
  const bad = (offset: number, what: string): SwarmError =>
    new SwarmError("DATA_LOSS", `snapshot file ${file} is unreadable at offset ${offset}: ${what} — refusing to start`);
  if (buf.length < PREFIX) throw bad(0, `file has only ${buf.length} bytes, shorter than the ${PREFIX}-byte header`);
  if (!buf.subarray(0, 8).equals(MAGIC)) throw bad(0, "wrong magic (not a swarmkit-ts snapshot file)");
  const bodyLen = readU64(buf, 12);
  if (bodyLen !== buf.length - PREFIX) throw bad(12, `length field says ${bodyLen} body bytes but the file has ${buf.length - PREFIX}`);
  const want = buf.readUInt32LE(8);
  const got = crc32c(buf, 12);
  if (want !== got) throw bad(8, `checksum mismatch over bytes 12..${buf.length} (stored ${want.toString(16)}, computed ${got.toString(16)})`);
  let o = PREFIX;
  const need = (n: number): void => {
    if (o + n > buf.length) throw bad(o, "body ends early");
  };
  need(16);
  const index = readU64(buf, o);
  const term = readU64(buf, o + 8);
  if (index === undefined || term === undefined) throw bad(o, "index or term out of range");
  o += 16;
  const lists: number[][] = [];
  for (let k = 0; k < 2; k++) {
    need(4);
    const n = buf.readUInt32LE(o);
    o += 4;
    need(8 * n);
    const ids: number[] = [];
    for (let i = 0; i < n; i++, o += 8) {
      const id = readU64(buf, o);
      if (id === undefined) throw bad(o, "member id out of range");
      ids.push(id);
    }
    lists.push(ids);
  }
  return {
    metadata: { index, term, confState: { voters: lists[0]!, learners: lists[1]! } },
    data: new Uint8Array(buf.subarray(o)),
  };
}

/** Writes the snapshot as snap/<term>-<index>.snap, durably; returns the file name. */
export async function writeSnapshotFile(snapDir: string, s: Snapshot): Promise<string> {
  const name = snapName(s.metadata.term, s.metadata.index);
  const final = join(snapDir, name);
  const tmp = final + TMP_SUFFIX;
  // Header and data are written as they are: no copy of the (possibly large) data into one buffer.
  const header = snapshotHeader(s);
  header.writeUInt32LE(await checksumSliced(header, s.data), 8);
  const fh = await open(tmp, "w", 0o600);
  try {
    await writeAll(fh, header);
    await writeAll(fh, s.data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await rename(tmp, final);
  await fsyncDir(snapDir);
  return name;
}

export async function readSnapshotFile(snapDir: string, name: string): Promise<Snapshot> {
  const file = join(snapDir, name);
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (err) {
    throw new SwarmError("DATA_LOSS", `snapshot file ${file} cannot be read at offset 0: ${(err as Error).message} — refusing to start`, { cause: err });
  }
  return decodeSnapshot(buf, file);
}
