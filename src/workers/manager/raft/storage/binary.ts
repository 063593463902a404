// Little-endian 64-bit integers for raft numbers. Raft terms and indexes are
// JS numbers (< 2^53), so they are split into two 32-bit halves instead of
// going through BigInt, which is several times slower on the hot path.

const TWO_32 = 0x1_0000_0000;

export function writeU64(buf: Buffer, offset: number, value: number): number {
  buf.writeUInt32LE(value % TWO_32 >>> 0, offset);
  buf.writeUInt32LE(Math.floor(value / TWO_32), offset + 4);
  return offset + 8;
}

/** Reads a u64; undefined when it does not fit a safe integer (only corruption does that). */
export function readU64(buf: Buffer, offset: number): number | undefined {
  const lo = buf.readUInt32LE(offset);
  const hi = buf.readUInt32LE(offset + 4);
  if (hi >= 0x20_0000) return undefined;
  return hi * TWO_32 + lo;
}

export function assertU64(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative safe integer, got ${value}`);
}

/** True if buf[start, end) holds only zero bytes. */
export function isAllZero(buf: Buffer, start: number, end = buf.length): boolean {
  const CHUNK = 65536;
  let i = start;
  // Byte-wise up to an 8-byte boundary, then compare whole chunks against a zero buffer.
  while (i < end && (i & 7) !== 0) if (buf[i++] !== 0) return false;
  while (i + CHUNK <= end) {
    if (buf.compare(ZEROS, 0, CHUNK, i, i + CHUNK) !== 0) return false;
    i += CHUNK;
  }
  if (i < end && buf.compare(ZEROS, 0, end - i, i, end) !== 0) return false;
  return true;
}

const ZEROS = Buffer.alloc(65536);
