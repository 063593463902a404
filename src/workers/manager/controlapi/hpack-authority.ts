// Rewrites the :authority of HPACK header blocks (RFC 7541) a client sends,
// so that nghttp2 accepts it. grpc-go dialing a unix socket sends the socket
// path as :authority, and nghttp2 (under Node's http2 server) resets any
// stream whose :authority holds '/'. A refused character is replaced by 'x':
// same octet count, so the server's dynamic table entry has the same size as
// the client's and every later index into the table still points where the
// client means. The walker tracks the dynamic table (names and sizes only)
// because a literal may name :authority through a dynamic entry.
import { SwarmError } from "../../../shared/errors.js";
import { huffmanDecode } from "./hpack-huffman.js";

/** RFC 7541 Appendix A: the static table's names, index 1..61. */
const STATIC_NAMES = [
  ":authority", ":method", ":method", ":path", ":path", ":scheme", ":scheme", ":status", ":status", ":status",
  ":status", ":status", ":status", ":status", "accept-charset", "accept-encoding", "accept-language", "accept-ranges",
  "accept", "access-control-allow-origin", "age", "allow", "authorization", "cache-control", "content-disposition",
  "content-encoding", "content-language", "content-length", "content-location", "content-range", "content-type",
  "cookie", "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match",
  "if-range", "if-unmodified-since", "last-modified", "link", "location", "max-forwards", "proxy-authenticate",
  "proxy-authorization", "range", "referer", "refresh", "retry-after", "server", "set-cookie", "strict-transport-security",
  "transfer-encoding", "user-agent", "vary", "via", "www-authenticate",
];
const STATIC_COUNT = STATIC_NAMES.length;
/** RFC 7541 4.1: an entry costs its name and value octets plus 32. */
const ENTRY_OVERHEAD = 32;
/** HTTP/2's default SETTINGS_HEADER_TABLE_SIZE, the table size until the encoder signals another. */
const DEFAULT_TABLE_SIZE = 4096;
/**
 * The largest table size update allowed: the server's SETTINGS_HEADER_TABLE_SIZE
 * (grpc-js keeps Node's default). nghttp2 refuses a larger one anyway, and a
 * larger table would let one header block make the walker's table huge (its
 * inserts are O(entries): ~15 s of event loop for a 900 KB block at 16 MB).
 */
const MAX_TABLE_SIZE = DEFAULT_TABLE_SIZE;

const AUTHORITY = ":authority";
const AUTHORITY_BYTES = Buffer.from(AUTHORITY);

/**
 * Octets nghttp2 accepts in :authority (its authority check): unreserved,
 * sub-delims, ':', '@', '[', ']' and '%'. Anything else becomes REPLACEMENT.
 */
const ALLOWED = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@[]%") ALLOWED[c.charCodeAt(0)] = 1;
const REPLACEMENT = "x".charCodeAt(0);

export class HpackError extends SwarmError {
  constructor(message: string) {
    super("INVALID_ARGUMENT", `malformed HPACK header block: ${message}`);
  }
}

interface DynamicEntry {
  isAuthority: boolean;
  nameOctets: number;
  size: number;
}

interface Edit {
  start: number;
  end: number;
  bytes: Buffer;
}

/** One connection's client→server header blocks, in order. */
export class AuthoritySanitizer {
  /** Newest first, as HPACK indexes them. */
  private readonly table: DynamicEntry[] = [];
  private tableSize = 0;
  private maxTableSize = DEFAULT_TABLE_SIZE;
  /** How many :authority values were rewritten (for tests and logs). */
  rewrites = 0;

  /**
   * Walk one complete header block; return the block with :authority
   * sanitized, or undefined when it needs no change (the caller then passes
   * the original frames on). Throws HpackError on a malformed block.
   */
  rewriteBlock(block: Buffer): Buffer | undefined {
    let edits: Edit[] | undefined;
    let p = 0;
    const end = block.length;
    const readInt = (prefixBits: number): number => {
      if (p >= end) throw new HpackError("truncated integer");
      const max = (1 << prefixBits) - 1;
      let value = block[p++] & max;
      if (value < max) return value;
      let shift = 0;
      for (;;) {
        if (p >= end) throw new HpackError("truncated integer");
        const b = block[p++];
        value += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0) return value;
        if (shift > 28) throw new HpackError("integer too large");
      }
    };
    // Returns the string's octets (decoded when Huffman) and where its representation starts.
    const readString = (): { start: number; bytes: Buffer } => {
      const start = p;
      if (p >= end) throw new HpackError("truncated string");
      const huffman = (block[p] & 0x80) !== 0;
      const length = readInt(7);
      if (length > end - p) throw new HpackError(`string of ${length} octets overruns the block`);
      let bytes: Buffer;
      try {
        bytes = huffman ? huffmanDecode(block, p, p + length) : block.subarray(p, p + length);
      } catch (err) {
        throw new HpackError((err as Error).message);
      }
      p += length;
      return { start, bytes };
    };
    const nameIsAuthority = (index: number): boolean => {
      if (index === 0) throw new HpackError("index 0");
      if (index <= STATIC_COUNT) return index === 1;
      const entry = this.table[index - STATIC_COUNT - 1];
      if (entry === undefined) throw new HpackError(`index ${index} is beyond the dynamic table (${this.table.length} entries)`);
      return entry.isAuthority;
    };

    while (p < end) {
      const b = block[p];
      if (b & 0x80) {
        // Indexed header field: the table does not change.
        nameIsAuthority(readInt(7));
        continue;
      }
      if ((b & 0xe0) === 0x20) {
        const size = readInt(5);
        if (size > MAX_TABLE_SIZE) throw new HpackError(`dynamic table size update to ${size}`);
        this.maxTableSize = size;
        this.evict(0);
        continue;
      }
      const indexing = (b & 0xc0) === 0x40;
      const index = readInt(indexing ? 6 : 4);
      let isAuthority: boolean;
      let nameOctets: number;
      if (index === 0) {
        const name = readString().bytes;
        isAuthority = name.equals(AUTHORITY_BYTES);
        nameOctets = name.length;
      } else {
        isAuthority = nameIsAuthority(index);
        nameOctets = index <= STATIC_COUNT ? STATIC_NAMES[index - 1].length : this.table[index - STATIC_COUNT - 1].nameOctets;
      }
      const value = readString();
      if (isAuthority) {
        const clean = sanitizeAuthority(value.bytes);
        if (clean !== undefined) {
          (edits ??= []).push({ start: value.start, end: p, bytes: rawString(clean) });
          this.rewrites++;
        }
      }
      if (indexing) this.insert({ isAuthority, nameOctets, size: nameOctets + value.bytes.length + ENTRY_OVERHEAD });
    }
    if (edits === undefined) return undefined;
    const parts: Buffer[] = [];
    let at = 0;
    for (const e of edits) {
      parts.push(block.subarray(at, e.start), e.bytes);
      at = e.end;
    }
    parts.push(block.subarray(at));
    return Buffer.concat(parts);
  }

  /** Entries in the dynamic table, newest first (for tests). */
  get dynamicTableLength(): number {
    return this.table.length;
  }

  private insert(entry: DynamicEntry): void {
    // RFC 7541 4.4: make room first; an entry larger than the table empties it and is not added.
    this.evict(entry.size);
    if (entry.size > this.maxTableSize) return;
    this.table.unshift(entry);
    this.tableSize += entry.size;
  }

  private evict(room: number): void {
    while (this.table.length > 0 && this.tableSize + room > this.maxTableSize) {
      this.tableSize -= this.table.pop()!.size;
    }
  }
}

/** Whether nghttp2 accepts `value` as an :authority as it is (non-empty, only allowed octets). */
export function isAcceptableAuthority(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff || !ALLOWED[c]) return false;
  }
  return true;
}

/** A same-length copy of `value` with every octet nghttp2 refuses replaced, or undefined if there is none. */
export function sanitizeAuthority(value: Uint8Array): Buffer | undefined {
  let i = 0;
  while (i < value.length && ALLOWED[value[i]]) i++;
  if (i === value.length) return undefined;
  const out = Buffer.from(value);
  for (; i < out.length; i++) if (!ALLOWED[out[i]]) out[i] = REPLACEMENT;
  return out;
}

/** An HPACK string literal without Huffman coding (H bit 0). */
function rawString(bytes: Buffer): Buffer {
  const head: number[] = [];
  let n = bytes.length;
  if (n < 0x7f) {
    head.push(n);
  } else {
    head.push(0x7f);
    n -= 0x7f;
    while (n >= 0x80) {
      head.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    head.push(n);
  }
  return Buffer.concat([Buffer.from(head), bytes]);
}
