// The comlink wrapper: calls settle even when the peer dies or stalls, and
// errors keep their class name and code across the port.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MessageChannel, Worker } from "node:worker_threads";
import { connectApi, exposeApi } from "../../src/shared/channel/index.js";
import { SwarmError } from "../../src/shared/errors.js";

interface TestApi {
  add(a: number, b: number): number;
  slowAdd(a: number, b: number): Promise<number>;
  never(): Promise<void>;
  failCoded(): void;
  failRange(): void;
  failPlain(): void;
}

function makeApi(): TestApi {
  return {
    add: (a, b) => a + b,
    slowAdd: async (a, b) => {
      await new Promise((r) => setTimeout(r, 20));
      return a + b;
    },
    never: () => new Promise<void>(() => undefined),
    failCoded: () => {
      throw new SwarmError("NOT_FOUND", "no such node: n1");
    },
    failRange: () => {
      throw Object.assign(new RangeError("too big"), { code: "E_TOO_BIG" });
    },
    failPlain: () => {
      throw new Error("plain failure");
    },
  };
}

function pair(timeoutMs = 5000) {
  const { port1, port2 } = new MessageChannel();
  exposeApi(makeApi(), port1);
  const conn = connectApi<TestApi>(port2, { peer: "test", timeoutMs, methodTimeoutsMs: { never: 100 } });
  return { port1, port2, conn };
}

test("calls return values, sync and async", async () => {
  const { conn } = pair();
  assert.equal(await conn.api.add(2, 3), 5);
  assert.equal(await conn.api.slowAdd(4, 5), 9);
  conn.close();
});

test("a SwarmError arrives as a SwarmError with its code", async () => {
  const { conn } = pair();
  await assert.rejects(conn.api.failCoded(), (err: unknown) => {
    assert.ok(err instanceof SwarmError, "class is restored");
    assert.equal(err.code, "NOT_FOUND");
    assert.equal(err.message, "no such node: n1");
    return true;
  });
  conn.close();
});

test("other errors keep their name and code", async () => {
  const { conn } = pair();
  await assert.rejects(conn.api.failRange(), (err: Error & { code?: string }) => {
    assert.equal(err.name, "RangeError");
    assert.equal(err.code, "E_TOO_BIG");
    assert.equal(err.message, "too big");
    return true;
  });
  await assert.rejects(conn.api.failPlain(), { name: "Error", message: "plain failure" });
  conn.close();
});

test("a call past its deadline rejects with DEADLINE_EXCEEDED", async () => {
  const { conn } = pair();
  await assert.rejects(conn.api.never(), (err: SwarmError) => {
    assert.equal(err.code, "DEADLINE_EXCEEDED");
    assert.match(err.message, /test\.never\(\) did not answer within 100 ms/);
    return true;
  });
  conn.close();
});

test("pending calls reject when the exposing side closes its port", async () => {
  const { port1, conn } = pair(60_000);
  const pending = conn.api.slowAdd(1, 1).then(() => "resolved", (e: SwarmError) => e.code);
  const hanging = conn.api.never().then(() => "resolved", (e: SwarmError) => e.code);
  port1.close();
  assert.equal(await hanging, "UNAVAILABLE");
  assert.ok(["UNAVAILABLE", "resolved"].includes(await pending));
  await conn.closed;
  assert.equal(conn.isClosed(), true);
  await assert.rejects(conn.api.add(1, 2), { code: "UNAVAILABLE" });
});

test("pending calls reject when the exposing thread dies", async () => {
  const { port1, port2 } = new MessageChannel();
  const channelUrl = new URL("../../src/shared/channel/index.js", import.meta.url).href;
  // The worker exposes a method that never answers, then exits on command.
  const worker = new Worker(
    `const { workerData } = require("node:worker_threads");
     import(workerData.channelUrl).then(({ exposeApi }) => {
       exposeApi({ never: () => new Promise(() => {}), die: () => { setTimeout(() => process.exit(3), 10); } }, workerData.port);
     });`,
    { eval: true, workerData: { port: port1, channelUrl }, transferList: [port1] },
  );
  const exitCode = new Promise((r) => worker.once("exit", r));
  const conn = connectApi<{ never(): Promise<void>; die(): void }>(port2, { peer: "doomed", timeoutMs: 60_000 });
  const hanging = conn.api.never();
  await conn.api.die();
  await assert.rejects(hanging, (err: SwarmError) => {
    assert.equal(err.code, "UNAVAILABLE");
    assert.match(err.message, /channel to doomed closed/);
    return true;
  });
  assert.equal(await exitCode, 3);
});
