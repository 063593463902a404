// ControlForwarder: a follower's writes relayed to the leader on one stream
// (write-forwarder.ts) and answered by id (forward-service.ts), over real
// grpc-js on loopback. The leader's Control API is a stand-in here; the
// cluster tests run the same path between real swarmd processes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { credentials, Server, ServerCredentials, status, type Client, type ServiceError } from "@grpc/grpc-js";
import {
  ControlForwarderClient,
  ControlForwarderService,
  ControlService,
  type ForwardedResult,
  type ForwardedResults,
} from "../../src/shared/api/index.js";
import { SwarmError } from "../../src/shared/errors.js";
import { controlForwarderHandlers } from "../../src/workers/manager/controlapi/forward-service.js";
import type { WriteMethod } from "../../src/workers/manager/controlapi/methods.js";
import type { LeaderConnection } from "../../src/workers/manager/leader-connection.js";
import { WriteForwarder } from "../../src/workers/manager/write-forwarder.js";

type Relay = (method: WriteMethod, request: Buffer) => Promise<Buffer>;

interface Leader {
  addr: string;
  relayed: Array<{ method: WriteMethod; request: Buffer }>;
  /** Forward streams opened to this leader. */
  streams: () => number;
  stop(): void;
}

/** A leader's remote API with only ControlForwarder (or nothing, for a leader without it). */
async function startLeader(relay: Relay, opts: { withStream?: boolean; refusal?: () => string | undefined; port?: number } = {}): Promise<Leader> {
  const server = new Server();
  const relayed: Leader["relayed"] = [];
  let streams = 0;
  if (opts.withStream !== false) {
    const api = {
      relayed: (method: WriteMethod, request: Buffer) => {
        relayed.push({ method, request });
        return relay(method, request);
      },
    };
    const handlers = controlForwarderHandlers(api, { refusal: opts.refusal });
    server.addService(ControlForwarderService, {
      forward: (call: Parameters<typeof handlers.forward>[0]) => {
        streams++;
        handlers.forward(call);
      },
    });
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${opts.port ?? 0}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { addr: `127.0.0.1:${port}`, relayed, streams: () => streams, stop: () => server.forceShutdown() };
}

/** LeaderConnection's contract, insecure: one client per leader address, the old one closed on a change. */
function connectionTo(leader: () => string | undefined): LeaderConnection {
  let cur: { addr: string; client: Client } | undefined;
  return {
    client<C extends Client>(ctor: new (addr: string, creds: ReturnType<typeof credentials.createInsecure>) => C) {
      const addr = leader();
      if (!addr) return undefined;
      if (cur?.addr !== addr) {
        cur?.client.close();
        cur = { addr, client: new ctor(addr, credentials.createInsecure()) };
      }
      return { addr, client: cur.client as C };
    },
    close() {
      cur?.client.close();
      cur = undefined;
    },
  } as unknown as LeaderConnection;
}

const noPerCall = (): Promise<Buffer> => Promise.reject(new Error("must not forward one call per write"));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("64 writes in flight on one stream: each gets its own answer, in whatever order the leader finishes them", async () => {
  const leader = await startLeader(async (method, request) => {
    await sleep(Math.floor(Math.random() * 20));
    return Buffer.concat([Buffer.from(`${method}:`), request]);
  });
  const fwd = new WriteForwarder(connectionTo(() => leader.addr), { deadlineMs: 10_000, perCall: noPerCall });
  try {
    const methods: WriteMethod[] = ["createService", "removeService", "createConfig", "updateNode"];
    const writes = Array.from({ length: 64 }, (_, i) => fwd.forward(methods[i % methods.length]!, Buffer.from(`req-${i}`)));
    assert.equal(fwd.inFlight, 64, "every write counts as in flight until answered (raft-node's fsync choice reads it)");
    const answers = await Promise.all(writes);
    answers.forEach((a, i) => assert.equal(a.toString(), `${methods[i % methods.length]}:req-${i}`));
    assert.equal(leader.relayed.length, 64);
    assert.equal(fwd.inFlight, 0);
  } finally {
    fwd.close();
    leader.stop();
  }
});

test("writes are taken in turn by two streams to the leader by default, one when asked", async () => {
  for (const [streams, expected] of [[undefined, 2], [1, 1], [3, 3]] as const) {
    const leader = await startLeader(async (_m, request) => request);
    const fwd = new WriteForwarder(connectionTo(() => leader.addr), { deadlineMs: 10_000, perCall: noPerCall, ...(streams ? { streams } : {}) });
    try {
      for (let i = 0; i < 6; i++) assert.equal(String(await fwd.forward("createService", Buffer.from(`w${i}`))), `w${i}`);
      assert.equal(leader.streams(), expected, `streams: ${streams ?? "default"}`);
    } finally {
      fwd.close();
      leader.stop();
    }
  }
});

test("the leader's errors keep their gRPC code and details", async () => {
  const leader = await startLeader(async (method) => {
    if (method === "createSecret") throw new SwarmError("ALREADY_EXISTS", "name conflicts with an existing object: secret s already exists");
    throw new Error("disk on fire");
  });
  const fwd = new WriteForwarder(connectionTo(() => leader.addr), { deadlineMs: 10_000, perCall: noPerCall });
  try {
    const exists = (await fwd.forward("createSecret", Buffer.alloc(0)).catch((e: unknown) => e)) as ServiceError;
    assert.equal(exists.code, status.ALREADY_EXISTS);
    assert.equal(exists.details, "name conflicts with an existing object: secret s already exists");
    const internal = (await fwd.forward("createConfig", Buffer.alloc(0)).catch((e: unknown) => e)) as ServiceError;
    assert.equal(internal.code, status.INTERNAL);
    assert.match(internal.details, /createConfig: internal error: disk on fire/);
  } finally {
    fwd.close();
    leader.stop();
  }
});

test("a leader without the stream gets each write once as a call of its own, from then on", async () => {
  const leader = await startLeader(async () => Buffer.alloc(0), { withStream: false });
  const perCall: Array<[WriteMethod, string]> = [];
  const fwd = new WriteForwarder(connectionTo(() => leader.addr), {
    deadlineMs: 10_000,
    perCall: async (method, request) => {
      perCall.push([method, request.toString()]);
      return Buffer.from(`per-call ${request.toString()}`);
    },
  });
  try {
    const first = await Promise.all([fwd.forward("createService", Buffer.from("a")), fwd.forward("removeService", Buffer.from("b"))]);
    assert.deepEqual(first.map(String), ["per-call a", "per-call b"]);
    assert.equal(String(await fwd.forward("createConfig", Buffer.from("c"))), "per-call c");
    assert.deepEqual(perCall, [["createService", "a"], ["removeService", "b"], ["createConfig", "c"]]);
  } finally {
    fwd.close();
    leader.stop();
  }
});

test("a leader without the stream is offered it again after perCallRetryMs (upgraded in place)", async () => {
  const old = await startLeader(async () => Buffer.alloc(0), { withStream: false });
  const port = Number(old.addr.split(":")[1]);
  let perCalls = 0;
  const fwd = new WriteForwarder(connectionTo(() => old.addr), {
    deadlineMs: 10_000,
    perCallRetryMs: 200,
    perCall: async () => {
      perCalls++;
      return Buffer.from("per-call");
    },
  });
  let upgraded: Leader | undefined;
  try {
    assert.equal(String(await fwd.forward("createService", Buffer.from("a"))), "per-call");
    old.stop();
    upgraded = await startLeader(async () => Buffer.from("streamed"), { port });
    // Within the retry period: still one call per write.
    assert.equal(String(await fwd.forward("createService", Buffer.from("b"))), "per-call");
    await sleep(250);
    assert.equal(String(await fwd.forward("createService", Buffer.from("c"))), "streamed");
    assert.equal(perCalls, 2);
  } finally {
    fwd.close();
    old.stop();
    upgraded?.stop();
  }
});

test("a leader lost mid-write fails the write with UNAVAILABLE; the next write goes to the new leader", async () => {
  const never = await startLeader(() => new Promise<Buffer>(() => undefined));
  const next = await startLeader(async () => Buffer.from("ok"));
  let addr = never.addr;
  const fwd = new WriteForwarder(connectionTo(() => addr), { deadlineMs: 60_000, perCall: noPerCall });
  try {
    const inFlight = fwd.forward("createService", Buffer.from("x")).catch((e: unknown) => e as ServiceError);
    while (never.relayed.length === 0) await sleep(5);
    never.stop();
    const err = await inFlight;
    assert.equal((err as ServiceError).code, status.UNAVAILABLE);
    assert.match((err as ServiceError).details, /forwarding to the leader at 127\.0\.0\.1:\d+ failed/);
    addr = next.addr;
    assert.equal(String(await fwd.forward("createService", Buffer.from("y"))), "ok");
  } finally {
    fwd.close();
    never.stop();
    next.stop();
  }
});

test("a leader change with writes in flight fails them at once instead of waiting for the old leader", async () => {
  const slow = await startLeader(() => new Promise<Buffer>(() => undefined));
  const other = await startLeader(async () => Buffer.from("ok"));
  let addr = slow.addr;
  const fwd = new WriteForwarder(connectionTo(() => addr), { deadlineMs: 60_000, perCall: noPerCall });
  try {
    const inFlight = fwd.forward("updateService", Buffer.from("x")).then(() => assert.fail("must fail"), (e: unknown) => e as ServiceError);
    while (slow.relayed.length === 0) await sleep(5);
    addr = other.addr;
    assert.equal(String(await fwd.forward("updateService", Buffer.from("y"))), "ok");
    const err = await inFlight;
    assert.equal(err.code, status.UNAVAILABLE);
    assert.match(err.details, /the leader changed from 127\.0\.0\.1:\d+ while the write was in flight/);
  } finally {
    fwd.close();
    slow.stop();
    other.stop();
  }
});

test("a write the leader does not answer fails with DEADLINE_EXCEEDED; close() fails the rest and refuses new ones", async () => {
  const leader = await startLeader(() => new Promise<Buffer>(() => undefined));
  const fwd = new WriteForwarder(connectionTo(() => leader.addr), { deadlineMs: 300, perCall: noPerCall });
  try {
    const t0 = Date.now();
    const err = (await fwd.forward("createNetwork", Buffer.alloc(0)).catch((e: unknown) => e)) as ServiceError;
    assert.equal(err.code, status.DEADLINE_EXCEEDED);
    assert.match(err.details, /did not answer the forwarded createNetwork within 300 ms/);
    assert.ok(Date.now() - t0 < 5000);
    const pending = fwd.forward("removeNetwork", Buffer.alloc(0)).then(() => assert.fail("must fail"), (e: unknown) => e as ServiceError);
    fwd.close();
    assert.equal((await pending).code, status.UNAVAILABLE);
    await assert.rejects(fwd.forward("removeNetwork", Buffer.alloc(0)), /stopping/);
    assert.equal(fwd.inFlight, 0, "failed writes are no longer in flight");
  } finally {
    fwd.close();
    leader.stop();
  }
});

test("no leader: UNAVAILABLE at once, nothing sent", async () => {
  const fwd = new WriteForwarder(connectionTo(() => undefined), { deadlineMs: 1000, perCall: noPerCall });
  await assert.rejects(fwd.forward("createService", Buffer.alloc(0)), (e: SwarmError) => e.code === "UNAVAILABLE");
  assert.equal(fwd.inFlight, 0);
  fwd.close();
});

test("leader side: an unknown method and a refused caller are answered per write; a half-closed stream ends once all are answered", async () => {
  let refuse = false;
  const leader = await startLeader(
    async (_m, request) => {
      await sleep(30);
      return request;
    },
    { refusal: () => (refuse ? "Permission denied: node n1 was removed from swarm" : undefined) },
  );
  const client = new ControlForwarderClient(leader.addr, credentials.createInsecure()) as unknown as ControlForwarderClient;
  try {
    const call = client.forward();
    const results: ForwardedResult[] = [];
    const batches: number[] = [];
    call.on("data", (b: ForwardedResults) => {
      batches.push(b.results.length);
      results.push(...b.results);
    });
    const ended = new Promise<void>((resolve, reject) => {
      call.on("end", resolve);
      call.on("error", reject);
    });
    call.write({
      writes: [
        { id: 1, method: ControlService.createService.path, request: Buffer.from("one") },
        { id: 2, method: ControlService.listServices.path, request: Buffer.alloc(0) },
        { id: 3, method: "/docker.swarmkit.v1.Control/Nope", request: Buffer.alloc(0) },
      ],
    });
    while (results.length < 2) await sleep(5);
    refuse = true;
    call.write({ writes: [{ id: 4, method: ControlService.createConfig.path, request: Buffer.from("four") }] });
    while (!results.some((r) => r.id === 4)) await sleep(5);
    refuse = false;
    call.write({ writes: [{ id: 5, method: ControlService.removeConfig.path, request: Buffer.from("five") }] });
    call.end();
    await ended;
    const byId = new Map(results.map((r) => [r.id, r]));
    assert.equal(byId.size, 5);
    assert.equal(byId.get(1)!.code, status.OK);
    assert.equal(Buffer.from(byId.get(1)!.response).toString(), "one");
    // Reads are never relayed: only Control's writes are.
    assert.equal(byId.get(2)!.code, status.UNIMPLEMENTED);
    assert.equal(byId.get(3)!.code, status.UNIMPLEMENTED);
    assert.equal(byId.get(4)!.code, status.PERMISSION_DENIED);
    assert.match(byId.get(4)!.details, /was removed from swarm/);
    assert.equal(Buffer.from(byId.get(5)!.response).toString(), "five");
    assert.deepEqual(leader.relayed.map((r) => r.method), ["createService", "removeConfig"]);
    assert.equal(batches.reduce((a, b) => a + b, 0), 5, "every write answered exactly once");
  } finally {
    client.close();
    leader.stop();
  }
});

test("large writes in flight travel in messages the leader takes; one near 4 MiB goes as a call of its own", async () => {
  // Both ends keep grpc-js's default 4 MiB receive limit, as the remote API does.
  const leader = await startLeader(async (_m, request) => request);
  const perCall: Array<{ method: WriteMethod; bytes: number }> = [];
  const fwd = new WriteForwarder(connectionTo(() => leader.addr), {
    deadlineMs: 10_000,
    perCall: async (method, request) => {
      perCall.push({ method, bytes: request.length });
      return request.subarray(0, 4);
    },
  });
  try {
    // Eight 1.2 MB requests at once, four per stream: a batch would pass 4 MiB.
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => fwd.forward("createConfig", Buffer.alloc(1_200_000, i))));
    answers.forEach((a, i) => {
      assert.equal(a.length, 1_200_000);
      assert.equal(a[0], i);
    });
    assert.equal(leader.relayed.length, 8);
    const near = await fwd.forward("createConfig", Buffer.alloc(4 * 1024 * 1024 - 20));
    assert.equal(near.length, 4);
    assert.deepEqual(perCall, [{ method: "createConfig", bytes: 4 * 1024 * 1024 - 20 }]);
  } finally {
    fwd.close();
    leader.stop();
  }
});
