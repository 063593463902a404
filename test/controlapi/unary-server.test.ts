// The control socket's unary gRPC server (unary-server.ts) on its own: a
// fixture server with echo, failing, held, and oversized methods behind real
// TLS on a unix socket, driven by grpc-js and, where grpc-js cannot produce
// the input (compressed frames, bad headers, zero or two messages), by a raw
// node:http2 client.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter, once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import http2, { type ClientHttp2Session, type IncomingHttpHeaders } from "node:http2";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from "node:tls";
import { deflateSync, gzipSync } from "node:zlib";
import { Client, Metadata, credentials, status, type CallOptions, type ClientUnaryCall, type ServiceError } from "@grpc/grpc-js";
import { SwarmError } from "../../src/shared/errors.js";
import { createRootCA, type RootCA } from "../../src/shared/pki/index.js";
import { toStatus } from "../../src/workers/manager/controlapi/errors.js";
import { UnaryGrpcServer, percentEncode } from "../../src/workers/manager/controlapi/unary-server.js";

const MAX_RECV = 16 * 1024;
const MAX_SEND = 16 * 1024;
const ECHO = "/test.Fixture/Echo";
const FAIL = "/test.Fixture/Fail";
const THROW = "/test.Fixture/Throw";
const HELD = "/test.Fixture/Held";
const BIG = "/test.Fixture/Big";

const identity = (b: Buffer): Buffer => b;

/** A UnaryGrpcServer behind TLS on a unix socket, as server.ts wires the control socket. */
interface Fixture {
  socketPath: string;
  server: UnaryGrpcServer;
  /** Resolvers of Held calls in flight, oldest first; "held" is emitted as each arrives. */
  held: Array<(b: Buffer) => void>;
  events: EventEmitter;
  stop(): Promise<void>;
}

let ca: RootCA;
let dir: string;
let socketCount = 0;

async function startFixture(): Promise<Fixture> {
  const socketPath = join(dir, `unary-${++socketCount}.sock`);
  const server = new UnaryGrpcServer({ maxReceiveBytes: MAX_RECV, maxSendBytes: MAX_SEND, toStatus });
  const held: Array<(b: Buffer) => void> = [];
  const events = new EventEmitter();
  const method = (name: string, handle: (req: unknown) => Promise<unknown>) => ({
    name,
    decode: identity,
    encode: (res: unknown) => res as Buffer,
    handle,
  });
  server.addMethod(ECHO, method("Echo", (req) => Promise.resolve(req)));
  server.addMethod(FAIL, method("Fail", (req) => Promise.reject(new SwarmError("NOT_FOUND", (req as Buffer).toString("utf8")))));
  server.addMethod(THROW, method("Throw", () => Promise.reject(new Error("boom"))));
  server.addMethod(
    HELD,
    method(
      "Held",
      () =>
        new Promise((resolve) => {
          held.push(resolve);
          events.emit("held");
        }),
    ),
  );
  server.addMethod(BIG, method("Big", () => Promise.resolve(Buffer.alloc(MAX_SEND + 1, 7))));

  const terminator = createTlsServer({ cert: ca.certPem, key: ca.keyPem, ALPNProtocols: ["h2"] });
  terminator.on("tlsClientError", (_err, s: TLSSocket) => s.destroy());
  terminator.on("secureConnection", (s: TLSSocket) => {
    s.on("error", () => undefined);
    server.accept(s);
  });
  const sockets = new Set<Socket>();
  const listener: NetServer = createNetServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    terminator.emit("connection", socket);
  });
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(socketPath, resolve);
  });
  return {
    socketPath,
    server,
    held,
    events,
    async stop() {
      listener.close();
      for (const r of held.splice(0)) r(Buffer.alloc(0));
      await server.close(0);
      for (const s of sockets) s.destroy();
    },
  };
}

before(async () => {
  ca = await createRootCA();
  dir = await mkdtemp(join(tmpdir(), "unary-server-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

// ---- grpc-js client ----

function grpcClient(socketPath: string, extra: Record<string, string | number> = {}): Client {
  return new Client(
    `unix://${socketPath}`,
    credentials.createSsl(null, null, null, { rejectUnauthorized: false, checkServerIdentity: () => undefined }),
    { "grpc.default_authority": "swarm-manager", "grpc.ssl_target_name_override": "swarm-manager", ...extra },
  );
}

interface Outcome {
  err: ServiceError | null;
  value: Buffer | undefined;
}

function start(client: Client, path: string, body: Buffer, options: CallOptions = {}): { call: ClientUnaryCall; done: Promise<Outcome> } {
  let call!: ClientUnaryCall;
  const done = new Promise<Outcome>((resolve) => {
    call = client.makeUnaryRequest(path, identity, identity, body, new Metadata(), options, (err, value) =>
      resolve({ err: err ?? null, value }),
    );
  });
  return { call, done };
}

const unary = (client: Client, path: string, body: Buffer, options: CallOptions = {}): Promise<Outcome> =>
  start(client, path, body, options).done;

async function expectOk(client: Client, path: string, body: Buffer): Promise<Buffer> {
  const { err, value } = await unary(client, path, body);
  assert.equal(err, null, `call to ${path} failed: ${err?.message}`);
  assert.ok(value);
  return value;
}

async function expectError(p: Promise<Outcome>, code: status, details: RegExp | string): Promise<ServiceError> {
  const { err } = await p;
  assert.ok(err, "the call should have failed");
  assert.equal(err.code, code, `code ${status[err.code]} (${err.details}), wanted ${status[code]}`);
  if (typeof details === "string") assert.equal(err.details, details);
  else assert.match(err.details, details);
  return err;
}

// ---- raw node:http2 client ----

function rawSession(socketPath: string): ClientHttp2Session {
  const session = http2.connect("https://swarm-manager", {
    createConnection: () => tlsConnect({ path: socketPath, rejectUnauthorized: false, ALPNProtocols: ["h2"], servername: "swarm-manager" }),
  });
  session.on("error", () => undefined);
  return session;
}

/** A length-prefixed gRPC message. */
function frame(payload: Buffer, compressed = false, declaredLength = payload.length): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = compressed ? 1 : 0;
  prefix.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([prefix, payload]);
}

interface RawResult {
  httpStatus: number;
  headers: IncomingHttpHeaders;
  /** grpc-status from the trailers, or from the headers of a trailers-only answer. */
  grpcStatus: number | undefined;
  /** grpc-message as sent (percent-encoded). */
  rawMessage: string | undefined;
  message: string | undefined;
  data: Buffer;
}

async function rawCall(
  session: ClientHttp2Session,
  path: string,
  chunks: Buffer[],
  extraHeaders: Record<string, string> = {},
): Promise<RawResult> {
  const req = session.request({
    ":method": "POST",
    ":path": path,
    "content-type": "application/grpc",
    te: "trailers",
    ...extraHeaders,
  });
  req.on("error", () => undefined);
  let headers: IncomingHttpHeaders = {};
  let trailers: IncomingHttpHeaders = {};
  const data: Buffer[] = [];
  req.on("response", (h) => (headers = h));
  req.on("trailers", (t) => (trailers = t));
  req.on("data", (c: Buffer) => data.push(c));
  for (const c of chunks) req.write(c);
  req.end();
  // Not events.once: it rejects on "error", and a refused or reset stream is a result here.
  await new Promise<void>((resolve) => req.once("close", () => resolve()));
  const pick = (name: string): string | undefined => {
    const v = trailers[name] ?? headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const grpcStatus = pick("grpc-status");
  const rawMessage = pick("grpc-message");
  return {
    httpStatus: Number(headers[":status"] ?? 0),
    headers,
    grpcStatus: grpcStatus === undefined ? undefined : Number(grpcStatus),
    rawMessage,
    message: rawMessage === undefined ? undefined : decodeURIComponent(rawMessage),
    data: Buffer.concat(data),
  };
}

function assertRawStatus(r: RawResult, code: status, details: RegExp): void {
  assert.equal(r.httpStatus, 200);
  assert.equal(r.grpcStatus, code, `grpc-status ${r.grpcStatus} (${r.message}), wanted ${code} ${status[code]}`);
  assert.match(r.message ?? "", details);
}

function closeSession(session: ClientHttp2Session): Promise<void> {
  return new Promise((resolve) => {
    if (session.closed || session.destroyed) resolve();
    else session.close(() => resolve());
  });
}

// ---- tests ----

describe("UnaryGrpcServer over TLS on a unix socket", () => {
  let fx: Fixture;
  let client: Client;
  before(async () => {
    fx = await startFixture();
    client = grpcClient(fx.socketPath);
  });
  after(async () => {
    client.close();
    await fx.stop();
  });

  test("echo returns the same bytes, including an empty message and one of exactly maxReceiveBytes", async () => {
    const payload = Buffer.from("hello, unary world");
    assert.deepEqual(await expectOk(client, ECHO, payload), payload);
    assert.equal((await expectOk(client, ECHO, Buffer.alloc(0))).length, 0);
    const full = Buffer.alloc(MAX_RECV, 0xab);
    assert.deepEqual(await expectOk(client, ECHO, full), full);
  });

  test("50 concurrent calls on one connection all get their own answer", async () => {
    const payloads = Array.from({ length: 50 }, (_, i) => Buffer.from(`call-${i}-${"x".repeat(i * 37)}`));
    const results = await Promise.all(payloads.map((p) => unary(client, ECHO, p)));
    results.forEach(({ err, value }, i) => {
      assert.equal(err, null, `call ${i}: ${err?.message}`);
      assert.deepEqual(value, payloads[i]);
    });
  });

  test("an unknown method is UNIMPLEMENTED, naming the path", async () => {
    await expectError(unary(client, "/test.Fixture/Nope", Buffer.from("x")), status.UNIMPLEMENTED, /\/test\.Fixture\/Nope/);
  });

  test("a handler's SwarmError keeps its code and text; another error is INTERNAL naming the method", async () => {
    await expectError(unary(client, FAIL, Buffer.from("thing x not found")), status.NOT_FOUND, "thing x not found");
    await expectError(unary(client, THROW, Buffer.alloc(0)), status.INTERNAL, /Throw.*boom/);
  });

  test("a message with non-ASCII, '%' and control characters arrives intact (percent-encoded on the wire)", async () => {
    const text = "naïve 100% ✓\nsecond line";
    await expectError(unary(client, FAIL, Buffer.from(text)), status.NOT_FOUND, text);
    const session = rawSession(fx.socketPath);
    try {
      const r = await rawCall(session, FAIL, [frame(Buffer.from(text))]);
      assertRawStatus(r, status.NOT_FOUND, /naïve/);
      assert.equal(r.rawMessage, "na%C3%AFve 100%25 %E2%9C%93%0Asecond line");
      assert.equal(r.message, text);
    } finally {
      await closeSession(session);
    }
  });

  test("a request larger than maxReceiveBytes is RESOURCE_EXHAUSTED; the connection keeps serving", async () => {
    await expectError(unary(client, ECHO, Buffer.alloc(MAX_RECV + 1)), status.RESOURCE_EXHAUSTED, /larger than max/);
    // Far beyond the limit (and beyond the HTTP/2 flow-control window): refused early, no hang.
    await expectError(unary(client, ECHO, Buffer.alloc(1024 * 1024)), status.RESOURCE_EXHAUSTED, /larger than max/);
    assert.deepEqual(await expectOk(client, ECHO, Buffer.from("still here")), Buffer.from("still here"));
  });

  test("a length prefix over maxReceiveBytes is RESOURCE_EXHAUSTED even when little data follows", async () => {
    const session = rawSession(fx.socketPath);
    try {
      const r = await rawCall(session, ECHO, [frame(Buffer.from("short"), false, 10 * MAX_RECV)]);
      assertRawStatus(r, status.RESOURCE_EXHAUSTED, new RegExp(`larger than max.*${MAX_RECV}`));
    } finally {
      await closeSession(session);
    }
  });

  test("a response larger than maxSendBytes is RESOURCE_EXHAUSTED", async () => {
    await expectError(unary(client, BIG, Buffer.alloc(0)), status.RESOURCE_EXHAUSTED, /Sent message larger than max/);
  });

  test("an unknown method is refused even with a body beyond the flow-control window that the server never reads", async () => {
    await expectError(unary(client, "/test.Fixture/Nope", Buffer.alloc(256 * 1024)), status.UNIMPLEMENTED, /Nope/);
    assert.deepEqual(await expectOk(client, ECHO, Buffer.from("ok")), Buffer.from("ok"));
  });
});

describe("compressed requests (raw HTTP/2 client)", () => {
  let fx: Fixture;
  let session: ClientHttp2Session;
  before(async () => {
    fx = await startFixture();
    session = rawSession(fx.socketPath);
  });
  after(async () => {
    await closeSession(session);
    await fx.stop();
  });

  test("a gzip request is decompressed and echoed in a well-formed uncompressed answer", async () => {
    const payload = Buffer.from("compress me ".repeat(100));
    const r = await rawCall(session, ECHO, [frame(gzipSync(payload), true)], { "grpc-encoding": "gzip" });
    assert.equal(r.httpStatus, 200);
    assert.equal(r.grpcStatus, status.OK);
    assert.match(String(r.headers["content-type"]), /^application\/grpc/);
    assert.equal(r.data[0], 0, "the answer is not compressed");
    assert.equal(r.data.readUInt32BE(1), payload.length);
    assert.deepEqual(r.data.subarray(5), payload);
  });

  test("a deflate request is decompressed and echoed", async () => {
    const payload = Buffer.from("deflate me ".repeat(50));
    const r = await rawCall(session, ECHO, [frame(deflateSync(payload), true)], { "grpc-encoding": "deflate" });
    assert.equal(r.grpcStatus, status.OK);
    assert.deepEqual(r.data.subarray(5), payload);
  });

  test("grpc-js with gzip compression on gets its echo", async () => {
    const gz = grpcClient(fx.socketPath, { "grpc.default_compression_algorithm": 2 });
    try {
      const payload = Buffer.from("grpc-js gzip ".repeat(200));
      assert.deepEqual(await expectOk(gz, ECHO, payload), payload);
    } finally {
      gz.close();
    }
  });

  test("the compressed flag with grpc-encoding identity (or none) is INTERNAL", async () => {
    const body = frame(gzipSync(Buffer.from("x")), true);
    assertRawStatus(await rawCall(session, ECHO, [body], { "grpc-encoding": "identity" }), status.INTERNAL, /[Cc]ompressed.*identity/);
    assertRawStatus(await rawCall(session, ECHO, [body]), status.INTERNAL, /[Cc]ompressed/);
  });

  test("an unknown encoding is UNIMPLEMENTED, naming it", async () => {
    const r = await rawCall(session, ECHO, [frame(Buffer.from("zzz"), true)], { "grpc-encoding": "snappy" });
    assertRawStatus(r, status.UNIMPLEMENTED, /snappy/);
  });

  test("a corrupt gzip body is INTERNAL naming the method path", async () => {
    const r = await rawCall(session, ECHO, [frame(Buffer.from("not gzip at all"), true)], { "grpc-encoding": "gzip" });
    assertRawStatus(r, status.INTERNAL, /\/test\.Fixture\/Echo/);
  });

  test("a request that decompresses to just over maxReceiveBytes is RESOURCE_EXHAUSTED", async () => {
    const r = await rawCall(session, ECHO, [frame(gzipSync(Buffer.alloc(MAX_RECV + 1)), true)], { "grpc-encoding": "gzip" });
    assertRawStatus(r, status.RESOURCE_EXHAUSTED, /larger than max/);
  });

  test("a request that decompresses to far more than maxReceiveBytes (a zip bomb) is RESOURCE_EXHAUSTED", async () => {
    // 1 MiB of zeros compresses to about 1 KiB: well within the wire limit.
    const bomb = gzipSync(Buffer.alloc(1024 * 1024));
    assert.ok(bomb.length < MAX_RECV);
    for (const [encoding, body] of [
      ["gzip", bomb],
      ["deflate", deflateSync(Buffer.alloc(1024 * 1024))],
    ] as const) {
      const r = await rawCall(session, ECHO, [frame(body, true)], { "grpc-encoding": encoding });
      assertRawStatus(r, status.RESOURCE_EXHAUSTED, /larger than max/);
    }
  });
});

describe("deadlines, malformed calls and content types (raw HTTP/2 client)", () => {
  let fx: Fixture;
  let session: ClientHttp2Session;
  before(async () => {
    fx = await startFixture();
    session = rawSession(fx.socketPath);
  });
  after(async () => {
    await closeSession(session);
    await fx.stop();
  });

  test("grpc-timeout shorter than the handler is DEADLINE_EXCEEDED; the late answer is dropped harmlessly", async () => {
    const r = await rawCall(session, HELD, [frame(Buffer.from("slow"))], { "grpc-timeout": "50m" });
    assertRawStatus(r, status.DEADLINE_EXCEEDED, /[Dd]eadline/);
    assert.equal(r.data.length, 0);
    // The handler finishes after the deadline answered: nothing breaks.
    assert.equal(fx.held.length, 1);
    fx.held.shift()!(Buffer.from("too late"));
    const ok = await rawCall(session, ECHO, [frame(Buffer.from("after"))]);
    assert.equal(ok.grpcStatus, status.OK);
    assert.deepEqual(ok.data.subarray(5), Buffer.from("after"));
  });

  test("a grpc-timeout longer than the handler does not interfere", async () => {
    const r = await rawCall(session, ECHO, [frame(Buffer.from("quick"))], { "grpc-timeout": "10S" });
    assert.equal(r.grpcStatus, status.OK);
    assert.deepEqual(r.data.subarray(5), Buffer.from("quick"));
  });

  test("a grpc-timeout beyond setTimeout's 2^31-1 ms range (30 days, as grpc-go encodes it) does not expire at once", async () => {
    // grpc-go sends a 30-day deadline as "720H"; the largest legal value is 8 digits of hours.
    for (const far of ["720H", "99999999S", "99999999H"]) {
      const r = await rawCall(session, ECHO, [frame(Buffer.from("far"))], { "grpc-timeout": far });
      assert.equal(r.grpcStatus, status.OK, `grpc-timeout ${far}: ${r.grpcStatus} ${r.message}`);
      assert.deepEqual(r.data.subarray(5), Buffer.from("far"));
    }
    // The same through a handler that takes a while: a far deadline must not cut it short.
    const pending = rawCall(session, HELD, [frame(Buffer.from("far, held"))], { "grpc-timeout": "720H" });
    if (fx.held.length === 0) await once(fx.events, "held");
    await new Promise((r) => setTimeout(r, 30));
    fx.held.shift()!(Buffer.from("answered"));
    const r = await pending;
    assert.equal(r.grpcStatus, status.OK, `held call with grpc-timeout 720H: ${r.grpcStatus} ${r.message}`);
    assert.deepEqual(r.data.subarray(5), Buffer.from("answered"));
  });

  test("a malformed grpc-timeout is refused, naming the header", async () => {
    for (const bad of ["abc", "50", "123456789S", "-5m", "5x"]) {
      const r = await rawCall(session, ECHO, [frame(Buffer.from("x"))], { "grpc-timeout": bad });
      assert.notEqual(r.grpcStatus, status.OK, `grpc-timeout ${bad} was accepted`);
      assert.ok(r.grpcStatus !== undefined);
      assert.match(r.message ?? "", /grpc-timeout/, `grpc-timeout ${bad}`);
    }
  });

  test("a request with no message is refused; so is one with two; the session keeps serving", async () => {
    assertRawStatus(await rawCall(session, ECHO, []), status.UNIMPLEMENTED, /no request message/);
    const two = Buffer.concat([frame(Buffer.from("one")), frame(Buffer.from("two"))]);
    assertRawStatus(await rawCall(session, ECHO, [two]), status.UNIMPLEMENTED, /second request message/);
    // The same, with the two messages in separate DATA frames.
    assertRawStatus(await rawCall(session, ECHO, [frame(Buffer.from("one")), frame(Buffer.from("two"))]), status.UNIMPLEMENTED, /second/);
    const ok = await rawCall(session, ECHO, [frame(Buffer.from("fine"))]);
    assert.equal(ok.grpcStatus, status.OK);
    assert.deepEqual(ok.data.subarray(5), Buffer.from("fine"));
  });

  test("a request that ends inside its message is INTERNAL", async () => {
    const truncated = frame(Buffer.from("abc"), false, 10);
    assertRawStatus(await rawCall(session, ECHO, [truncated]), status.INTERNAL, /ended inside its message/);
  });

  test("a content-type other than application/grpc is HTTP 415", async () => {
    const r = await rawCall(session, ECHO, [frame(Buffer.from("x"))], { "content-type": "text/plain" });
    assert.equal(r.httpStatus, 415);
    const json = await rawCall(session, ECHO, [frame(Buffer.from("x"))], { "content-type": "application/json" });
    assert.equal(json.httpStatus, 415);
    // A body beyond the flow-control window, never read, does not wedge the session.
    const big = await rawCall(session, ECHO, [frame(Buffer.alloc(256 * 1024))], { "content-type": "text/plain" });
    assert.equal(big.httpStatus, 415);
    const ok = await rawCall(session, ECHO, [frame(Buffer.from("x"))], { "content-type": "application/grpc+proto" });
    assert.equal(ok.grpcStatus, status.OK);
  });

  test("a client that cancels a call in flight leaves the server serving", async () => {
    const client = grpcClient(fx.socketPath);
    try {
      const heldNow = once(fx.events, "held");
      const { call, done } = start(client, HELD, Buffer.from("cancel me"));
      await heldNow;
      call.cancel();
      await expectError(done, status.CANCELLED, /[Cc]ancel/);
      // The handler answers after the cancel: dropped without harm.
      fx.held.shift()!(Buffer.from("nobody listens"));
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(await expectOk(client, ECHO, Buffer.from("later")), Buffer.from("later"));
      const raw = await rawCall(session, ECHO, [frame(Buffer.from("raw later"))]);
      assert.equal(raw.grpcStatus, status.OK);
    } finally {
      client.close();
    }
  });
});

describe("close(graceMs)", () => {
  test("a call in flight when close starts still gets its answer; afterwards new connections are not served", async () => {
    const fx = await startFixture();
    const client = grpcClient(fx.socketPath);
    try {
      assert.deepEqual(await expectOk(client, ECHO, Buffer.from("warm")), Buffer.from("warm"));
      const heldNow = once(fx.events, "held");
      const { done } = start(client, HELD, Buffer.from("in flight"));
      await heldNow;
      let closed = false;
      const closing = fx.server.close(5000).then(() => (closed = true));
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(closed, false, "close() must wait for the call in flight");
      fx.held.shift()!(Buffer.from("answered during close"));
      const { err, value } = await done;
      assert.equal(err, null, `the call in flight failed: ${err?.message}`);
      assert.deepEqual(value, Buffer.from("answered during close"));
      const t0 = Date.now();
      await closing;
      assert.ok(Date.now() - t0 < 2000, "close() should resolve soon after the last call ends");

      // A fresh connection after close() is not served.
      const late = grpcClient(fx.socketPath);
      try {
        const { err: lateErr } = await unary(late, ECHO, Buffer.from("too late"), { deadline: Date.now() + 3000 });
        assert.ok(lateErr, "a call on a new connection after close() was answered");
        assert.equal(lateErr.code, status.UNAVAILABLE, `got ${status[lateErr.code]}: ${lateErr.details}`);
      } finally {
        late.close();
      }
      const session = rawSession(fx.socketPath);
      try {
        const r = await rawCall(session, ECHO, [frame(Buffer.from("raw too late"))]);
        assert.notEqual(r.grpcStatus, status.OK);
        assert.equal(r.data.length, 0);
      } finally {
        session.destroy();
      }
    } finally {
      client.close();
      await fx.stop();
    }
  });

  test("close() with a call that never ends returns after about graceMs and drops the call", async () => {
    const fx = await startFixture();
    const client = grpcClient(fx.socketPath);
    try {
      const heldNow = once(fx.events, "held");
      const { done } = start(client, HELD, Buffer.from("forever"));
      await heldNow;
      const graceMs = 300;
      const t0 = Date.now();
      await fx.server.close(graceMs);
      const elapsed = Date.now() - t0;
      assert.ok(elapsed >= graceMs - 20, `close() returned after ${elapsed} ms, before its grace of ${graceMs} ms`);
      assert.ok(elapsed < graceMs + 3000, `close() took ${elapsed} ms for a grace of ${graceMs} ms`);
      const { err } = await done;
      assert.ok(err, "the dropped call should fail at the client");
      assert.notEqual(err.code, status.OK);
    } finally {
      client.close();
      await fx.stop();
    }
  });

  test("a second close() while the first waits resolves as soon as the calls in flight end", async () => {
    const fx = await startFixture();
    const client = grpcClient(fx.socketPath);
    try {
      const heldNow = once(fx.events, "held");
      const { done } = start(client, HELD, Buffer.from("in flight"));
      await heldNow;
      const first = fx.server.close(1500);
      const second = fx.server.close(1500);
      await new Promise((r) => setTimeout(r, 30));
      const t0 = Date.now();
      fx.held.shift()!(Buffer.from("done"));
      assert.equal((await done).err, null);
      await first;
      await second;
      const elapsed = Date.now() - t0;
      assert.ok(elapsed < 1000, `the second close() took ${elapsed} ms after the last call ended (grace 1500 ms)`);
    } finally {
      client.close();
      await fx.stop();
    }
  });

  test("close() with no sessions resolves at once", async () => {
    const fx = await startFixture();
    const t0 = Date.now();
    await fx.server.close(5000);
    assert.ok(Date.now() - t0 < 1000);
    await fx.stop();
  });
});

describe("percentEncode", () => {
  test("printable ASCII other than '%' is unchanged", () => {
    const text = "Deadline exceeded: thing x (id 42) not found! ~{}[]<>#$&'\"";
    assert.equal(percentEncode(text), text);
    assert.equal(percentEncode(""), "");
  });

  test("'%' is %25, control characters are %XX", () => {
    assert.equal(percentEncode("100%"), "100%25");
    assert.equal(percentEncode("a\nb"), "a%0Ab");
    assert.equal(percentEncode("tab\there\r"), "tab%09here%0D");
    assert.equal(percentEncode("\x7f\x00"), "%7F%00");
  });

  test("non-ASCII text is its UTF-8 bytes, each %XX in upper-case hex", () => {
    assert.equal(percentEncode("naïve"), "na%C3%AFve");
    assert.equal(percentEncode("✓"), "%E2%9C%93");
    assert.equal(percentEncode("😀"), "%F0%9F%98%80");
    assert.equal(percentEncode("naïve 100% ✓"), "na%C3%AFve 100%25 %E2%9C%93");
  });

  test("decodeURIComponent (and grpc-js's decodeURI) restores the text", () => {
    for (const text of ["naïve 100% ✓", "a\nb\tc", "plain", "% %% %25", "日本語のエラー"]) {
      assert.equal(decodeURIComponent(percentEncode(text)), text);
      assert.equal(decodeURI(percentEncode(text)), text);
    }
  });
});
