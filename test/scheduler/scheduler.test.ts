import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { Task } from "../../src/shared/api/index.js";
import { newId } from "../../src/shared/ids.js";
import { Scheduler } from "../../src/workers/manager/scheduler/index.js";
import { parseConstraints, nodeMatches } from "../../src/shared/constraints.js";
import {
  NodeRole,
  NodeSpec_Availability,
  NodeStatus_State,
  TaskState,
  makeNode,
  makeService,
  newEnv,
  setNode,
  until,
  type Env,
} from "../orchestrator/helpers.js";
import type { Service } from "../../src/shared/api/index.js";

let sched: Scheduler | undefined;
afterEach(async () => {
  await sched?.stop();
  sched = undefined;
});

function start(env: Env): Scheduler {
  sched = new Scheduler(env.store, env.proposer, { debounceMs: 5, maxLatencyMs: 50 });
  sched.start();
  return sched;
}

function pendingTasks(svc: Service, n: number, nodeId = ""): Task[] {
  return Array.from({ length: n }, (_, i) =>
    Task.fromPartial({
      id: newId(),
      serviceId: svc.id,
      slot: nodeId ? 0 : i + 1,
      nodeId,
      spec: svc.spec!.task,
      specVersion: { index: 0 },
      desiredState: TaskState.RUNNING,
      status: { state: TaskState.PENDING, message: "pending task scheduling" },
    }),
  );
}

async function addTasks(env: Env, tasks: Task[]): Promise<void> {
  await env.write((tx) => {
    for (const t of tasks) tx.create("task", t);
  });
}

const tasksOf = (env: Env, svc: Service) => env.store.find("task", { serviceIds: [svc.id] });
const assignedCount = (env: Env, svc: Service) => tasksOf(env, svc).filter((t) => t.status?.state === TaskState.ASSIGNED).length;
function perNode(env: Env, svc: Service): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of tasksOf(env, svc)) if (t.nodeId) out[t.nodeId] = (out[t.nodeId] ?? 0) + 1;
  return out;
}
async function errOf(env: Env, svc: Service): Promise<string> {
  return until("a pending explanation", () => tasksOf(env, svc).find((t) => t.status?.err)?.status?.err);
}

describe("scheduler", () => {
  it("spreads 6 replicas over 3 nodes 2-2-2 with SwarmKit's message", async () => {
    const env = newEnv();
    await env.write((tx) => ["a", "b", "c"].forEach((id) => tx.create("node", makeNode(id))));
    start(env);
    const svc = makeService("web", { replicas: 6 });
    await addTasks(env, pendingTasks(svc, 6));
    await until("6 assigned", () => assignedCount(env, svc) === 6);
    assert.deepEqual(perNode(env, svc), { a: 2, b: 2, c: 2 });
    for (const t of tasksOf(env, svc)) assert.equal(t.status?.message, "scheduler assigned task to node");
  });

  it("spreads by this service's tasks first, then by total tasks", async () => {
    const env = newEnv();
    await env.write((tx) => ["a", "b", "c"].forEach((id) => tx.create("node", makeNode(id))));
    start(env);
    const busy = makeService("busy", { replicas: 2 });
    // Two tasks of another service already on node a.
    await addTasks(env, pendingTasks(busy, 2).map((t) => ({ ...t, nodeId: "a", status: { ...t.status!, state: TaskState.RUNNING } })));
    const svc = makeService("web", { replicas: 2 });
    await addTasks(env, pendingTasks(svc, 2));
    await until("2 assigned", () => assignedCount(env, svc) === 2);
    assert.deepEqual(perNode(env, svc), { b: 1, c: 1 });
    const more = pendingTasks(svc, 3).map((t, i) => ({ ...t, slot: 3 + i }));
    await addTasks(env, more);
    await until("5 assigned", () => assignedCount(env, svc) === 5);
    // a had the fewest tasks of this service: it gets one; then b and c.
    assert.deepEqual(perNode(env, svc), { a: 1, b: 2, c: 2 });
  });

  it("only READY and ACTIVE nodes get tasks", async () => {
    const env = newEnv();
    await env.write((tx) => {
      tx.create("node", makeNode("ready"));
      tx.create("node", makeNode("down", { state: NodeStatus_State.DOWN }));
      tx.create("node", makeNode("unknown", { state: NodeStatus_State.UNKNOWN }));
      tx.create("node", makeNode("paused", { availability: NodeSpec_Availability.PAUSE }));
      tx.create("node", makeNode("drained", { availability: NodeSpec_Availability.DRAIN }));
    });
    start(env);
    const svc = makeService("web", { replicas: 5 });
    await addTasks(env, pendingTasks(svc, 5));
    await until("5 assigned", () => assignedCount(env, svc) === 5);
    assert.deepEqual(perNode(env, svc), { ready: 5 });
  });

  it("no node: tasks stay pending with a message, then run when a node arrives", async () => {
    const env = newEnv();
    start(env);
    const svc = makeService("web", { replicas: 2 });
    await addTasks(env, pendingTasks(svc, 2));
    assert.equal(await errOf(env, svc), "no suitable node (no nodes in the cluster)");
    assert.ok(tasksOf(env, svc).every((t) => t.status?.state === TaskState.PENDING));
    await env.write((tx) => tx.create("node", makeNode("late", { state: NodeStatus_State.DOWN })));
    await until("explained", () => tasksOf(env, svc).every((t) => t.status?.err === "no suitable node (1 node not available for new tasks)"));
    await setNode(env, "late", (n) => ({ ...n, status: { ...n.status!, state: NodeStatus_State.READY } }));
    await until("assigned", () => assignedCount(env, svc) === 2);
    assert.ok(tasksOf(env, svc).every((t) => t.status?.err === ""));
  });

  it("explains several reasons, most frequent first", async () => {
    const env = newEnv();
    await env.write((tx) => {
      for (const id of ["m1", "m2", "m3"]) tx.create("node", makeNode(id, { memoryBytes: 2 ** 30 }));
      tx.create("node", makeNode("d1", { state: NodeStatus_State.DOWN }));
      tx.create("node", makeNode("d2", { availability: NodeSpec_Availability.DRAIN }));
    });
    start(env);
    const svc = makeService("big", { replicas: 1, reserveMemory: 4 * 2 ** 30 });
    await addTasks(env, pendingTasks(svc, 1));
    assert.equal(await errOf(env, svc), "no suitable node (insufficient memory on 3 nodes; 2 nodes not available for new tasks)");
  });

  it("reservations are subtracted per placement", async () => {
    const env = newEnv();
    await env.write((tx) => {
      tx.create("node", makeNode("small", { memoryBytes: 2 * 2 ** 30, nanoCpus: 8e9 }));
      tx.create("node", makeNode("large", { memoryBytes: 5 * 2 ** 30, nanoCpus: 8e9 }));
    });
    start(env);
    const svc = makeService("mem", { replicas: 8, reserveMemory: 2 ** 30, reserveCpu: 1e9 });
    await addTasks(env, pendingTasks(svc, 8));
    await until("7 assigned", () => assignedCount(env, svc) === 7);
    assert.deepEqual(perNode(env, svc), { small: 2, large: 5 });
    const err = await errOf(env, svc);
    assert.equal(err, "no suitable node (insufficient memory on 2 nodes)");
    // A finished task frees its reservation.
    const done = tasksOf(env, svc).find((t) => t.nodeId === "small")!;
    await env.write((tx) => tx.update("task", { ...tx.get("task", done.id)!, status: { ...done.status!, state: TaskState.FAILED } }));
    await until("8th assigned", () => tasksOf(env, svc).filter((t) => t.status?.state === TaskState.ASSIGNED).length === 7 && tasksOf(env, svc).every((t) => t.status?.state !== TaskState.PENDING));
  });

  it("placement constraints: node.id, hostname, role, platform, labels, engine labels", async () => {
    const env = newEnv();
    await env.write((tx) => {
      tx.create("node", makeNode("w1", { labels: { zone: "East" }, engineLabels: { disk: "ssd" }, hostname: "alpha" }));
      tx.create("node", makeNode("w2", { labels: { zone: "west" }, arch: "aarch64" }));
      tx.create("node", makeNode("m1", { role: NodeRole.MANAGER, labels: { zone: "east" } }));
    });
    start(env);
    const cases: Array<[string[], Record<string, number> | string]> = [
      [["node.labels.zone==east"], { w1: 2, m1: 2 }],
      [["node.labels.zone==east", "node.role!=manager"], { w1: 4 }],
      [["node.role==manager"], { m1: 4 }],
      [["engine.labels.disk==SSD"], { w1: 4 }],
      [["node.hostname==alpha"], { w1: 4 }],
      [["node.id!=w1", "node.platform.arch==x86_64"], { m1: 4 }],
      [["node.labels.missing!=x"], { w1: 2, w2: 1, m1: 1 }],
      [["node.labels.zone==north"], "no suitable node (scheduling constraints not satisfied on 3 nodes)"],
    ];
    for (const [constraints, want] of cases) {
      const svc = makeService(`c${constraints.join()}`, { replicas: 4, constraints });
      await addTasks(env, pendingTasks(svc, 4));
      if (typeof want === "string") {
        assert.equal(await errOf(env, svc), want, constraints.join(" "));
      } else {
        await until(`assigned ${constraints}`, () => assignedCount(env, svc) === 4);
        const got = perNode(env, svc);
        // Exact spread depends on the other services' totals; check the node set and the count.
        assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort(), constraints.join(" "));
      }
    }
  });

  it("constraint matching rules", () => {
    const n = makeNode("abc", { labels: { Env: "Prod" } });
    const m = (c: string) => nodeMatches(parseConstraints([c]), { ...n, status: { ...n.status!, addr: "10.1.2.3" } });
    assert.equal(m("node.labels.Env==prod"), true, "values compare case-insensitively");
    assert.equal(m("node.labels.env==prod"), false, "label names are case-sensitive");
    assert.equal(m("NODE.ID==abc"), true, "keys are case-insensitive");
    assert.equal(m("node.ip==10.1.0.0/16"), true);
    assert.equal(m("node.ip!=10.2.0.0/16"), true);
    assert.equal(m("node.ip==10.1.2.3"), true);
    assert.equal(m("node.unknown==x"), false);
    assert.throws(() => parseConstraints(["node.id=x"]));
  });

  it("max replicas per node", async () => {
    const env = newEnv();
    await env.write((tx) => ["a", "b"].forEach((id) => tx.create("node", makeNode(id))));
    start(env);
    const svc = makeService("capped", { replicas: 5, maxReplicas: 2 });
    await addTasks(env, pendingTasks(svc, 5));
    await until("4 assigned", () => assignedCount(env, svc) === 4);
    assert.deepEqual(perNode(env, svc), { a: 2, b: 2 });
    assert.equal(await errOf(env, svc), "no suitable node (max replicas per node limit exceeded on 2 nodes)");
  });

  it("preassigned (global) tasks: confirmed when the node fits, explained when not", async () => {
    const env = newEnv();
    await env.write((tx) => {
      tx.create("node", makeNode("ok"));
      tx.create("node", makeNode("drained", { availability: NodeSpec_Availability.DRAIN }));
    });
    start(env);
    const svc = makeService("g", { global: true });
    await addTasks(env, [...pendingTasks(svc, 1, "ok"), ...pendingTasks(svc, 1, "drained")]);
    await until("ok assigned", () => tasksOf(env, svc).some((t) => t.nodeId === "ok" && t.status?.state === TaskState.ASSIGNED));
    const ok = tasksOf(env, svc).find((t) => t.nodeId === "ok")!;
    assert.equal(ok.status?.message, "scheduler confirmed task can run on preassigned node");
    assert.equal(await errOf(env, svc), "no suitable node (1 node not available for new tasks)");
  });

  it("a pass that loses a race to another writer leaves the task to the next pass", async () => {
    const env = newEnv();
    await env.write((tx) => tx.create("node", makeNode("a")));
    const svc = makeService("web", { replicas: 1 });
    const [t] = pendingTasks(svc, 1);
    await addTasks(env, [t!]);
    const s = start(env);
    await until("assigned", () => assignedCount(env, svc) === 1);
    // The task is shut down meanwhile: nothing to assign, and the cache frees the node.
    await env.write((tx) => tx.update("task", { ...tx.get("task", t!.id)!, status: { ...t!.status!, state: TaskState.SHUTDOWN } }));
    await until("queue empty", () => s.queued === 0);
  });
});
