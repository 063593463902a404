// The benchmarks' UnaryGrpcClient (scripts/lib/unary-client.ts) over real TLS
// against grpc-js's Server (the reference implementation) and a raw
// node:http2 server for the answers grpc-js does not produce (HTTP errors
// without a gRPC status, compressed responses, garbage). Then
// ControlUnaryClient against the real control server, checked against
// grpc-js's client on the same socket.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createSecureServer, type Http2SecureServer, type ServerHttp2Stream, type IncomingHttpHeaders } from "node:http2";
import { createServer as createNetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { deflateSync, gzipSync } from "node:zlib";
import {
  Client,
  Metadata,
  Server,
  ServerCredentials,
  credentials,
  status as Status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceError,
} from "@grpc/grpc-js";
import { ControlUnaryClient } from "../../scripts/lib/control-unary-client.js";
import { UnaryCallError, UnaryGrpcClient, type UnaryClientOptions } from "../../scripts/lib/unary-client.js";
import { rpc, startHarness, tlsMaterial } from "../controlapi/harness.js";

const ECHO = "/test.Fixture/Echo";
/** Fails with NOT_FOUND and the request (UTF-8) as the message. */
const FAIL = "/test.Fixture/Fail";
/** Answers with as many bytes as the request's big-endian uint32 says. */
const SIZED = "/test.Fixture/Sized";
/** Echoes, but only once the fixture releases it (or stops). */
const SLOW = "/test.Fixture/Slow";

/** A message that must survive percent-encoding: non-ASCII, '%', and something that looks like an escape. */
const AWKWARD = "nœud ✓ introuvable: 100% sûr, %41 n'est pas A";
/** Small limit for the RESOURCE_EXHAUSTED cases, so the oversized answers stay cheap. */
const SMALL_MAX = 64 * 1024;

let key: string;
let cert: string;
let dir: string;
let socketCount = 0;
const clients: Array<{ close(): void }> = [];

before(async () => {
  const tls = await tlsMaterial();
  key = tls.keyPem;
  cert = tls.certPem;
  dir = await mkdtemp(join(tmpdir(), "unary-client-"));
});
after(async () => {
  for (const c of clients.splice(0)) c.close();
  await rm(dir, { recursive: true, force: true });
});

const freshPath = (): string => join(dir, `s-${++socketCount}.sock`);

/** A client on a unix socket, counting the connections it opens. */
function clientFor(socketPath: string, extra: Partial<UnaryClientOptions> = {}): { client: UnaryGrpcClient; connects: () => number } {
  let n = 0;
  const client = new UnaryGrpcClient({
    authority: "localhost",
    connect: () => {
      n++;
      return tlsConnect({ path: socketPath, ALPNProtocols: ["h2"], rejectUnauthorized: false, servername: "localhost" });
    },
    ...extra,
  });
  clients.push(client);
  return { client, connects: () => n };
}

/** The call's rejection, which must be a UnaryCallError. */
async function callError(p: Promise<unknown>): Promise<UnaryCallError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof UnaryCallError, `expected a UnaryCallError, got ${String(err)}`);
    return err;
  }
  assert.fail("the call succeeded");
}

const sizeRequest = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

const elapsed = (since: number): number => performance.now() - since;

/** `p`, or a failure if it has not settled within `ms` (a call that never settles must fail the test, not hang it). */
async function settles<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, guard]);
  } finally {
    clearTimeout(timer);
  }
}

// ---- the fixture servers ----

interface Fixture {
  /** Stop listening and drop every connection. */
  stop(): Promise<void>;
}

/** Slow handlers wait on this; stop() and the test release them. */
class Gate {
  private waiting: Array<() => void> = [];
  wait(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      // Never keep the test process alive on a forgotten call.
      setTimeout(resolve, 10_000).unref();
    });
  }
  get count(): number {
    return this.waiting.length;
  }
  release(): void {
    for (const r of this.waiting.splice(0)) r();
  }
}

async function startGrpcJs(socketPath: string, gate: Gate): Promise<Fixture> {
  await rm(socketPath, { force: true });
  const server = new Server();
  const def = (path: string) => ({
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  });
  type Call = ServerUnaryCall<Buffer, Buffer>;
  type Done = sendUnaryData<Buffer>;
  server.addService(
    { Echo: def(ECHO), Fail: def(FAIL), Sized: def(SIZED), Slow: def(SLOW) },
    {
      Echo: (call: Call, done: Done) => done(null, call.request),
      Fail: (call: Call, done: Done) => done({ code: Status.NOT_FOUND, details: call.request.toString("utf8") }),
      Sized: (call: Call, done: Done) => done(null, Buffer.alloc(call.request.readUInt32BE(0), 7)),
      Slow: (call: Call, done: Done) => void gate.wait().then(() => done(null, call.request)),
    },
  );
  const creds = ServerCredentials.createSsl(null, [{ private_key: Buffer.from(key), cert_chain: Buffer.from(cert) }], false);
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socketPath}`, creds, (err) => (err ? reject(err) : resolve())));
  return {
    async stop() {
      gate.release();
      server.forceShutdown();
    },
  };
}

const KINDS = [{ kind: "grpc-js Server", start: startGrpcJs }] as const;

for (const { kind, start } of KINDS) {
  describe(`against ${kind}`, () => {
    const gate = new Gate();
    let socketPath: string;
    let fixture: Fixture;
    before(async () => {
      socketPath = freshPath();
      fixture = await start(socketPath, gate);
    });
    after(async () => {
      await fixture.stop();
    });

    test("echo round trips: empty, small, 1 MiB", async () => {
      const { client } = clientFor(socketPath);
      assert.equal((await client.call(ECHO, new Uint8Array(0))).length, 0);
      assert.deepEqual(await client.call(ECHO, Buffer.from("hello")), Buffer.from("hello"));
      const mib = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < mib.length; i += 4) mib.writeUInt32LE(i, i);
      const back = await client.call(ECHO, mib);
      assert.equal(back.length, mib.length);
      assert.ok(back.equals(mib), "the 1 MiB echo came back altered");
    });

    test("64 concurrent calls on one client share one connection and each gets its own answer", async () => {
      const { client, connects } = clientFor(socketPath);
      const bodies = Array.from({ length: 64 }, (_, i) => Buffer.from(`call ${i} `.repeat(i + 1)));
      const answers = await Promise.all(bodies.map((b) => client.call(ECHO, b)));
      answers.forEach((a, i) => assert.deepEqual(a, bodies[i], `call ${i}`));
      assert.equal(connects(), 1);
    });

    test("an error status arrives with its message decoded (non-ASCII, '%'), as grpc-js's client sees it", async () => {
      const { client } = clientFor(socketPath);
      const err = await callError(client.call(FAIL, Buffer.from(AWKWARD)));
      assert.equal(err.code, Status.NOT_FOUND);
      assert.equal(err.details, AWKWARD);
      assert.match(err.message, /NOT_FOUND/);
      // The reference client on the same server.
      const ref = new Client(`unix://${socketPath}`, credentials.createSsl(null, null, null, { rejectUnauthorized: false, checkServerIdentity: () => undefined }), {
        "grpc.default_authority": "localhost",
      });
      try {
        const refErr = await new Promise<ServiceError | null>((resolve) =>
          ref.makeUnaryRequest(FAIL, (b: Buffer) => b, (b: Buffer) => b, Buffer.from(AWKWARD), new Metadata(), {}, (e) => resolve(e ?? null)),
        );
        assert.ok(refErr);
        assert.equal(err.code, refErr.code);
        assert.equal(err.details, refErr.details);
      } finally {
        ref.close();
      }
      // The connection survives a failed call.
      assert.deepEqual(await client.call(ECHO, Buffer.from("after")), Buffer.from("after"));
    });

    test("a response over maxReceiveBytes is RESOURCE_EXHAUSTED; one exactly at the limit is accepted", async () => {
      const { client } = clientFor(socketPath, { maxReceiveBytes: SMALL_MAX });
      assert.equal((await client.call(SIZED, sizeRequest(SMALL_MAX))).length, SMALL_MAX);
      const err = await callError(client.call(SIZED, sizeRequest(SMALL_MAX + 1)));
      assert.equal(err.code, Status.RESOURCE_EXHAUSTED);
      const big = await callError(client.call(SIZED, sizeRequest(2 * 1024 * 1024)));
      assert.equal(big.code, Status.RESOURCE_EXHAUSTED);
      // Only the stream was cancelled.
      assert.deepEqual(await client.call(ECHO, Buffer.from("still here")), Buffer.from("still here"));
    });

    test("timeoutMs shorter than a slow handler is DEADLINE_EXCEEDED, settled promptly", async () => {
      const { client } = clientFor(socketPath);
      await client.call(ECHO, Buffer.from("warm")); // the connection's setup is not the point here
      const t0 = performance.now();
      const err = await callError(settles(client.call(SLOW, Buffer.from("slow"), { timeoutMs: 150 }), 3000, "the call"));
      const took = elapsed(t0);
      assert.equal(err.code, Status.DEADLINE_EXCEEDED);
      assert.ok(took >= 140, `settled after ${took.toFixed(0)} ms, before its deadline`);
      assert.ok(took < 3000, `settled after ${took.toFixed(0)} ms`);
      gate.release();
      // A timeout long enough lets a call finish.
      assert.deepEqual(await client.call(ECHO, Buffer.from("quick"), { timeoutMs: 5000 }), Buffer.from("quick"));
    });

    test("close() with a call in flight lets it finish; calls after close() are UNAVAILABLE 'closed'", async () => {
      const { client } = clientFor(socketPath);
      const inFlight = client.call(SLOW, Buffer.from("in flight"));
      while (gate.count === 0) await new Promise((r) => setTimeout(r, 5));
      client.close();
      const err = await callError(client.call(ECHO, Buffer.from("late")));
      assert.equal(err.code, Status.UNAVAILABLE);
      assert.match(err.details, /closed/);
      gate.release();
      assert.deepEqual(await inFlight, Buffer.from("in flight"));
    });

    test("a server restarted on the same socket between two calls: the next call reconnects", async () => {
      const path = freshPath();
      const restartGate = new Gate();
      let server = await start(path, restartGate);
      const { client, connects } = clientFor(path);
      try {
        assert.deepEqual(await client.call(ECHO, Buffer.from("one")), Buffer.from("one"));
        await server.stop();
        server = await start(path, restartGate);
        // A call may race the old connection's teardown: one UNAVAILABLE is allowed, not two.
        let answer: Buffer;
        try {
          answer = await client.call(ECHO, Buffer.from("two"));
        } catch (err) {
          assert.ok(err instanceof UnaryCallError && err.code === Status.UNAVAILABLE, `first call after restart: ${String(err)}`);
          answer = await client.call(ECHO, Buffer.from("two"));
        }
        assert.deepEqual(answer, Buffer.from("two"));
        assert.ok(connects() >= 2, `${connects()} connections`);

        // A call in flight when the server goes away settles: UNAVAILABLE, CANCELLED when the server resets it
        // with CANCEL as it shuts down (grpc-js's client reads that reset the same way), or its answer if it won the race.
        const inFlight = client.call(SLOW, Buffer.from("in flight"));
        while (restartGate.count === 0) await new Promise((r) => setTimeout(r, 5));
        // Down, a call fails promptly; up again, the next one dials anew.
        await server.stop();
        const outcome = await settles(inFlight.then((b) => b, (e: unknown) => e), 3000, "the call in flight");
        if (!Buffer.isBuffer(outcome)) {
          assert.ok(outcome instanceof UnaryCallError && (outcome.code === Status.UNAVAILABLE || outcome.code === Status.CANCELLED), `call in flight: ${String(outcome)}`);
        }
        const t0 = performance.now();
        const down = await callError(settles(client.call(ECHO, Buffer.from("down")), 2000, "the call"));
        assert.equal(down.code, Status.UNAVAILABLE);
        assert.ok(elapsed(t0) < 2000, `UNAVAILABLE after ${elapsed(t0).toFixed(0)} ms`);
        server = await start(path, restartGate);
        assert.deepEqual(await client.call(ECHO, Buffer.from("three")), Buffer.from("three"));
      } finally {
        await server.stop();
      }
    });
  });
}

test("nothing listening on the socket: UNAVAILABLE, promptly, and again on the next call", async () => {
  const { client, connects } = clientFor(join(dir, "nobody-here.sock"));
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now();
    const err = await callError(settles(client.call(ECHO, Buffer.from("x")), 2000, "the call"));
    assert.equal(err.code, Status.UNAVAILABLE);
    assert.ok(elapsed(t0) < 2000, `UNAVAILABLE after ${elapsed(t0).toFixed(0)} ms`);
  }
  assert.equal(connects(), 2, "each call after a failed dial dials again");
});

test("a peer that accepts but never speaks TLS: timeoutMs still settles the call with DEADLINE_EXCEEDED", async () => {
  const path = freshPath();
  const sockets = new Set<Socket>();
  const mute = createNetServer((s) => {
    sockets.add(s);
    s.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => mute.listen(path, resolve));
  try {
    const { client } = clientFor(path);
    const t0 = performance.now();
    // A pending stream (its session not connected yet) must be settled by the deadline too.
    const err = await callError(settles(client.call(ECHO, Buffer.from("x"), { timeoutMs: 200 }), 3000, "the call"));
    assert.equal(err.code, Status.DEADLINE_EXCEEDED);
    assert.ok(elapsed(t0) < 3000, `settled after ${elapsed(t0).toFixed(0)} ms`);
  } finally {
    for (const s of sockets) s.destroy();
    mute.close();
  }
});

// ---- a raw node:http2 server: answers no gRPC server would give ----

describe("against a raw HTTP/2 server", () => {
  let path: string;
  let server: Http2SecureServer;
  const payload = Buffer.from("compressed hello, ".repeat(200));
  const sessions = new Set<{ destroy(): void }>();

  function messageFrame(body: Buffer, compressed: boolean): Buffer {
    const frame = Buffer.alloc(5 + body.length);
    frame[0] = compressed ? 1 : 0;
    frame.writeUInt32BE(body.length, 1);
    body.copy(frame, 5);
    return frame;
  }

  function answer(stream: ServerHttp2Stream, headers: Record<string, string | number>, body: Buffer, trailers: Record<string, string> | null): void {
    if (trailers) {
      stream.respond({ ":status": 200, "content-type": "application/grpc", ...headers }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers(trailers));
    } else {
      stream.respond({ ":status": 200, "content-type": "application/grpc", ...headers });
    }
    stream.end(body);
  }

  const ROUTES: Record<string, (stream: ServerHttp2Stream) => void> = {
    "/raw/404": (s) => s.respond({ ":status": 404 }, { endStream: true }),
    "/raw/503": (s) => s.respond({ ":status": 503, "content-type": "text/plain" }, { endStream: true }),
    "/raw/trailers-only": (s) =>
      s.respond(
        { ":status": 200, "content-type": "application/grpc", "grpc-status": "7", "grpc-message": "refus%C3%A9 %E2%9C%93 100%25" },
        { endStream: true },
      ),
    "/raw/gzip": (s) => answer(s, { "grpc-encoding": "gzip" }, messageFrame(gzipSync(payload), true), { "grpc-status": "0" }),
    "/raw/deflate": (s) => answer(s, { "grpc-encoding": "deflate" }, messageFrame(deflateSync(payload), true), { "grpc-status": "0" }),
    "/raw/gzip-identity-flag": (s) => answer(s, { "grpc-encoding": "gzip" }, messageFrame(payload, false), { "grpc-status": "0" }),
    "/raw/gzip-bomb": (s) => answer(s, { "grpc-encoding": "gzip" }, messageFrame(gzipSync(Buffer.alloc(SMALL_MAX * 16)), true), { "grpc-status": "0" }),
    "/raw/gzip-corrupt": (s) => answer(s, { "grpc-encoding": "gzip" }, messageFrame(Buffer.from("this is not gzip at all"), true), { "grpc-status": "0" }),
    "/raw/compressed-without-encoding": (s) => answer(s, {}, messageFrame(gzipSync(payload), true), { "grpc-status": "0" }),
    "/raw/unknown-encoding": (s) => answer(s, { "grpc-encoding": "snappy" }, messageFrame(payload, true), { "grpc-status": "0" }),
    "/raw/no-status": (s) => answer(s, {}, messageFrame(payload, false), null),
    "/raw/odd-status": (s) => answer(s, {}, Buffer.alloc(0), { "grpc-status": "99", "grpc-message": "what" }),
    "/raw/no-message": (s) => answer(s, {}, Buffer.alloc(0), { "grpc-status": "0" }),
    "/raw/two-messages": (s) => answer(s, {}, Buffer.concat([messageFrame(payload, false), messageFrame(payload, false)]), { "grpc-status": "0" }),
    "/raw/hang": () => undefined,
  };

  before(async () => {
    path = freshPath();
    server = createSecureServer({ key, cert });
    server.on("session", (s) => {
      sessions.add(s);
      s.once("close", () => sessions.delete(s));
    });
    server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      stream.on("error", () => undefined);
      stream.resume(); // the request body is not the point
      const route = ROUTES[headers[":path"] ?? ""];
      if (route) route(stream);
      else stream.respond({ ":status": 500 }, { endStream: true });
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
  });
  after(async () => {
    for (const s of sessions) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  test("HTTP 404 without grpc-status is UNIMPLEMENTED, 503 is UNAVAILABLE", async () => {
    const { client } = clientFor(path);
    assert.equal((await callError(client.call("/raw/404", Buffer.from("x")))).code, Status.UNIMPLEMENTED);
    assert.equal((await callError(client.call("/raw/503", Buffer.from("x")))).code, Status.UNAVAILABLE);
  });

  test("a trailers-only answer carries the status and its decoded message", async () => {
    const { client } = clientFor(path);
    const err = await callError(client.call("/raw/trailers-only", Buffer.from("x")));
    assert.equal(err.code, Status.PERMISSION_DENIED);
    assert.equal(err.details, "refusé ✓ 100%");
  });

  test("gzip- and deflate-compressed responses are decompressed; an uncompressed message under grpc-encoding gzip is taken as is", async () => {
    const { client } = clientFor(path);
    assert.deepEqual(await client.call("/raw/gzip", Buffer.from("x")), payload);
    assert.deepEqual(await client.call("/raw/deflate", Buffer.from("x")), payload);
    assert.deepEqual(await client.call("/raw/gzip-identity-flag", Buffer.from("x")), payload);
  });

  test("a compressed message without a usable grpc-encoding is INTERNAL", async () => {
    const { client } = clientFor(path);
    assert.equal((await callError(client.call("/raw/compressed-without-encoding", Buffer.from("x")))).code, Status.INTERNAL);
    assert.equal((await callError(client.call("/raw/unknown-encoding", Buffer.from("x")))).code, Status.INTERNAL);
  });

  test("a compressed response that inflates past maxReceiveBytes is RESOURCE_EXHAUSTED (a UnaryCallError)", async () => {
    const { client } = clientFor(path, { maxReceiveBytes: SMALL_MAX });
    const err = await callError(client.call("/raw/gzip-bomb", Buffer.from("x")));
    assert.equal(err.code, Status.RESOURCE_EXHAUSTED);
  });

  test("a compressed response that is not valid gzip is INTERNAL (a UnaryCallError)", async () => {
    const { client } = clientFor(path);
    const err = await callError(client.call("/raw/gzip-corrupt", Buffer.from("x")));
    assert.equal(err.code, Status.INTERNAL);
  });

  test("malformed answers reject: no grpc-status, an unknown code, OK without a message, two messages", async () => {
    const { client } = clientFor(path);
    const noStatus = await callError(client.call("/raw/no-status", Buffer.from("x")));
    assert.ok([Status.UNKNOWN, Status.INTERNAL].includes(noStatus.code), `no grpc-status: ${noStatus.message}`);
    const odd = await callError(client.call("/raw/odd-status", Buffer.from("x")));
    assert.equal(odd.code, Status.UNKNOWN);
    assert.equal(odd.details, "what");
    assert.ok((await callError(client.call("/raw/no-message", Buffer.from("x")))).code !== Status.OK);
    assert.equal((await callError(client.call("/raw/two-messages", Buffer.from("x")))).code, Status.INTERNAL);
  });

  test("a server that never answers: timeoutMs settles the call, and the connection serves the next one", async () => {
    const { client, connects } = clientFor(path);
    const t0 = performance.now();
    const err = await callError(settles(client.call("/raw/hang", Buffer.from("x"), { timeoutMs: 200 }), 3000, "the call"));
    assert.equal(err.code, Status.DEADLINE_EXCEEDED);
    assert.ok(elapsed(t0) < 3000, `settled after ${elapsed(t0).toFixed(0)} ms`);
    assert.deepEqual(await client.call("/raw/gzip", Buffer.from("x")), payload);
    assert.equal(connects(), 1);
  });
});

// ---- ControlUnaryClient on the real control server ----

describe("ControlUnaryClient against the control server", () => {
  test("answers and refusals match grpc-js's client on the same socket", async () => {
    const h = await startHarness();
    const client = new ControlUnaryClient(h.socketPath);
    try {
      const lean = await client.call("listClusters", { filters: undefined });
      const ref = await rpc(h.client, "listClusters", { filters: undefined });
      assert.equal(lean.clusters.length, 1);
      assert.deepEqual(lean, ref);

      const viaUnixUrl = new ControlUnaryClient(`unix://${h.socketPath}`);
      try {
        assert.deepEqual(await viaUnixUrl.call("listClusters", { filters: undefined }, 5000), ref);
      } finally {
        viaUnixUrl.close();
      }

      const err = await callError(client.call("getNode", { nodeId: "nosuchnode" }));
      const refErr = await rpc(h.client, "getNode", { nodeId: "nosuchnode" }).then(
        () => assert.fail("grpc-js's call succeeded"),
        (e: ServiceError) => e,
      );
      assert.equal(err.code, Status.NOT_FOUND);
      assert.equal(err.code, refErr.code);
      assert.equal(err.details, refErr.details);
    } finally {
      client.close();
      await h.close();
    }
  });
});
