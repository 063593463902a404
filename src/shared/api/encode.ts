// Encoding messages without a fresh growable buffer each time.
//
// A new BinaryWriter starts empty and doubles a Uint8Array from 128 bytes as it
// writes, and finish() slices the result into yet another ArrayBuffer; the
// generated gRPC serializers then copy that into a Buffer. Each of those is a
// malloc'd ArrayBuffer V8 must track and sweep: on a manager under load they
// showed up as malloc/free, ArrayBuffer sweeping and extra scavenges. One
// writer per thread, reused, keeps its grown buffer, and the result is copied
// into a Buffer.allocUnsafe (Node's shared pool for small sizes).
//
// Pooled Buffers are slices of an 8 KiB slab that stays alive as long as any
// slice of it does. Bytes kept for long (raft log entries, the snapshot
// element cache) take encodeToOwnBuffer instead: exactly their size, their
// own memory.

import { BinaryWriter } from "@bufbuild/protobuf/wire";

/** The codec half of a generated message (ts-proto's encode with an optional writer). */
export interface MessageEncoder<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
}

/** The fields of BinaryWriter (@bufbuild/protobuf 2.x) this module reads; checked at load. */
interface WriterState {
  buffer: Uint8Array;
  pos: number;
  stackPos: number[];
}

/** A writer whose grown buffer is kept only up to this size (a snapshot must not pin megabytes). */
const KEEP_BYTES = 1 << 20;

function hasState(w: BinaryWriter): boolean {
  const s = w as unknown as Partial<WriterState>;
  return s.buffer instanceof Uint8Array && typeof s.pos === "number" && Array.isArray(s.stackPos);
}

// If a future @bufbuild/protobuf renames its fields, fall back to finish() (still one writer).
const STATE_READABLE = ((): boolean => {
  const probe = new BinaryWriter().uint32(1);
  return hasState(probe) && (probe as unknown as WriterState).pos === 1;
})();

let shared = new BinaryWriter();
let inUse = false;

/**
 * `codec.encode(message)` as a Buffer, written with this thread's shared writer;
 * small results share Node's buffer pool (for bytes that are sent and dropped).
 * Byte-for-byte what `Buffer.from(codec.encode(message).finish())` gives.
 */
export function encodeToBuffer<T>(codec: MessageEncoder<T>, message: T): Buffer {
  return encodeWith(codec, message, Buffer.allocUnsafe);
}

/** encodeToBuffer, into memory of its own: for bytes that are kept. */
export function encodeToOwnBuffer<T>(codec: MessageEncoder<T>, message: T): Buffer {
  return encodeWith(codec, message, Buffer.allocUnsafeSlow);
}

function encodeWith<T>(codec: MessageEncoder<T>, message: T, alloc: (size: number) => Buffer): Buffer {
  // Encoders never call back into this module, but be safe if one ever does.
  if (inUse) return asBuffer(codec.encode(message).finish());
  inUse = true;
  const w = shared;
  try {
    codec.encode(message, w);
    return take(w, alloc);
  } catch (err) {
    shared = new BinaryWriter(); // a throw mid-message leaves forks open: start clean
    throw err;
  } finally {
    inUse = false;
  }
}

function take(w: BinaryWriter, alloc: (size: number) => Buffer): Buffer {
  if (!STATE_READABLE) {
    const bytes = w.finish();
    if (bytes.length > KEEP_BYTES) shared = new BinaryWriter();
    return asBuffer(bytes);
  }
  const s = w as unknown as WriterState;
  const out = alloc(s.pos);
  out.set(s.buffer.subarray(0, s.pos));
  s.pos = 0;
  if (s.buffer.length > KEEP_BYTES) shared = new BinaryWriter();
  return out;
}

/** A Buffer over the same memory (no copy). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
