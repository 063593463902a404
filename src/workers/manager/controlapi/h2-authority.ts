// The client→server half of an HTTP/2 connection, with every header block's
// :authority made acceptable to nghttp2 (see hpack-authority.ts for why).
// Frames other than HEADERS/CONTINUATION pass through as slices of the
// incoming chunks, without being buffered; a header block is collected whole
// (it may span CONTINUATION frames and any chunk boundaries), rewritten, and
// re-framed only if its :authority changed.
import { Duplex } from "node:stream";
import { SwarmError } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import { AuthoritySanitizer } from "./hpack-authority.js";

const log = getLogger("controlapi/h2");

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const FRAME_HEADER = 9;
const TYPE_HEADERS = 0x1;
const TYPE_CONTINUATION = 0x9;
const FLAG_END_STREAM = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
/** Every HTTP/2 peer accepts frames this large (the minimum SETTINGS_MAX_FRAME_SIZE). */
const MAX_EMIT_FRAME = 16384;
/** A header block larger than this is not a gRPC request; refuse it rather than buffer it. */
export const MAX_HEADER_BLOCK = 1 << 20;

export class Http2FramingError extends SwarmError {
  constructor(message: string) {
    super("INVALID_ARGUMENT", `malformed HTTP/2 client stream: ${message}`);
  }
}

const enum State {
  Preface,
  /** Passing the rest of a non-header frame's payload through. */
  Pass,
  FrameHeader,
  /** Collecting a HEADERS or CONTINUATION payload. */
  HeaderPayload,
  /** Input refused; nothing more is accepted. */
  Failed,
}

/** Feed it the client's bytes in order; it returns what to hand the server. */
export class AuthorityFrameRewriter {
  readonly hpack = new AuthoritySanitizer();
  private state = State.Preface;
  /** Octets left of the preface or of the frame payload being passed through. */
  private remaining = PREFACE.length;
  /** Partial frame header or header-frame payload, and how many octets it needs. */
  private parts: Buffer[] = [];
  private have = 0;
  private want = FRAME_HEADER;
  private frameHeader: Buffer = Buffer.alloc(0);
  /** The open header block: its original frames, its fragments, the HEADERS frame's fields. */
  private block: { stream: number; flags: number; priority: Buffer | undefined; frames: Buffer[]; fragments: Buffer[]; size: number } | undefined;

  /** The server-bound bytes for `chunk`. Throws Http2FramingError or HpackError; after that, the stream is dead. */
  push(chunk: Buffer): Buffer[] {
    if (this.state === State.Failed) throw new Http2FramingError("input after an earlier error");
    const out: Buffer[] = [];
    try {
      this.consume(chunk, out);
    } catch (err) {
      this.state = State.Failed;
      throw err;
    }
    return out;
  }

  /** Whether the stream stopped at a frame boundary (nothing partial held). */
  get atFrameBoundary(): boolean {
    return this.state === State.FrameHeader && this.have === 0 && this.block === undefined;
  }

  private consume(chunk: Buffer, out: Buffer[]): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.state === State.Preface || this.state === State.Pass) {
        const n = Math.min(this.remaining, chunk.length - pos);
        const slice = chunk.subarray(pos, pos + n);
        if (this.state === State.Preface) {
          const at = PREFACE.length - this.remaining;
          if (!slice.equals(PREFACE.subarray(at, at + n))) throw new Http2FramingError("no HTTP/2 client preface");
        }
        out.push(slice);
        pos += n;
        this.remaining -= n;
        if (this.remaining === 0) this.expectFrameHeader();
        continue;
      }
      const n = Math.min(this.want - this.have, chunk.length - pos);
      this.parts.push(chunk.subarray(pos, pos + n));
      this.have += n;
      pos += n;
      if (this.have === this.want) this.collected(out);
    }
  }

  private expectFrameHeader(): void {
    this.state = State.FrameHeader;
    this.want = FRAME_HEADER;
  }

  private take(): Buffer {
    const bytes = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.have);
    this.parts = [];
    this.have = 0;
    return bytes;
  }

  private collected(out: Buffer[]): void {
    const bytes = this.take();
    if (this.state === State.HeaderPayload) {
      this.headerFrame(this.frameHeader, bytes, out);
      this.expectFrameHeader();
      return;
    }
    const length = bytes.readUIntBE(0, 3);
    const type = bytes[3];
    if (type === TYPE_HEADERS || type === TYPE_CONTINUATION) {
      if (length + (this.block?.size ?? 0) > MAX_HEADER_BLOCK) {
        throw new Http2FramingError(`header block exceeds ${MAX_HEADER_BLOCK} octets`);
      }
      this.frameHeader = bytes;
      this.state = State.HeaderPayload;
      this.want = length;
      if (length === 0) this.collected(out);
      return;
    }
    if (this.block !== undefined) {
      throw new Http2FramingError(`frame type ${type} inside the header block of stream ${this.block.stream}`);
    }
    out.push(bytes);
    if (length === 0) {
      this.expectFrameHeader();
    } else {
      this.state = State.Pass;
      this.remaining = length;
    }
  }

  private headerFrame(header: Buffer, payload: Buffer, out: Buffer[]): void {
    const type = header[3];
    const flags = header[4];
    const stream = header.readUInt32BE(5) & 0x7fffffff;
    let fragment: Buffer;
    if (type === TYPE_HEADERS) {
      if (this.block !== undefined) throw new Http2FramingError(`HEADERS inside the header block of stream ${this.block.stream}`);
      let start = 0;
      let stop = payload.length;
      if (flags & FLAG_PADDED) {
        if (payload.length < 1) throw new Http2FramingError("PADDED HEADERS frame without a pad length");
        stop -= payload[0];
        start = 1;
      }
      let priority: Buffer | undefined;
      if (flags & FLAG_PRIORITY) {
        priority = payload.subarray(start, start + 5);
        start += 5;
      }
      if (stop < start) throw new Http2FramingError(`HEADERS frame of ${payload.length} octets is shorter than its padding and priority`);
      fragment = payload.subarray(start, stop);
      this.block = { stream, flags, priority, frames: [], fragments: [], size: 0 };
    } else {
      if (this.block === undefined || this.block.stream !== stream) {
        throw new Http2FramingError(`CONTINUATION on stream ${stream} without an open header block`);
      }
      fragment = payload;
    }
    const block = this.block;
    block.frames.push(header, payload);
    block.fragments.push(fragment);
    block.size += fragment.length;
    if (block.size > MAX_HEADER_BLOCK) throw new Http2FramingError(`header block of stream ${stream} exceeds ${MAX_HEADER_BLOCK} octets`);
    if ((flags & FLAG_END_HEADERS) === 0) return;

    this.block = undefined;
    const whole = block.fragments.length === 1 ? block.fragments[0] : Buffer.concat(block.fragments, block.size);
    const rewritten = this.hpack.rewriteBlock(whole);
    if (rewritten === undefined) {
      for (const f of block.frames) out.push(f);
      return;
    }
    reframe(block.stream, block.flags, block.priority, rewritten, out);
  }
}

/** HEADERS (+CONTINUATION) carrying `fragment`, without padding, END_HEADERS on the last frame. */
function reframe(stream: number, flags: number, priority: Buffer | undefined, fragment: Buffer, out: Buffer[]): void {
  let pos = 0;
  let first = true;
  do {
    const room = MAX_EMIT_FRAME - (first && priority ? priority.length : 0);
    const n = Math.min(room, fragment.length - pos);
    const last = pos + n === fragment.length;
    let frameFlags = last ? FLAG_END_HEADERS : 0;
    if (first) frameFlags |= flags & (FLAG_END_STREAM | FLAG_PRIORITY);
    const prefix = first && priority ? priority : undefined;
    const header = Buffer.alloc(FRAME_HEADER);
    header.writeUIntBE(n + (prefix?.length ?? 0), 0, 3);
    header[3] = first ? TYPE_HEADERS : TYPE_CONTINUATION;
    header[4] = frameFlags;
    header.writeUInt32BE(stream, 5);
    out.push(header);
    if (prefix) out.push(prefix);
    out.push(fragment.subarray(pos, pos + n));
    pos += n;
    first = false;
  } while (pos < fragment.length);
}

/**
 * A duplex for the HTTP/2 server: reads are `inner`'s bytes through an
 * AuthorityFrameRewriter, writes go to `inner` untouched. Malformed client
 * input ends the connection (logged), never throws into the caller.
 */
export class AuthorityRewritingStream extends Duplex {
  private readonly rewriter = new AuthorityFrameRewriter();
  private paused = false;

  constructor(private readonly inner: Duplex) {
    super({ allowHalfOpen: false });
    inner.on("data", (chunk: Buffer) => this.onData(chunk));
    inner.on("end", () => this.push(null));
    inner.on("error", (err: Error) => {
      log.debug({ err }, "control connection failed");
      this.destroy();
    });
    inner.on("close", () => this.destroy());
  }

  /** How many :authority values this connection had rewritten. */
  get rewrites(): number {
    return this.rewriter.hpack.rewrites;
  }

  private onData(chunk: Buffer): void {
    let out: Buffer[];
    try {
      out = this.rewriter.push(chunk);
    } catch (err) {
      log.warn({ err: (err as Error).message }, "closing a control connection");
      this.inner.destroy();
      this.destroy();
      return;
    }
    for (const b of out) if (!this.push(b)) this.paused = true;
    if (this.paused) this.inner.pause();
  }

  override _read(): void {
    if (this.paused) {
      this.paused = false;
      this.inner.resume();
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.inner.destroyed) {
      callback();
      return;
    }
    this.inner.write(chunk, () => callback());
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    if (this.inner.destroyed) {
      callback();
      return;
    }
    this.inner.cork();
    for (let i = 0; i < chunks.length - 1; i++) this.inner.write(chunks[i].chunk);
    this.inner.write(chunks[chunks.length - 1].chunk, () => callback());
    this.inner.uncork();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.inner.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.inner.destroy();
    callback(err);
  }
}
