import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { createOrchestration, type LeaderOnly } from "../../src/workers/manager/orchestrator/index.js";
import {
  RestartPolicy_RestartCondition,
  NodeStatus_State,
  NodeSpec_Availability,
  TaskState,
  makeCluster,
  makeNode,
  makeService,
  newEnv,
  report,
  runnable,
  setNode,
  sleep,
  until,
  type Env,
} from "./helpers.js";

let running: LeaderOnly[] = [];

async function startAll(env: Env, opts: { restartDelayMs?: number; scheduler?: boolean } = {}): Promise<LeaderOnly[]> {
  const all = createOrchestration(env.store, env.proposer, {
    restart: { defaultDelayMs: opts.restartDelayMs ?? 50, oldTaskTimeoutMs: 2000 },
    reaper: { batchingIntervalMs: 10 },
    scheduler: { debounceMs: 5, maxLatencyMs: 50 },
  });
  running = opts.scheduler === false ? all.filter((c) => c.name !== "scheduler") : all;
  for (const c of running) await c.start();
  return running;
}

afterEach(async () => {
  for (const c of [...running].reverse()) await c.stop();
  running = [];
});

const slotsOf = (env: Env, sid: string) => runnable(env, sid).map((t) => t.slot);

describe("replicated orchestrator", () => {
  it("creates one task per slot 1..N, NEW → PENDING, desired RUNNING", async () => {
    const env = newEnv();
    await startAll(env, { scheduler: false });
    const svc = makeService("web", { replicas: 3 });
    await env.write((tx) => tx.create("service", svc));
    const tasks = await until("3 pending tasks", () => {
      const ts = runnable(env, svc.id);
      return ts.length === 3 && ts.every((t) => t.status?.state === TaskState.PENDING) && ts;
    });
    assert.deepEqual(tasks.map((t) => t.slot), [1, 2, 3]);
    for (const t of tasks) {
      assert.equal(t.desiredState, TaskState.RUNNING);
      assert.equal(t.serviceAnnotations?.name, "web");
      assert.equal(t.status?.message, "pending task scheduling");
      assert.deepEqual(t.spec, svc.spec?.task);
      assert.equal(t.nodeId, "");
    }
    await sleep(50);
    assert.equal(env.store.find("task").length, 3, "no extra tasks");
  });

  it("scales up into the lowest free slots and down from the highest, reaping unassigned tasks", async () => {
    const env = newEnv();
    await startAll(env, { scheduler: false });
    const svc = makeService("web", { replicas: 2 });
    await env.write((tx) => tx.create("service", svc));
    await until("2 tasks", () => slotsOf(env, svc.id).length === 2);
    const scale = (n: number) =>
      env.write((tx) => {
        const s = tx.get("service", svc.id)!;
        tx.update("service", { ...s, spec: { ...s.spec!, mode: { $case: "replicated", value: { replicas: n } } } });
      });
    await scale(5);
    await until("5 tasks", () => slotsOf(env, svc.id).length === 5);
    assert.deepEqual(slotsOf(env, svc.id), [1, 2, 3, 4, 5]);
    await scale(2);
    await until("2 runnable", () => slotsOf(env, svc.id).length === 2);
    assert.deepEqual(slotsOf(env, svc.id), [1, 2]);
    // Never-assigned tasks desired REMOVE are deleted by the reaper.
    await until("removed tasks deleted", () => env.store.find("task").length === 2);
    await scale(0);
    await until("no task left", () => env.store.find("task").length === 0);
  });

  it("scale-down removes copies from the node holding most of them first", async () => {
    const env = newEnv();
    await env.write((tx) => {
      tx.create("node", makeNode("n1"));
      tx.create("node", makeNode("n2"));
    });
    await startAll(env);
    const svc = makeService("web", { replicas: 4 });
    await env.write((tx) => tx.create("service", svc));
    await until("4 assigned", () => runnable(env, svc.id).filter((t) => t.nodeId !== "").length === 4);
    // Move slot 1's task to n2 so n2 holds three copies.
    const t1 = runnable(env, svc.id).find((t) => t.nodeId === "n1")!;
    await env.write((tx) => tx.update("task", { ...tx.get("task", t1.id)!, nodeId: "n2" }));
    await env.write((tx) => {
      const s = tx.get("service", svc.id)!;
      tx.update("service", { ...s, spec: { ...s.spec!, mode: { $case: "replicated", value: { replicas: 2 } } } });
    });
    await until("2 runnable", () => runnable(env, svc.id).length === 2);
    const nodes = runnable(env, svc.id).map((t) => t.nodeId).sort();
    assert.deepEqual(nodes, ["n1", "n2"]);
  });

  it("replaces a failed task in its slot, desired READY first, RUNNING after the restart delay", async () => {
    const env = newEnv();
    await env.write((tx) => tx.create("node", makeNode("n1")));
    await startAll(env);
    const svc = makeService("web", { replicas: 2, restart: { delayMs: 400 } });
    await env.write((tx) => tx.create("service", svc));
    const [first] = await until("2 assigned", () => {
      const ts = runnable(env, svc.id);
      return ts.length === 2 && ts.every((t) => t.status?.state === TaskState.ASSIGNED) && ts;
    });
    await report(env, first!.id, TaskState.RUNNING);
    await report(env, first!.id, TaskState.FAILED);
    const replacement = await until("replacement", () => runnable(env, svc.id).find((t) => t.slot === first!.slot && t.id !== first!.id));
    assert.equal(replacement.desiredState, TaskState.READY, "a replacement waits for the restart delay");
    assert.equal(env.store.get("task", first!.id)!.desiredState, TaskState.SHUTDOWN);
    await until("replacement promoted", () => env.store.get("task", replacement.id)?.desiredState === TaskState.RUNNING);
    const elapsed = Date.now() - (replacement.meta!.createdAt!.getTime());
    assert.ok(elapsed >= 350, `promoted after ${elapsed} ms, before the 400 ms delay`);
    assert.deepEqual(slotsOf(env, svc.id), [1, 2]);
  });

  it("default restart policy is condition any: a completed task is replaced too", async () => {
    const env = newEnv();
    await env.write((tx) => tx.create("node", makeNode("n1")));
    await startAll(env, { restartDelayMs: 20 });
    const svc = makeService("job", { replicas: 1 });
    await env.write((tx) => tx.create("service", svc));
    const t = await until("assigned", () => runnable(env, svc.id).find((x) => x.status?.state === TaskState.ASSIGNED));
    await report(env, t.id, TaskState.COMPLETE);
    const r = await until("replacement", () => runnable(env, svc.id).find((x) => x.id !== t.id));
    await until("promoted", () => env.store.get("task", r.id)?.desiredState === TaskState.RUNNING);
    assert.equal(r.slot, t.slot);
  });

  it("restart conditions none and on-failure, and max attempts", async () => {
    const env = newEnv();
    await env.write((tx) => tx.create("node", makeNode("n1")));
    await startAll(env);
    const none = makeService("none", { replicas: 1, restart: { condition: RestartPolicy_RestartCondition.NONE } });
    const onFailure = makeService("onfail", { replicas: 1, restart: { condition: RestartPolicy_RestartCondition.ON_FAILURE, delayMs: 10 } });
    const limited = makeService("limited", { replicas: 1, restart: { delayMs: 10, maxAttempts: 2 } });
    await env.write((tx) => {
      tx.create("service", none);
      tx.create("service", onFailure);
      tx.create("service", limited);
    });
    const assigned = (sid: string) => until(`assigned ${sid}`, () => runnable(env, sid).find((x) => x.status?.state === TaskState.ASSIGNED && x.desiredState === TaskState.RUNNING));

    const n1 = await assigned(none.id);
    await report(env, n1.id, TaskState.FAILED);
    await until("none: shut down", () => env.store.get("task", n1.id)?.desiredState === TaskState.SHUTDOWN);
    await sleep(100);
    assert.equal(runnable(env, none.id).length, 0, "condition none: no replacement");

    const f1 = await assigned(onFailure.id);
    await report(env, f1.id, TaskState.COMPLETE);
    await until("on-failure: shut down", () => env.store.get("task", f1.id)?.desiredState === TaskState.SHUTDOWN);
    await sleep(100);
    assert.equal(runnable(env, onFailure.id).length, 0, "on-failure: a completed task stays done");

    let l = await assigned(limited.id);
    for (let attempt = 1; attempt <= 2; attempt++) {
      await report(env, l.id, TaskState.FAILED);
      const prev = l.id;
      l = await until(`restart ${attempt}`, () => runnable(env, limited.id).find((x) => x.id !== prev && x.desiredState === TaskState.RUNNING && x.status?.state === TaskState.ASSIGNED));
    }
    await report(env, l.id, TaskState.FAILED);
    await until("limited: shut down", () => env.store.get("task", l.id)?.desiredState === TaskState.SHUTDOWN);
    await sleep(100);
    assert.equal(runnable(env, limited.id).length, 0, "max attempts 2: no third restart");
  });

  it("replaces the tasks of a node that goes down, in the same slots, on other nodes", async () => {
    const env = newEnv();
    await env.write((tx) => {
      tx.create("node", makeNode("n1"));
      tx.create("node", makeNode("n2"));
    });
    await startAll(env, { restartDelayMs: 10 });
    const svc = makeService("web", { replicas: 4 });
    await env.write((tx) => tx.create("service", svc));
    const tasks = await until("4 assigned", () => {
      const ts = runnable(env, svc.id);
      return ts.length === 4 && ts.every((t) => t.nodeId !== "") && ts;
    });
    const onN1 = tasks.filter((t) => t.nodeId === "n1");
    assert.equal(onN1.length, 2);
    for (const t of tasks) await report(env, t.id, TaskState.RUNNING);
    await setNode(env, "n1", (n) => ({ ...n, status: { ...n.status!, state: NodeStatus_State.DOWN } }));
    await until("replacements on n2, running desired", () => {
      const ts = runnable(env, svc.id);
      return ts.length === 4 && ts.every((t) => t.nodeId === "n2" && t.desiredState === TaskState.RUNNING);
    });
    assert.deepEqual(slotsOf(env, svc.id), [1, 2, 3, 4]);
    for (const t of onN1) assert.equal(env.store.get("task", t.id)!.desiredState, TaskState.SHUTDOWN);
  });

  it("drained node: its tasks are replaced elsewhere", async () => {
    const env = newEnv();
    await env.write((tx) => {
      tx.create("node", makeNode("n1"));
      tx.create("node", makeNode("n2"));
    });
    await startAll(env, { restartDelayMs: 10 });
    const svc = makeService("web", { replicas: 2 });
    await env.write((tx) => tx.create("service", svc));
    await until("2 assigned", () => runnable(env, svc.id).filter((t) => t.nodeId !== "").length === 2);
    await setNode(env, "n1", (n) => ({ ...n, spec: { ...n.spec!, availability: NodeSpec_Availability.DRAIN } }));
    await until("all on n2", () => {
      const ts = runnable(env, svc.id);
      return ts.length === 2 && ts.every((t) => t.nodeId === "n2");
    });
  });

  it("service removal: every task desired REMOVE, deleted once stopped", async () => {
    const env = newEnv();
    await env.write((tx) => tx.create("node", makeNode("n1")));
    await startAll(env);
    const svc = makeService("web", { replicas: 3 });
    await env.write((tx) => tx.create("service", svc));
    const tasks = await until("3 assigned", () => {
      const ts = runnable(env, svc.id);
      return ts.length === 3 && ts.every((t) => t.nodeId !== "") && ts;
    });
    for (const t of tasks) await report(env, t.id, TaskState.RUNNING);
    await env.write((tx) => tx.delete("service", svc.id));
    await until("all desired REMOVE", () => env.store.find("task").every((t) => t.desiredState === TaskState.REMOVE));
    assert.equal(env.store.find("task").length, 3, "running tasks stay until the agent stops them");
    for (const t of tasks) await report(env, t.id, TaskState.SHUTDOWN);
    await until("tasks deleted", () => env.store.find("task").length === 0);
  });

  it("a new leader restarts tasks that failed while no orchestrator ran", async () => {
    const env = newEnv();
    await env.write((tx) => tx.create("node", makeNode("n1")));
    await startAll(env, { restartDelayMs: 10 });
    const svc = makeService("web", { replicas: 1 });
    await env.write((tx) => tx.create("service", svc));
    const t = await until("assigned", () => runnable(env, svc.id).find((x) => x.nodeId !== ""));
    for (const c of [...running].reverse()) await c.stop();
    running = [];
    await report(env, t.id, TaskState.FAILED);
    await sleep(30);
    assert.equal(runnable(env, svc.id).length, 1, "nothing happens without a leader");
    await startAll(env, { restartDelayMs: 10 });
    await until("replaced", () => runnable(env, svc.id).some((x) => x.id !== t.id && x.desiredState === TaskState.RUNNING));
  });

  it("the reaper keeps the cluster's task history retention per slot", async () => {
    const env = newEnv();
    await env.write((tx) => {
      tx.create("node", makeNode("n1"));
      tx.create("cluster", makeCluster(3));
    });
    await startAll(env, { restartDelayMs: 1 });
    const svc = makeService("web", { replicas: 1 });
    await env.write((tx) => tx.create("service", svc));
    for (let i = 0; i < 6; i++) {
      const t = await until(`attempt ${i}`, () =>
        runnable(env, svc.id).find((x) => x.desiredState === TaskState.RUNNING && x.status?.state === TaskState.ASSIGNED),
      );
      await report(env, t.id, TaskState.FAILED);
    }
    await until("running replacement", () => runnable(env, svc.id).some((x) => x.desiredState === TaskState.RUNNING));
    await until("history trimmed to 3", () => env.store.find("task", { serviceIds: [svc.id] }).length === 3);
    await sleep(50);
    assert.equal(env.store.find("task", { serviceIds: [svc.id] }).length, 3);
  });
});
