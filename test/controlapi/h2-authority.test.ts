// The :authority rewriter between TLS and grpc-js: HPACK walking, Huffman
// decoding, framing (split input, PADDED/PRIORITY, CONTINUATION), malformed
// input, and real Node HTTP/2 clients and servers on both sides of it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuthorityFrameRewriter, AuthorityRewritingStream, Http2FramingError } from "../../src/workers/manager/controlapi/h2-authority.js";
import { AuthoritySanitizer, HpackError, sanitizeAuthority } from "../../src/workers/manager/controlapi/hpack-authority.js";
import { huffmanCodeLengths, huffmanDecode } from "../../src/workers/manager/controlapi/hpack-huffman.js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const SOCKET_AUTHORITY = "/tmp/x/ctl.sock";

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

/** A raw (non-Huffman) HPACK string literal shorter than 127 octets. */
function raw(s: string): Buffer {
  assert.ok(s.length < 127);
  return Buffer.concat([Buffer.from([s.length]), Buffer.from(s)]);
}

/** The length prefix of a raw HPACK string (7-bit prefix integer, H bit 0). */
function rawLength(n: number): Buffer {
  if (n < 127) return Buffer.from([n]);
  const bytes = [0x7f];
  for (n -= 127; n >= 128; n >>>= 7) bytes.push((n & 0x7f) | 0x80);
  bytes.push(n);
  return Buffer.from(bytes);
}

/** GET / over http with :authority as a literal with incremental indexing (name: static index 1). */
function getBlock(authority: string): Buffer {
  return Buffer.concat([Buffer.from([0x82, 0x86, 0x84, 0x41]), raw(authority)]);
}

/** Parse frames out of a byte string (after the preface): [type, flags, stream, payload]. */
function frames(bytes: Buffer): Array<{ type: number; flags: number; stream: number; payload: Buffer }> {
  const out = [];
  let p = bytes.subarray(0, PREFACE.length).equals(PREFACE) ? PREFACE.length : 0;
  while (p < bytes.length) {
    const len = bytes.readUIntBE(p, 3);
    out.push({ type: bytes[p + 3]!, flags: bytes[p + 4]!, stream: bytes.readUInt32BE(p + 5), payload: bytes.subarray(p + 9, p + 9 + len) });
    p += 9 + len;
  }
  return out;
}

describe("HPACK Huffman decoding", () => {
  test("the code is complete (Kraft sum 1) and decodes RFC 7541 C.4 strings", () => {
    const lengths = huffmanCodeLengths();
    assert.equal(lengths.length, 257);
    assert.equal(lengths.reduce((sum, l) => sum + 2 ** -l, 0), 1);
    const cases: Array<[string, string]> = [
      ["f1e3c2e5f23a6ba0ab90f4ff", "www.example.com"],
      ["a8eb10649cbf", "no-cache"],
      ["25a849e95ba97d7f", "custom-key"],
      ["25a849e95bb8e8b4bf", "custom-value"],
      ["6402", "302"],
      ["aec3771a4b", "private"],
    ];
    for (const [hex, text] of cases) {
      const b = Buffer.from(hex, "hex");
      assert.equal(huffmanDecode(b, 0, b.length).toString(), text);
    }
  });

  test("padding that is not a prefix of EOS, or longer than 7 bits, is an error", () => {
    // '0' is 00000: three 0 padding bits follow.
    assert.throws(() => huffmanDecode(Buffer.from([0x00]), 0, 1), /invalid padding/);
    // 0xff 0xff: 16 one bits, longer than 7 bits of padding (and a prefix of EOS).
    assert.throws(() => huffmanDecode(Buffer.from([0xff, 0xff]), 0, 2), /invalid padding/);
    // EOS itself (30 one bits) inside a string.
    assert.throws(() => huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4), /EOS/);
  });
});

describe("HPACK :authority sanitizing", () => {
  test("refused octets become 'x', same length; acceptable values are left alone", () => {
    assert.equal(sanitizeAuthority(Buffer.from(SOCKET_AUTHORITY))?.toString(), "xtmpxxxctl.sock");
    assert.equal(sanitizeAuthority(Buffer.from("swarm-manager:443")), undefined);
    assert.equal(sanitizeAuthority(Buffer.from("[::1]:80")), undefined);
    // Octets, not characters: é is two.
    assert.equal(sanitizeAuthority(Buffer.from("é/"))?.toString(), "xxx");
  });

  test("a literal :authority is rewritten; indexed references and other headers are not", () => {
    const h = new AuthoritySanitizer();
    const out = h.rewriteBlock(Buffer.concat([getBlock(SOCKET_AUTHORITY), Buffer.from([0x40]), raw("x-path"), raw("/a/b")]));
    assert.deepEqual(out, Buffer.concat([getBlock("xtmpxxxctl.sock"), Buffer.from([0x40]), raw("x-path"), raw("/a/b")]));
    assert.equal(h.dynamicTableLength, 2);
    // Indexed: 62 = x-path (newest), 63 = :authority: nothing to rewrite.
    assert.equal(h.rewriteBlock(Buffer.from([0x82, 0x86, 0x84, 0xbf, 0xbe])), undefined);
    // A literal naming :authority through dynamic entry 63 (0x40 | 63 = 0x7f, then 0x00).
    assert.deepEqual(h.rewriteBlock(Buffer.concat([Buffer.from([0x7f, 0x00]), raw("/b")])), Buffer.concat([Buffer.from([0x7f, 0x00]), raw("xb")]));
    // A literal name ":authority", without indexing and never indexed.
    assert.deepEqual(h.rewriteBlock(Buffer.concat([Buffer.from([0x00]), raw(":authority"), raw("/c")])), Buffer.concat([Buffer.from([0x00]), raw(":authority"), raw("xc")]));
    assert.deepEqual(h.rewriteBlock(Buffer.concat([Buffer.from([0x11]), raw("/d")])), Buffer.concat([Buffer.from([0x11]), raw("xd")]));
    assert.equal(h.rewrites, 4);
  });

  test("a Huffman-coded value is re-emitted raw; a long one gets a multi-octet length", () => {
    const h = new AuthoritySanitizer();
    // "www.example.com" Huffman-coded is acceptable: unchanged.
    const www = Buffer.from("41" + "8c" + "f1e3c2e5f23a6ba0ab90f4ff", "hex");
    assert.equal(h.rewriteBlock(www), undefined);
    // Literal without indexing, name index 1, a raw 300-octet value: 300 = 127 + 173 → 0x7f 0xad 0x01.
    assert.deepEqual(rawLength(300), Buffer.from([0x7f, 0xad, 0x01]));
    const block = Buffer.concat([Buffer.from([0x01]), rawLength(300), Buffer.from("/".repeat(300))]);
    const out = h.rewriteBlock(block)!;
    assert.deepEqual(out.subarray(0, 4), Buffer.from([0x01, 0x7f, 0xad, 0x01]));
    assert.ok(out.subarray(4).equals(Buffer.alloc(300, "x")));
  });

  test("the dynamic table follows size updates and evictions", () => {
    const h = new AuthoritySanitizer();
    h.rewriteBlock(getBlock("/a"));
    assert.equal(h.dynamicTableLength, 1);
    h.rewriteBlock(Buffer.from([0x20])); // size 0: everything evicted
    assert.equal(h.dynamicTableLength, 0);
    assert.throws(() => h.rewriteBlock(Buffer.from([0xbe])), /index 62 is beyond the dynamic table/);
    // Size 50: one entry of 10 + 2 + 32 = 44 octets fits, a second evicts the first.
    const h2 = new AuthoritySanitizer();
    h2.rewriteBlock(Buffer.concat([Buffer.from([0x3f, 0x13]), getBlock("/a")])); // 0x3f 0x13 = size update 31 + 19 = 50
    h2.rewriteBlock(Buffer.concat([Buffer.from([0x40]), raw("x-one"), raw("/b")])); // 5 + 2 + 32 = 39
    assert.equal(h2.dynamicTableLength, 1);
    assert.deepEqual(h2.rewriteBlock(Buffer.concat([Buffer.from([0x7e]), raw("/c")])), undefined, "62 is now x-one, not :authority");
  });

  test("a table size update beyond the server's 4096 octets is refused; the table stays within 4096 octets", () => {
    // 0x3f 0xe2 0x1f = size update 31 + 0x62 + (0x1f << 7) = 4097
    assert.throws(() => new AuthoritySanitizer().rewriteBlock(Buffer.from([0x3f, 0xe2, 0x1f])), (err: Error) => err instanceof HpackError && /table size update to 4097/.test(err.message));
    const h = new AuthoritySanitizer();
    // 0x3f 0xe1 0x1f = 4096; then 1000 literals with incremental indexing, empty name and value (32 octets each).
    const inserts = Buffer.alloc(3000);
    for (let i = 0; i < 1000; i++) inserts[i * 3] = 0x40;
    h.rewriteBlock(Buffer.concat([Buffer.from([0x3f, 0xe1, 0x1f]), inserts]));
    assert.equal(h.dynamicTableLength, 4096 / 32);
  });

  test("malformed blocks are errors with a clear message", () => {
    const bad: Array<[number[], RegExp]> = [
      [[0x80], /index 0/],
      [[0x41, 0x10, 0x61], /overruns the block/],
      [[0x41], /truncated string/],
      [[0x3f, 0xff, 0xff, 0xff, 0xff, 0xff], /integer too large|truncated integer/],
      [[0x41, 0x81, 0x00], /invalid padding/],
      [[0xff, 0x80], /truncated integer/],
    ];
    for (const [bytes, message] of bad) {
      assert.throws(() => new AuthoritySanitizer().rewriteBlock(Buffer.from(bytes)), (err: Error) => err instanceof HpackError && message.test(err.message), `block ${bytes.join(",")}`);
    }
  });
});

describe("HTTP/2 framing", () => {
  const settings = frame(0x4, 0, 0, Buffer.alloc(0));

  test("PADDED and PRIORITY: padding dropped, priority and END_STREAM kept, the block rewritten", () => {
    const block = getBlock(SOCKET_AUTHORITY);
    const priority = Buffer.from([0x80, 0, 0, 3, 15]);
    const payload = Buffer.concat([Buffer.from([4]), priority, block, Buffer.alloc(4)]);
    const out = Buffer.concat(new AuthorityFrameRewriter().push(Buffer.concat([PREFACE, settings, frame(0x1, 0x1 | 0x4 | 0x8 | 0x20, 1, payload)])));
    const [s, h] = frames(out);
    assert.equal(s!.type, 0x4);
    assert.equal(h!.type, 0x1);
    assert.equal(h!.flags, 0x1 | 0x4 | 0x20);
    assert.deepEqual(h!.payload, Buffer.concat([priority, getBlock("xtmpxxxctl.sock")]));
  });

  test("a block needing no change passes through byte for byte, padding included", () => {
    const input = Buffer.concat([PREFACE, settings, frame(0x1, 0x4 | 0x8, 1, Buffer.concat([Buffer.from([2]), getBlock("swarm-manager"), Buffer.alloc(2)]))]);
    assert.deepEqual(Buffer.concat(new AuthorityFrameRewriter().push(input)), input);
  });

  test("HEADERS + CONTINUATION are collected and re-emitted; a block over 16384 octets is split again", () => {
    const block = getBlock(SOCKET_AUTHORITY);
    const input = Buffer.concat([
      PREFACE,
      frame(0x1, 0x1, 3, block.subarray(0, 2)),
      frame(0x9, 0, 3, block.subarray(2, 6)),
      frame(0x9, 0x4, 3, block.subarray(6)),
      frame(0x0, 0x1, 3, Buffer.from("body")),
    ]);
    const out = frames(Buffer.concat(new AuthorityFrameRewriter().push(input)));
    assert.deepEqual(out.map((f) => [f.type, f.flags, f.stream]), [[0x1, 0x5, 3], [0x0, 0x1, 3]]);
    assert.deepEqual(out[0]!.payload, getBlock("xtmpxxxctl.sock"));

    const big = Buffer.concat([Buffer.from([0x82, 0x86, 0x84, 0x41]), rawLength(20000), Buffer.from("/".repeat(20000))]);
    const bigOut = frames(Buffer.concat(new AuthorityFrameRewriter().push(Buffer.concat([PREFACE, frame(0x1, 0x1, 5, big.subarray(0, 10000)), frame(0x9, 0x4, 5, big.subarray(10000))]))));
    assert.deepEqual(bigOut.map((f) => [f.type, f.flags, f.payload.length]), [[0x1, 0x1, 16384], [0x9, 0x4, big.length - 16384]]);
    const joined = Buffer.concat(bigOut.map((f) => f.payload));
    const head = big.length - 20000;
    assert.deepEqual(joined.subarray(0, head), big.subarray(0, head));
    assert.ok(joined.subarray(head).equals(Buffer.alloc(20000, "x")), "the value is all 'x'");
  });

  test("framing errors: bad preface, CONTINUATION without HEADERS, a frame inside a header block; then nothing more", () => {
    assert.throws(() => new AuthorityFrameRewriter().push(Buffer.from("GET / HTTP/1.1\r\n\r\n")), /no HTTP\/2 client preface/);
    assert.throws(() => new AuthorityFrameRewriter().push(Buffer.concat([PREFACE, frame(0x9, 0x4, 1, Buffer.from([0x82]))])), /CONTINUATION on stream 1 without an open header block/);
    const r = new AuthorityFrameRewriter();
    assert.throws(() => r.push(Buffer.concat([PREFACE, frame(0x1, 0, 1, Buffer.from([0x82])), settings])), (err: Error) => err instanceof Http2FramingError && /inside the header block of stream 1/.test(err.message));
    assert.throws(() => r.push(settings), /after an earlier error/);
    assert.throws(() => new AuthorityFrameRewriter().push(Buffer.concat([PREFACE, frame(0x1, 0x4 | 0x8, 1, Buffer.from([9, 0x82]))])), /shorter than its padding/);
    // A frame header announcing a huge header block is refused before its payload is buffered.
    const huge = Buffer.from([0x10, 0x00, 0x01, 0x1, 0x4, 0, 0, 0, 1]);
    assert.throws(() => new AuthorityFrameRewriter().push(Buffer.concat([PREFACE, huge])), /header block exceeds/);
  });
});

/** A Node HTTP/2 server behind the rewriter on a unix socket; it answers each request with the :authority it saw. */
class RewritingH2 {
  readonly seen: string[] = [];
  readonly streams: AuthorityRewritingStream[] = [];
  /** What each client connection sent, as the rewriter received it. */
  readonly received: Buffer[][] = [];
  private readonly h2 = http2.createServer();
  private listener: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(readonly socketPath: string) {
    this.h2.on("stream", (stream, headers) => {
      const authority = String(headers[":authority"]);
      this.seen.push(authority);
      stream.respond({ ":status": 200 });
      stream.end(authority);
    });
  }

  async start(): Promise<void> {
    this.listener = createServer((socket) => {
      this.sockets.add(socket);
      const chunks: Buffer[] = [];
      this.received.push(chunks);
      socket.on("data", (c: Buffer) => chunks.push(c));
      const s = new AuthorityRewritingStream(socket);
      this.streams.push(s);
      this.h2.emit("connection", s);
    });
    await new Promise<void>((r) => this.listener!.listen(this.socketPath, r));
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.listener!.close(r));
    this.h2.close();
  }
}

function request(session: http2.ClientHttp2Session, authority: string, extra: http2.OutgoingHttpHeaders = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ":authority": authority, ":path": "/x", ...extra, "x-test": "v/1" }, { endStream: true });
    let status = 0;
    let body = "";
    req.on("response", (h) => (status = Number(h[":status"])));
    req.setEncoding("utf8");
    req.on("data", (d: string) => (body += d));
    req.on("end", () => resolve({ status, body }));
    req.on("error", reject);
  });
}

describe("between a Node HTTP/2 client and server", () => {
  let dir = "";
  let server: RewritingH2;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "h2-authority-"));
    server = new RewritingH2(join(dir, "h2.sock"));
    await server.start();
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const connectClient = () => http2.connect("http://localhost", { createConnection: () => connect(server.socketPath) });

  test("without the rewriter nghttp2 refuses a socket path as :authority (the reason for all this)", async () => {
    const plain = http2.createServer();
    plain.on("stream", (s) => s.respond({ ":status": 200 }, { endStream: true }));
    const path = join(dir, "plain.sock");
    await new Promise<void>((r) => plain.listen(path, r));
    const session = http2.connect("http://localhost", { createConnection: () => connect(path) });
    try {
      await assert.rejects(request(session, SOCKET_AUTHORITY), /PROTOCOL_ERROR/);
    } finally {
      session.destroy();
      await new Promise((r) => plain.close(r));
    }
  });

  test("Huffman-coded and raw socket paths, repeated (dynamic table references), on one connection", async () => {
    const session = connectClient();
    const authorities = [SOCKET_AUTHORITY, SOCKET_AUTHORITY, SOCKET_AUTHORITY, "/{}|{}/x.sock", "/{}|{}/x.sock", "/run/other.sock", SOCKET_AUTHORITY];
    try {
      const results = [];
      for (const a of authorities) results.push(await request(session, a));
      const expected = authorities.map((a) => sanitizeAuthority(Buffer.from(a))!.toString());
      assert.deepEqual(results, expected.map((body) => ({ status: 200, body })));
      for (const [i, a] of authorities.entries()) assert.equal(results[i]!.body.length, a.length);
      // In flight together, too.
      const parallel = await Promise.all(authorities.map((a) => request(session, a, { "x-n": a })));
      assert.ok(parallel.every((r) => r.status === 200));
    } finally {
      session.close();
    }
    const sent = Buffer.concat(server.received.at(-1)!);
    // Node's client Huffman-codes the path (shorter) and sends the braces raw (shorter).
    assert.ok(!sent.includes(SOCKET_AUTHORITY), "the socket path went Huffman-coded");
    assert.ok(sent.includes("/{}|{}/x.sock"), "the braces went raw");
    assert.ok(server.streams.at(-1)!.rewrites >= 3);
  });

  test("the captured client stream split at every byte boundary, and byte by byte, gives the same output", async () => {
    const session = connectClient();
    try {
      for (const a of [SOCKET_AUTHORITY, SOCKET_AUTHORITY, "/{}|{}/x.sock"]) await request(session, a);
    } finally {
      session.close();
    }
    const input = Buffer.concat(server.received.at(-1)!);
    const whole = Buffer.concat(new AuthorityFrameRewriter().push(input));
    assert.ok(whole.includes("xtmpxxxctl.sock"));
    for (let k = 1; k < input.length; k++) {
      const r = new AuthorityFrameRewriter();
      const out = Buffer.concat([...r.push(input.subarray(0, k)), ...r.push(input.subarray(k))]);
      assert.ok(out.equals(whole), `split at ${k}`);
    }
    const r = new AuthorityFrameRewriter();
    const out: Buffer[] = [];
    for (let i = 0; i < input.length; i++) out.push(...r.push(input.subarray(i, i + 1)));
    assert.ok(Buffer.concat(out).equals(whole));
    assert.ok(r.atFrameBoundary);
  });

  /** Raw bytes to the server; resolves with what the h2 server saw as :authority of the first new stream. */
  async function rawExchange(bytes: Buffer): Promise<string> {
    const before = server.seen.length;
    const sock = connect(server.socketPath);
    sock.on("data", () => undefined);
    sock.write(bytes);
    try {
      for (let i = 0; i < 200 && server.seen.length === before; i++) await new Promise((r) => setTimeout(r, 10));
      return server.seen[before] ?? "";
    } finally {
      sock.destroy();
    }
  }

  test("hand-made HEADERS with PADDED and PRIORITY, and a HEADERS + CONTINUATION sequence, reach the server sanitized", async () => {
    const settings = frame(0x4, 0, 0, Buffer.alloc(0));
    const block = getBlock(SOCKET_AUTHORITY);
    const padded = Buffer.concat([Buffer.from([3]), Buffer.from([0, 0, 0, 0, 200]), block, Buffer.alloc(3)]);
    assert.equal(await rawExchange(Buffer.concat([PREFACE, settings, frame(0x1, 0x1 | 0x4 | 0x8 | 0x20, 1, padded)])), "xtmpxxxctl.sock");
    const continued = Buffer.concat([
      PREFACE,
      settings,
      frame(0x1, 0x1, 1, block.subarray(0, 5)),
      frame(0x9, 0, 1, block.subarray(5, 9)),
      frame(0x9, 0x4, 1, block.subarray(9)),
    ]);
    assert.equal(await rawExchange(continued), "xtmpxxxctl.sock");
  });

  test("malformed input closes that connection; the server keeps serving others", async () => {
    const settings = frame(0x4, 0, 0, Buffer.alloc(0));
    for (const bad of [
      Buffer.concat([PREFACE, settings, frame(0x1, 0x5, 1, Buffer.from([0x80]))]), // HPACK index 0
      Buffer.concat([PREFACE, settings, frame(0x1, 0x5, 1, Buffer.from([0x41, 0x20, 0x61]))]), // string overrun
      Buffer.concat([PREFACE, frame(0x9, 0x4, 1, Buffer.from([0x82]))]), // CONTINUATION alone
    ]) {
      const sock = connect(server.socketPath);
      sock.on("data", () => undefined);
      sock.on("error", () => undefined);
      const closed = new Promise<void>((r) => sock.once("close", () => r()));
      sock.write(bad);
      await closed;
    }
    const session = connectClient();
    try {
      assert.deepEqual(await request(session, SOCKET_AUTHORITY), { status: 200, body: "xtmpxxxctl.sock" });
    } finally {
      session.close();
    }
  });
});
