// The role flag: generations, waiting without blocking, and cross-thread wake-ups.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { RoleFlag } from "../../src/shared/role-flag.js";

test("starts at generation 0 with the given role; set() bumps the generation", () => {
  const flag = RoleFlag.create("worker");
  assert.deepEqual(flag.read(), { role: "worker", generation: 0 });
  assert.equal(flag.set("manager"), 1);
  assert.deepEqual(flag.read(), { role: "manager", generation: 1 });
  assert.equal(flag.set("manager"), 2, "setting the same role is still a new generation");
  const view = RoleFlag.attach(flag.buffer);
  assert.deepEqual(view.read(), { role: "manager", generation: 2 });
});

test("waitForChange resolves on a change and keeps the event loop running meanwhile", async () => {
  const flag = RoleFlag.create("worker");
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const waiting = flag.waitForChange(0);
  setTimeout(() => flag.set("manager"), 60);
  assert.deepEqual(await waiting, { role: "manager", generation: 1 });
  clearInterval(timer);
  assert.ok(ticks >= 1, `timers kept running while waiting (ticks=${ticks})`);
});

test("waitForChange returns at once when the generation already moved", async () => {
  const flag = RoleFlag.create("worker");
  flag.set("manager");
  assert.deepEqual(await flag.waitForChange(0), { role: "manager", generation: 1 });
});

test("an abort signal ends the wait without a change", async () => {
  const flag = RoleFlag.create("worker");
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 20);
  assert.deepEqual(await flag.waitForChange(0, ac.signal), { role: "worker", generation: 0 });
});

test("a worker thread wakes on main's writes, promote then demote", async () => {
  const flag = RoleFlag.create("worker");
  const roleFlagUrl = new URL("../../src/shared/role-flag.js", import.meta.url).href;
  const worker = new Worker(
    `const { workerData, parentPort } = require("node:worker_threads");
     import(workerData.roleFlagUrl).then(async ({ RoleFlag }) => {
       const flag = RoleFlag.attach(workerData.buffer);
       let seen = 0;
       // A pending waitAsync does not keep a thread alive; this does.
       const keepAlive = setInterval(() => {}, 1000);
       parentPort.postMessage("waiting");
       for (let i = 0; i < 2; i++) {
         const s = await flag.waitForChange(seen);
         seen = s.generation;
         parentPort.postMessage(s);
       }
       clearInterval(keepAlive);
     });`,
    { eval: true, workerData: { buffer: flag.buffer, roleFlagUrl } },
  );
  const messages: unknown[] = [];
  const next = () => new Promise((r) => worker.once("message", (m) => { messages.push(m); r(m); }));
  assert.equal(await next(), "waiting");
  const first = next();
  flag.set("manager");
  assert.deepEqual(await first, { role: "manager", generation: 1 });
  const second = next();
  flag.set("worker");
  assert.deepEqual(await second, { role: "worker", generation: 2 });
  await worker.terminate();
});
