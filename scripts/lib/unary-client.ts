// A gRPC client for unary calls only, straight on node:http2, for the
// benchmarks (swarmd and swarmctl use grpc-js): one length-prefixed message
// out, one back, the status from the trailers (or from a trailers-only
// answer). grpc-js's client spends about twice this CPU per call on its
// resolver, load balancer, retry and interceptor layers; in a benchmark that
// is the client's cost, not the server's. It reconnects lazily: a call after
// the connection dropped dials again; calls in flight when it drops fail
// with UNAVAILABLE.
import { connect as connectHttp2, constants as h2, type ClientHttp2Session, type IncomingHttpHeaders } from "node:http2";
import type { Duplex } from "node:stream";
import { gunzipSync, inflateSync } from "node:zlib";
import { status as Status } from "@grpc/grpc-js";

export interface UnaryClientOptions {
  /** Opens the transport: an already-encrypted duplex carrying HTTP/2 (e.g. tls.connect with ALPN h2). */
  connect(): Duplex;
  /** The :authority sent with every call. */
  authority: string;
  /** Largest response message accepted (default 4 MiB, gRPC's default). */
  maxReceiveBytes?: number;
}

export interface UnaryCallOptions {
  /** Give up (DEADLINE_EXCEEDED) after this many ms; the server is told too (grpc-timeout). */
  timeoutMs?: number;
}

/** A call's failure: the gRPC status code and message, as grpc-js's ServiceError carries them. */
export class UnaryCallError extends Error {
  constructor(
    readonly code: Status,
    readonly details: string,
  ) {
    super(`${code} ${Status[code]}: ${details}`);
    this.name = "UnaryCallError";
  }
}

const DEFAULT_MAX_RECEIVE = 4 * 1024 * 1024;

/** gRPC's mapping of an HTTP status that is not 200 (grpc/doc/http-grpc-status-mapping.md). */
function statusOfHttp(httpStatus: number): Status {
  switch (httpStatus) {
    case 400:
      return Status.INTERNAL;
    case 401:
      return Status.UNAUTHENTICATED;
    case 403:
      return Status.PERMISSION_DENIED;
    case 404:
      return Status.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return Status.UNAVAILABLE;
    default:
      return Status.UNKNOWN;
  }
}

/** What a stream reset without a gRPC status means, as grpc-js reads it. */
function statusOfReset(code: number): Status {
  switch (code) {
    case h2.NGHTTP2_REFUSED_STREAM:
      return Status.UNAVAILABLE;
    case h2.NGHTTP2_CANCEL:
      return Status.CANCELLED;
    case h2.NGHTTP2_ENHANCE_YOUR_CALM:
      return Status.RESOURCE_EXHAUSTED;
    case h2.NGHTTP2_INADEQUATE_SECURITY:
      return Status.PERMISSION_DENIED;
    default:
      return Status.INTERNAL;
  }
}

function percentDecode(text: string): string {
  if (!text.includes("%")) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text; // not valid percent-encoding: show it as it came
  }
}

function headerText(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export class UnaryGrpcClient {
  private session: ClientHttp2Session | undefined;
  private closed = false;
  private readonly maxReceive: number;

  constructor(private readonly opts: UnaryClientOptions) {
    this.maxReceive = opts.maxReceiveBytes ?? DEFAULT_MAX_RECEIVE;
  }

  /** Call `path` with an encoded request; resolves to the encoded response, rejects with UnaryCallError. */
  call(path: string, request: Uint8Array, options: UnaryCallOptions = {}): Promise<Buffer> {
    if (this.closed) return Promise.reject(new UnaryCallError(Status.UNAVAILABLE, "the client is closed"));
    const session = this.currentSession();
    const headers: Record<string, string> = {
      [h2.HTTP2_HEADER_METHOD]: "POST",
      [h2.HTTP2_HEADER_PATH]: path,
      [h2.HTTP2_HEADER_AUTHORITY]: this.opts.authority,
      [h2.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc",
      te: "trailers",
    };
    if (options.timeoutMs !== undefined) headers["grpc-timeout"] = `${Math.max(1, Math.ceil(options.timeoutMs))}m`;
    const frame = Buffer.allocUnsafe(5 + request.length);
    frame[0] = 0;
    frame.writeUInt32BE(request.length, 1);
    frame.set(request, 5);
    return new Promise<Buffer>((resolve, reject) => {
      let stream;
      try {
        stream = session.request(headers);
      } catch (err) {
        this.drop(session);
        reject(new UnaryCallError(Status.UNAVAILABLE, `cannot start a call: ${(err as Error).message}`));
        return;
      }
      const chunks: Buffer[] = [];
      let received = 0;
      let httpStatus = 0;
      let grpcStatus: string | undefined;
      let grpcMessage = "";
      let encoding = "identity";
      let failure: UnaryCallError | undefined;
      let timer: NodeJS.Timeout | undefined;
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          failure ??= new UnaryCallError(Status.DEADLINE_EXCEEDED, "Deadline exceeded");
          // A stream still waiting for its connection emits no 'close' on close() until the connection is up.
          if (stream.pending) stream.destroy();
          else stream.close(h2.NGHTTP2_CANCEL);
        }, options.timeoutMs);
      }
      const takeStatus = (hs: IncomingHttpHeaders): void => {
        const s = headerText(hs, "grpc-status");
        if (s !== undefined) {
          grpcStatus = s;
          grpcMessage = percentDecode(headerText(hs, "grpc-message") ?? "");
        }
      };
      stream.on("response", (hs) => {
        httpStatus = Number(hs[h2.HTTP2_HEADER_STATUS] ?? 0);
        encoding = headerText(hs, "grpc-encoding") ?? "identity";
        takeStatus(hs); // a trailers-only answer
      });
      stream.on("trailers", takeStatus);
      stream.on("data", (chunk: Buffer) => {
        received += chunk.length;
        if (received > this.maxReceive + 5) {
          failure ??= new UnaryCallError(Status.RESOURCE_EXHAUSTED, `Received message larger than max (${received - 5} vs. ${this.maxReceive})`);
          stream.close(h2.NGHTTP2_CANCEL);
          return;
        }
        chunks.push(chunk);
      });
      stream.on("error", (err) => {
        failure ??= new UnaryCallError(Status.UNAVAILABLE, `call failed: ${err.message}`);
      });
      stream.on("close", () => {
        clearTimeout(timer);
        if (failure) return reject(failure);
        if (grpcStatus === undefined && stream.rstCode !== undefined && stream.rstCode !== h2.NGHTTP2_NO_ERROR) {
          return reject(new UnaryCallError(statusOfReset(stream.rstCode), `call reset by the server (HTTP/2 error ${stream.rstCode}) on ${path}`));
        }
        if (httpStatus !== 200 && grpcStatus === undefined) {
          return reject(new UnaryCallError(httpStatus === 0 ? Status.UNAVAILABLE : statusOfHttp(httpStatus), `HTTP status ${httpStatus || "none"} from ${path}`));
        }
        if (grpcStatus === undefined) return reject(new UnaryCallError(Status.UNKNOWN, `no grpc-status in the answer from ${path}`));
        const code = Number(grpcStatus);
        if (code !== Status.OK) return reject(new UnaryCallError(code in Status ? code : Status.UNKNOWN, grpcMessage));
        try {
          resolve(this.unframe(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), encoding, path));
        } catch (err) {
          reject(err);
        }
      });
      stream.end(frame);
    });
  }

  close(): void {
    this.closed = true;
    this.session?.close();
    this.session = undefined;
  }

  private currentSession(): ClientHttp2Session {
    const s = this.session;
    if (s && !s.closed && !s.destroyed) return s;
    const session = connectHttp2(`https://${this.opts.authority}`, { createConnection: () => this.opts.connect() });
    // Failures reach the calls through their streams; a dead session is replaced on the next call.
    session.on("error", () => this.drop(session));
    session.on("goaway", () => this.drop(session));
    session.once("close", () => this.drop(session));
    this.session = session;
    return session;
  }

  private drop(session: ClientHttp2Session): void {
    if (this.session === session) this.session = undefined;
  }

  private unframe(body: Buffer, encoding: string, path: string): Buffer {
    if (body.length < 5) throw new UnaryCallError(Status.INTERNAL, `no response message from ${path}`);
    const length = body.readUInt32BE(1);
    if (body.length !== 5 + length) throw new UnaryCallError(Status.INTERNAL, `malformed response from ${path}: not exactly one message`);
    const message = body.subarray(5);
    if (body[0] !== 1) return message;
    if (encoding !== "gzip" && encoding !== "deflate") {
      throw new UnaryCallError(Status.INTERNAL, `response from ${path} compressed with unsupported encoding "${encoding}"`);
    }
    try {
      return (encoding === "gzip" ? gunzipSync : inflateSync)(message, { maxOutputLength: this.maxReceive });
    } catch (err) {
      if ((err as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
        throw new UnaryCallError(Status.RESOURCE_EXHAUSTED, `Received message larger than max (over ${this.maxReceive} decompressed) from ${path}`);
      }
      throw new UnaryCallError(Status.INTERNAL, `cannot decompress the response from ${path}: ${(err as Error).message}`);
    }
  }
}
