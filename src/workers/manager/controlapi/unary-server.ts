// A gRPC server for unary methods only, straight on node:http2: what the
// control socket needs (every Control and Health method is unary) without
// grpc-js's per-call machinery — its interceptor chain, call objects, and a
// separate flush for the trailers. On this 2-core VM that was about a third
// of the server's CPU per call (docs/control-api.md has the figures).
//
// What it does, as gRPC's HTTP/2 protocol says (and grpc-js and grpc-go do):
// one length-prefixed request message per stream, optionally gzip/deflate
// compressed; grpc-timeout honoured; a success is headers, one message and
// the trailers, written together; a failure is a trailers-only response with
// grpc-status and a percent-encoded grpc-message. Sessions come in as
// already-decrypted duplex streams (the control socket terminates TLS
// itself), and close gracefully: GOAWAY, then the calls in flight finish.
import { createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from "node:http2";
import type { Duplex } from "node:stream";
import { gunzipSync, inflateSync } from "node:zlib";
import { status as Status } from "@grpc/grpc-js";
import { errorMessage } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";

const log = getLogger("controlapi/unary");

export interface UnaryMethod {
  /** The method's name in errors and logs. */
  name: string;
  /** Request bytes to the request. Must not throw: a malformed request is for `handle` to refuse. */
  decode(bytes: Buffer): unknown;
  /** The response to its bytes. */
  encode(response: unknown): Buffer;
  handle(request: unknown): Promise<unknown>;
}

export interface CallStatus {
  code: Status;
  details: string;
}

export interface UnaryServerOptions {
  maxReceiveBytes: number;
  maxSendBytes: number;
  /** The status a handler's error answers with. */
  toStatus(err: unknown, method: string): CallStatus;
}

const OK_HEADERS = {
  ":status": 200,
  "content-type": "application/grpc+proto",
  "grpc-accept-encoding": "identity,deflate,gzip",
  "grpc-encoding": "identity",
};
const OK_TRAILERS = { "grpc-status": "0", "grpc-message": "OK" };
const TIMEOUT_RE = /^(\d{1,8})([HMSmun])$/;
const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
/** setTimeout's longest delay; a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Room nghttp2 may use per session, in MB: a few 4 MiB messages in flight must fit (Node's default is 10). */
const MAX_SESSION_MEMORY_MB = 64;

/** grpc-message's encoding: printable ASCII except '%' as is, every other byte as %XX. */
export function percentEncode(text: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(text)) return text;
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** grpc-timeout in ms, or undefined when absent or malformed (grpc-js ignores neither; a malformed one is refused). */
function parseTimeout(value: string | string[] | undefined): number | "malformed" | undefined {
  if (value === undefined) return undefined;
  const match = TIMEOUT_RE.exec(Array.isArray(value) ? (value[0] ?? "") : value);
  if (!match) return "malformed";
  return Number(match[1]) * TIMEOUT_UNIT_MS[match[2]!]!;
}

class StatusError extends Error {
  constructor(
    readonly code: Status,
    readonly details: string,
  ) {
    super(details);
  }
}

export class UnaryGrpcServer {
  private readonly methods = new Map<string, UnaryMethod>();
  private readonly http2: Http2Server;
  private readonly sessions = new Set<ServerHttp2Session>();
  private closing = false;

  constructor(private readonly opts: UnaryServerOptions) {
    this.http2 = createServer({ maxSessionMemory: MAX_SESSION_MEMORY_MB });
    this.http2.on("session", (session: ServerHttp2Session) => {
      if (this.closing) {
        session.destroy();
        return;
      }
      this.sessions.add(session);
      session.once("close", () => this.sessions.delete(session));
      session.on("error", (err) => log.debug({ err }, "control session failed"));
    });
    this.http2.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => this.onStream(stream, headers));
  }

  addMethod(path: string, method: UnaryMethod): void {
    this.methods.set(path, method);
  }

  /** Serve one connection: a duplex carrying the client's HTTP/2 bytes. */
  accept(connection: Duplex): void {
    this.http2.emit("connection", connection);
  }

  /** GOAWAY to every session, let calls in flight finish for up to `graceMs`, then drop what is left. */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    const open = [...this.sessions];
    await new Promise<void>((resolve) => {
      if (open.length === 0) {
        resolve();
        return;
      }
      let left = open.length;
      const timer = setTimeout(() => {
        for (const s of open) s.destroy();
        resolve();
      }, graceMs);
      for (const s of open) {
        // Wait on 'close', not close()'s callback: a session already closing ignores a second callback.
        s.once("close", () => {
          if (--left === 0) {
            clearTimeout(timer);
            resolve();
          }
        });
        s.close();
      }
    });
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on("error", (err) => log.debug({ err }, "control call stream failed"));
    const contentType = headers["content-type"];
    if (typeof contentType !== "string" || !contentType.startsWith("application/grpc")) {
      stream.respond({ ":status": 415 }, { endStream: true });
      return;
    }
    const path = headers[":path"] ?? "";
    const method = this.methods.get(path);
    if (!method) {
      fail(stream, Status.UNIMPLEMENTED, `The server does not implement the method ${path}`);
      return;
    }
    const timeout = parseTimeout(headers["grpc-timeout"]);
    if (timeout === "malformed") {
      fail(stream, Status.INTERNAL, `Invalid grpc-timeout value ${String(headers["grpc-timeout"])}`);
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    // Past setTimeout's range (about 24.8 days; grpc-go sends 30 days as 720H) the deadline is never reached in practice.
    if (timeout !== undefined && timeout <= MAX_TIMER_MS) {
      timer = setTimeout(() => fail(stream, Status.DEADLINE_EXCEEDED, "Deadline exceeded"), timeout);
      stream.once("close", () => clearTimeout(timer));
    }
    const encoding = headers["grpc-encoding"];
    const chunks: Buffer[] = [];
    let received = 0;
    stream.on("data", (chunk: Buffer) => {
      if (stream.headersSent) return; // refused already
      received += chunk.length;
      // The prefix's 5 octets aside, more than one maximal message is refused before it is all buffered.
      if (received > this.opts.maxReceiveBytes + 5 && !stream.headersSent) {
        fail(stream, Status.RESOURCE_EXHAUSTED, `Received message larger than max (${received - 5} vs. ${this.opts.maxReceiveBytes})`);
        stream.close();
        return;
      }
      chunks.push(chunk);
    });
    stream.once("end", () => {
      if (stream.headersSent || stream.destroyed) return;
      let request: unknown;
      try {
        const bytes = this.unframe(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), typeof encoding === "string" ? encoding : "identity", path);
        request = method.decode(bytes);
      } catch (err) {
        if (err instanceof StatusError) fail(stream, err.code, err.details);
        else fail(stream, Status.INTERNAL, `cannot read the request to ${path}: ${errorMessage(err)}`);
        return;
      }
      method.handle(request).then(
        (response) => this.answer(stream, method, response),
        (err: unknown) => {
          const s = this.opts.toStatus(err, method.name);
          fail(stream, s.code, s.details);
        },
      );
    });
  }

  /** The one message a unary request carries, decompressed. */
  private unframe(body: Buffer, encoding: string, path: string): Buffer {
    if (body.length < 5) throw new StatusError(Status.UNIMPLEMENTED, `Received no request message for ${path}`);
    const compressed = body[0] === 1;
    const length = body.readUInt32BE(1);
    if (length > this.opts.maxReceiveBytes) {
      throw new StatusError(Status.RESOURCE_EXHAUSTED, `Received message larger than max (${length} vs. ${this.opts.maxReceiveBytes})`);
    }
    if (body.length < 5 + length) throw new StatusError(Status.INTERNAL, `Request to ${path} ended inside its message`);
    if (body.length > 5 + length) throw new StatusError(Status.UNIMPLEMENTED, `Received a second request message for ${path}`);
    const message = body.subarray(5);
    if (!compressed) return message;
    if (encoding === "identity") throw new StatusError(Status.INTERNAL, "Compressed message received with grpc-encoding identity");
    if (encoding !== "gzip" && encoding !== "deflate") {
      throw new StatusError(Status.UNIMPLEMENTED, `Received message compressed with unsupported encoding "${encoding}"`);
    }
    const inflate = encoding === "gzip" ? gunzipSync : inflateSync;
    try {
      return inflate(message, { maxOutputLength: this.opts.maxReceiveBytes });
    } catch (err) {
      // zlib stops at maxOutputLength with ERR_BUFFER_TOO_LARGE rather than inflate a bomb.
      if ((err as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
        throw new StatusError(Status.RESOURCE_EXHAUSTED, `Received message larger than max (over ${this.opts.maxReceiveBytes} decompressed)`);
      }
      throw err;
    }
  }

  private answer(stream: ServerHttp2Stream, method: UnaryMethod, response: unknown): void {
    if (stream.headersSent || stream.destroyed || stream.closed) return; // cancelled, timed out, or refused meanwhile
    let body: Buffer;
    try {
      body = method.encode(response);
    } catch (err) {
      fail(stream, Status.INTERNAL, `${method.name}: cannot encode the response: ${errorMessage(err)}`);
      return;
    }
    if (body.length > this.opts.maxSendBytes) {
      fail(stream, Status.RESOURCE_EXHAUSTED, `Sent message larger than max (${body.length} vs. ${this.opts.maxSendBytes})`);
      return;
    }
    const frame = Buffer.allocUnsafe(5 + body.length);
    frame[0] = 0;
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, 5);
    stream.respond(OK_HEADERS, { waitForTrailers: true });
    stream.once("wantTrailers", () => stream.sendTrailers(OK_TRAILERS));
    stream.end(frame);
  }
}

/** A trailers-only answer, unless the stream has answered or gone already. */
function fail(stream: ServerHttp2Stream, code: Status, details: string): void {
  if (stream.headersSent || stream.destroyed || stream.closed) return;
  stream.respond(
    { ":status": 200, "content-type": "application/grpc+proto", "grpc-status": String(code), "grpc-message": percentEncode(details) },
    { endStream: true },
  );
}
