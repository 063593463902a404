// Scheduler depth (issue 8 part 4): generic resources, host-mode ports,
// spread preferences over labels, the failure penalty, rescheduling when a
// node changes, and per-reason pending messages.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { PortConfig_PublishMode, ResourceRequirements, Task, type Service } from "../../src/shared/api/index.js";
import { newId } from "../../src/shared/ids.js";
import { Scheduler } from "../../src/workers/manager/scheduler/index.js";
import { NodeInfo } from "../../src/workers/manager/scheduler/node-info.js";
import { makeNode, makeService, newEnv, TaskState, until, type Env } from "../orchestrator/helpers.js";

let sched: Scheduler | undefined;
afterEach(async () => {
  await sched?.stop();
  sched = undefined;
});

function start(env: Env, now?: () => Date): Scheduler {
  sched = new Scheduler(env.store, env.proposer, { debounceMs: 5, maxLatencyMs: 50, ...(now ? { now } : {}) });
  sched.start();
  return sched;
}

function pending(svc: Service, n: number, extra: Partial<Task> = {}): Task[] {
  return Array.from({ length: n }, (_, i) =>
    Task.fromPartial({
      id: newId(),
      serviceId: svc.id,
      slot: i + 1,
      spec: svc.spec!.task,
      specVersion: { index: 0 },
      desiredState: TaskState.RUNNING,
      status: { state: TaskState.PENDING, message: "pending task scheduling" },
      ...extra,
    }),
  );
}

const tasksOf = (env: Env, svc: Service) => env.store.find("task", { serviceIds: [svc.id] });
const assigned = (env: Env, svc: Service) => tasksOf(env, svc).filter((t) => t.status?.state === TaskState.ASSIGNED);
function perNode(env: Env, svc: Service): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of assigned(env, svc)) out[t.nodeId] = (out[t.nodeId] ?? 0) + 1;
  return out;
}
const errOf = (env: Env, svc: Service) => until("a pending explanation", () => tasksOf(env, svc).find((t) => t.status?.err)?.status?.err);

function withGeneric(id: string, generic: Array<[string, string | number]>) {
  const n = makeNode(id);
  return {
    ...n,
    description: {
      ...n.description!,
      resources: {
        ...n.description!.resources!,
        generic: generic.map(([kind, v]) =>
          typeof v === "number"
            ? { resource: { $case: "discreteResourceSpec" as const, value: { kind, value: v } } }
            : { resource: { $case: "namedResourceSpec" as const, value: { kind, value: v } } },
        ),
      },
    },
  };
}

describe("scheduler depth", () => {
  it("generic resources: discrete and named units are reserved, assigned, and explained when short", async () => {
    const env = newEnv();
    await env.write((tx) => {
      tx.create("node", withGeneric("a", [["gpu", "uuid-1"], ["gpu", "uuid-2"]]));
      tx.create("node", withGeneric("b", [["ssd", 1]]));
      tx.create("node", makeNode("c"));
    });
    start(env);
    const svc = makeService("gpu");
    svc.spec!.task!.resources = ResourceRequirements.fromPartial({ reservations: { generic: [{ resource: { $case: "discreteResourceSpec", value: { kind: "gpu", value: 1 } } }] } });
    await env.write((tx) => pending(svc, 3).forEach((t) => tx.create("task", t)));
    await until("2 assigned", () => assigned(env, svc).length === 2);
    assert.deepEqual(perNode(env, svc), { a: 2 });
    const claimed = assigned(env, svc).flatMap((t) => t.assignedGenericResources.map((g) => (g.resource?.$case === "namedResourceSpec" ? g.resource.value.value : "?"))).sort();
    assert.deepEqual(claimed, ["uuid-1", "uuid-2"]);
    assert.equal(await errOf(env, svc), "no suitable node (insufficient generic resources on 3 nodes)");
  });

  it("host-mode published ports: one task per node per port; others stay pending with the reason", async () => {
    const env = newEnv();
    await env.write((tx) => ["a", "b"].forEach((id) => tx.create("node", makeNode(id))));
    start(env);
    const svc = makeService("web");
    const endpoint = { spec: { mode: 0, ports: [{ name: "", protocol: 0, targetPort: 80, publishedPort: 8080, publishMode: PortConfig_PublishMode.HOST }] }, ports: [], virtualIps: [] };
    await env.write((tx) => pending(svc, 3, { endpoint }).forEach((t) => tx.create("task", t)));
    await until("2 assigned", () => assigned(env, svc).length === 2);
    assert.deepEqual(perNode(env, svc), { a: 1, b: 1 });
    assert.equal(await errOf(env, svc), "no suitable node (host-mode port already in use on 2 nodes)");
  });

  it("spread over node.labels.zone balances zones before nodes; nodes without the label form their own group", async () => {
    const env = newEnv();
    await env.write((tx) => {
      tx.create("node", makeNode("a1", { labels: { zone: "a" } }));
      tx.create("node", makeNode("a2", { labels: { zone: "a" } }));
      tx.create("node", makeNode("a3", { labels: { zone: "a" } }));
      tx.create("node", makeNode("b1", { labels: { zone: "b" } }));
      tx.create("node", makeNode("x1"));
    });
    start(env);
    const svc = makeService("spread");
    svc.spec!.task!.placement!.preferences = [{ Preference: { $case: "spread", value: { spreadDescriptor: "node.labels.zone" } } }];
    await env.write((tx) => pending(svc, 9).forEach((t) => tx.create("task", t)));
    await until("9 assigned", () => assigned(env, svc).length === 9);
    const n = perNode(env, svc);
    assert.equal((n["a1"] ?? 0) + (n["a2"] ?? 0) + (n["a3"] ?? 0), 3, "zone a gets a third");
    assert.equal(n["b1"], 3, "zone b (one node) gets a third");
    assert.equal(n["x1"], 3, "unlabelled nodes get a third");
    assert.deepEqual([n["a1"], n["a2"], n["a3"]], [1, 1, 1], "evenly within the zone");
  });

  it("spread: a full zone hands its share to the others", async () => {
    const env = newEnv();
    await env.write((tx) => {
      tx.create("node", makeNode("a1", { labels: { zone: "a" }, memoryBytes: 2 * 2 ** 30 }));
      tx.create("node", makeNode("b1", { labels: { zone: "b" }, memoryBytes: 8 * 2 ** 30 }));
    });
    start(env);
    const svc = makeService("full", { reserveMemory: 2 ** 30 });
    svc.spec!.task!.placement!.preferences = [{ Preference: { $case: "spread", value: { spreadDescriptor: "node.labels.zone" } } }];
    await env.write((tx) => pending(svc, 6).forEach((t) => tx.create("task", t)));
    await until("6 assigned", () => assigned(env, svc).length === 6);
    assert.deepEqual(perNode(env, svc), { a1: 2, b1: 4 });
  });

  it("failure penalty: after 5 failures in 5 minutes a node is tried last for that service version", async () => {
    const env = newEnv();
    await env.write((tx) => ["a", "b"].forEach((id) => tx.create("node", makeNode(id))));
    let clock = Date.parse("2024-01-01T00:00:00Z");
    start(env, () => new Date(clock));
    const svc = makeService("flaky");
    // Five tasks of the service fail on node a.
    const failing = pending(svc, 5, { nodeId: "a", status: { state: TaskState.RUNNING, message: "started", err: "", timestamp: undefined, portStatus: undefined, appliedBy: "", appliedAt: undefined, runtimeStatus: undefined } });
    await env.write((tx) => failing.forEach((t) => tx.create("task", t)));
    for (const t of failing) {
      await env.write((tx) => {
        const cur = tx.get("task", t.id)!;
        tx.update("task", { ...cur, desiredState: TaskState.SHUTDOWN, status: { ...cur.status!, state: TaskState.FAILED, err: "exit 1" } });
      });
    }
    await new Promise((r) => setTimeout(r, 30));
    const fresh = pending(svc, 1).map((t) => ({ ...t, slot: 9 }));
    await env.write((tx) => fresh.forEach((t) => tx.create("task", t)));
    await until("assigned", () => assigned(env, svc).length === 1);
    assert.equal(assigned(env, svc)[0]!.nodeId, "b", "a (which has fewer tasks but 5 failures) is avoided");

    // Six minutes later the failures have aged out: a is preferred again (fewer tasks).
    clock += 6 * 60_000;
    const later = pending(svc, 1).map((t) => ({ ...t, slot: 10 }));
    await env.write((tx) => later.forEach((t) => tx.create("task", t)));
    await until("2 assigned", () => assigned(env, svc).length === 2);
    assert.equal(env.store.get("task", later[0]!.id)!.nodeId, "a");
  });

  it("a pending task is scheduled as soon as a node becomes able to take it", async () => {
    const env = newEnv();
    await env.write((tx) => tx.create("node", makeNode("small", { memoryBytes: 2 ** 30 })));
    start(env);
    const svc = makeService("big", { reserveMemory: 4 * 2 ** 30 });
    await env.write((tx) => pending(svc, 1).forEach((t) => tx.create("task", t)));
    assert.equal(await errOf(env, svc), "no suitable node (insufficient memory on 1 node)");
    await env.write((tx) => tx.create("node", makeNode("big", { memoryBytes: 16 * 2 ** 30 })));
    await until("assigned to the new node", () => assigned(env, svc)[0]?.nodeId === "big");
  });

  it("NodeInfo: claiming and releasing named generic resources", () => {
    const info = new NodeInfo(withGeneric("n", [["gpu", "g2"], ["gpu", "g1"], ["fpga", 3]]));
    assert.equal(info.genericAvailable("gpu"), 2);
    const claim = info.claimGeneric("gpu", 1);
    assert.deepEqual(claim, [{ resource: { $case: "namedResourceSpec", value: { kind: "gpu", value: "g1" } } }]);
    const t = Task.fromPartial({ id: "t1", serviceId: "s", nodeId: "n", desiredState: TaskState.RUNNING, assignedGenericResources: [...claim, ...info.claimGeneric("fpga", 2)] });
    info.addTask(t);
    assert.equal(info.genericAvailable("gpu"), 1);
    assert.equal(info.genericAvailable("fpga"), 1);
    info.removeTask("t1");
    assert.equal(info.genericAvailable("gpu"), 2);
    assert.equal(info.genericAvailable("fpga"), 3);
  });
});
