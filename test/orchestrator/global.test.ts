// The global orchestrator: one task per eligible node, following joins,
// drains, pauses, DOWN nodes, removals and label changes; restarts on the
// same node; rolling updates node by node. MemoryStore + InMemoryProposer,
// a fake agent, short injected delays.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { UpdateStatus_UpdateState, durationFromMillis, type Task } from "../../src/shared/api/index.js";
import { createOrchestration, type LeaderOnly } from "../../src/workers/manager/orchestrator/index.js";
import { PREASSIGNED_MESSAGE } from "../../src/workers/manager/scheduler/index.js";
import { FakeAgent } from "./fake-agent.js";
import {
  NodeSpec_Availability,
  NodeStatus_State,
  TaskState,
  argsOf,
  makeNode,
  makeService,
  newEnv,
  setNode,
  sleep,
  until,
  updateServiceSpec,
  withArgs,
  type Env,
} from "./helpers.js";

let running: LeaderOnly[] = [];
let agent: FakeAgent | undefined;

async function startAll(env: Env, fails?: (t: Task) => boolean): Promise<void> {
  running = createOrchestration(env.store, env.proposer, {
    restart: { defaultDelayMs: 20, oldTaskTimeoutMs: 2000 },
    reaper: { batchingIntervalMs: 10 },
    scheduler: { debounceMs: 2, maxLatencyMs: 20 },
  });
  for (const c of running) await c.start();
  agent = new FakeAgent(env, { startMs: 10, ...(fails ? { fails } : {}) }).start();
}

afterEach(async () => {
  agent?.stop();
  agent = undefined;
  for (const c of [...running].reverse()) await c.stop();
  running = [];
});

/** Node IDs holding a runnable task of the service, sorted. */
function nodesOf(env: Env, sid: string): string[] {
  return env.store
    .find("task", { serviceIds: [sid] })
    .filter((t) => t.desiredState <= TaskState.RUNNING)
    .map((t) => t.nodeId)
    .sort();
}

function liveOn(env: Env, sid: string): string[] {
  return env.store
    .find("task", { serviceIds: [sid] })
    .filter((t) => t.desiredState === TaskState.RUNNING && t.status?.state === TaskState.RUNNING)
    .map((t) => t.nodeId)
    .sort();
}

const same = (a: string[], b: string[]) => JSON.stringify(a) === JSON.stringify(b);

describe("global orchestrator", () => {
  it("runs one task per eligible node, slot 0 with its node, confirmed by the scheduler", async () => {
    const env = newEnv();
    await startAll(env);
    await env.write((tx) => {
      tx.create("node", makeNode("a"));
      tx.create("node", makeNode("b"));
      tx.create("node", makeNode("c"));
      tx.create("node", makeNode("down", { state: NodeStatus_State.DOWN }));
      tx.create("node", makeNode("drained", { availability: NodeSpec_Availability.DRAIN }));
    });
    const svc = makeService("agent", { global: true });
    await env.write((tx) => tx.create("service", svc));
    await until("a task on a, b, c running", () => same(liveOn(env, svc.id), ["a", "b", "c"]));
    await sleep(50);
    const tasks = env.store.find("task", { serviceIds: [svc.id] });
    assert.equal(tasks.length, 3, "nothing on the DOWN or drained node");
    for (const t of tasks) assert.equal(t.slot, 0);
    // Every task went through the scheduler's preassigned confirmation.
    const fresh = makeService("probe", { global: true });
    await env.write((tx) => tx.create("service", fresh));
    agent!.stop();
    const assigned = await until("assigned", () => {
      const ts = env.store.find("task", { serviceIds: [fresh.id] });
      return ts.length === 3 && ts.every((t) => t.status?.state === TaskState.ASSIGNED) && ts;
    });
    assert.ok(assigned.every((t) => t.status?.message === PREASSIGNED_MESSAGE));
  });

  it("follows joins, drains, reactivation, pause and removal of nodes", async () => {
    const env = newEnv();
    await startAll(env);
    await env.write((tx) => {
      tx.create("node", makeNode("a"));
      tx.create("node", makeNode("b"));
    });
    const svc = makeService("agent", { global: true });
    await env.write((tx) => tx.create("service", svc));
    await until("a, b", () => same(liveOn(env, svc.id), ["a", "b"]));

    await env.write((tx) => tx.create("node", makeNode("c")));
    await until("a new node gets its task", () => same(liveOn(env, svc.id), ["a", "b", "c"]));

    const drained = env.store.find("task", { serviceIds: [svc.id], nodeIds: ["b"] })[0]!;
    await setNode(env, "b", (n) => ({ ...n, spec: { ...n.spec!, availability: NodeSpec_Availability.DRAIN } }));
    await until("drain removes the node's task", () => same(nodesOf(env, svc.id), ["a", "c"]));
    await until("and it stops", () => env.store.get("task", drained.id)?.status?.state === TaskState.SHUTDOWN);
    await sleep(50);
    assert.ok(same(nodesOf(env, svc.id), ["a", "c"]), "no replacement on a drained node");

    await setNode(env, "b", (n) => ({ ...n, spec: { ...n.spec!, availability: NodeSpec_Availability.ACTIVE } }));
    await until("reactivated node gets a task again", () => same(liveOn(env, svc.id), ["a", "b", "c"]));

    // Pause: existing tasks stay, a new service does not land there.
    await setNode(env, "c", (n) => ({ ...n, spec: { ...n.spec!, availability: NodeSpec_Availability.PAUSE } }));
    const other = makeService("other", { global: true });
    await env.write((tx) => tx.create("service", other));
    await until("other on a, b", () => same(liveOn(env, other.id), ["a", "b"]));
    await sleep(50);
    assert.ok(same(nodesOf(env, other.id), ["a", "b"]), "nothing new on the paused node");
    assert.ok(same(liveOn(env, svc.id), ["a", "b", "c"]), "the paused node keeps its task");

    // DOWN: shut down, no replacement; back READY: a new task.
    await setNode(env, "a", (n) => ({ ...n, status: { ...n.status!, state: NodeStatus_State.DOWN } }));
    await until("a's task shut down", () => same(nodesOf(env, svc.id), ["b", "c"]));
    await setNode(env, "a", (n) => ({ ...n, status: { ...n.status!, state: NodeStatus_State.READY } }));
    await until("a back", () => same(liveOn(env, svc.id), ["a", "b", "c"]));

    // Removed node: its tasks are deleted.
    await env.write((tx) => tx.delete("node", "b"));
    await until("b's tasks gone", () => env.store.find("task", { nodeIds: ["b"] }).filter((t) => t.serviceId === svc.id).length === 0);
    assert.ok(same(nodesOf(env, svc.id), ["a", "c"]));
  });

  it("honours placement constraints, following node label changes", async () => {
    const env = newEnv();
    await startAll(env);
    await env.write((tx) => {
      tx.create("node", makeNode("a", { labels: { zone: "x" } }));
      tx.create("node", makeNode("b", { labels: { zone: "y" } }));
      tx.create("node", makeNode("c", { labels: { zone: "x" } }));
    });
    const svc = makeService("agent", { global: true, constraints: ["node.labels.zone==x"] });
    await env.write((tx) => tx.create("service", svc));
    await until("a, c", () => same(liveOn(env, svc.id), ["a", "c"]));
    await setNode(env, "b", (n) => ({ ...n, spec: { ...n.spec!, annotations: { ...n.spec!.annotations!, labels: { zone: "x" } } } }));
    await until("b now matches", () => same(liveOn(env, svc.id), ["a", "b", "c"]));
    await setNode(env, "a", (n) => ({ ...n, spec: { ...n.spec!, annotations: { ...n.spec!.annotations!, labels: { zone: "z" } } } }));
    await until("a no longer matches", () => same(nodesOf(env, svc.id), ["b", "c"]));
  });

  it("restarts a failed task on the same node", async () => {
    const env = newEnv();
    await startAll(env);
    await env.write((tx) => {
      tx.create("node", makeNode("a"));
      tx.create("node", makeNode("b"));
    });
    const svc = makeService("agent", { global: true, restart: { delayMs: 10 } });
    await env.write((tx) => tx.create("service", svc));
    await until("a, b", () => same(liveOn(env, svc.id), ["a", "b"]));
    const victim = env.store.find("task", { serviceIds: [svc.id], nodeIds: ["a"] })[0]!;
    await env.write((tx) => {
      const t = tx.get("task", victim.id)!;
      tx.update("task", { ...t, status: { ...t.status!, state: TaskState.FAILED } });
    });
    const repl = await until("a replacement on a", () =>
      env.store.find("task", { serviceIds: [svc.id], nodeIds: ["a"] }).find((t) => t.id !== victim.id && t.status?.state === TaskState.RUNNING),
    );
    assert.equal(repl.slot, 0);
    assert.equal(env.store.get("task", victim.id)?.desiredState, TaskState.SHUTDOWN);
    assert.ok(same(nodesOf(env, svc.id), ["a", "b"]));
  });

  it("rolls a spec change out node by node, and removes all tasks with the service", async () => {
    const env = newEnv();
    await startAll(env);
    await env.write((tx) => {
      for (const id of ["a", "b", "c"]) tx.create("node", makeNode(id));
    });
    const svc = makeService("agent", { global: true, update: { parallelism: 1, monitor: durationFromMillis(100) } });
    await env.write((tx) => tx.create("service", svc));
    await until("3 running", () => liveOn(env, svc.id).length === 3);
    await updateServiceSpec(env, svc.id, (s) => withArgs(s, ["2000"]));
    await until("update completed", () => env.store.get("service", svc.id)?.updateStatus?.state === UpdateStatus_UpdateState.COMPLETED, 15_000);
    const live = env.store.find("task", { serviceIds: [svc.id] }).filter((t) => t.desiredState === TaskState.RUNNING);
    assert.deepEqual(live.map((t) => t.nodeId).sort(), ["a", "b", "c"]);
    assert.ok(live.every((t) => argsOf(t)[0] === "2000" && t.slot === 0));

    await env.write((tx) => tx.delete("service", svc.id));
    await until("every task desired REMOVE or gone", () =>
      env.store.find("task", { serviceIds: [svc.id] }).every((t) => t.desiredState === TaskState.REMOVE),
    );
    await until("reaped", () => env.store.find("task", { serviceIds: [svc.id] }).length === 0);
  });
});
