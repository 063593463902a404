// Rolling updates and rollback on the replicated orchestrator, with a fake
// agent (MemoryStore + InMemoryProposer, short injected delays).
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import {
  UpdateConfig_FailureAction,
  UpdateConfig_UpdateOrder,
  UpdateStatus_UpdateState,
  durationFromMillis,
  type Task,
} from "../../src/shared/api/index.js";
import { createOrchestration, type LeaderOnly } from "../../src/workers/manager/orchestrator/index.js";
import { FakeAgent } from "./fake-agent.js";
import {
  TaskState,
  argsOf,
  makeNode,
  makeService,
  newEnv,
  sleep,
  until,
  updateServiceSpec,
  withArgs,
  type Env,
  type ServiceOpts,
} from "./helpers.js";

let running: LeaderOnly[] = [];
let agent: FakeAgent | undefined;

async function startAll(env: Env, agentOpts: ConstructorParameters<typeof FakeAgent>[1] = {}): Promise<void> {
  running = createOrchestration(env.store, env.proposer, {
    restart: { defaultDelayMs: 20, oldTaskTimeoutMs: 2000 },
    reaper: { batchingIntervalMs: 10 },
    scheduler: { debounceMs: 2, maxLatencyMs: 20 },
  });
  for (const c of running) await c.start();
  agent = new FakeAgent(env, { startMs: 30, ...agentOpts }).start();
}

afterEach(async () => {
  agent?.stop();
  agent = undefined;
  for (const c of [...running].reverse()) await c.stop();
  running = [];
});

const fast = (o: Partial<{ parallelism: number; order: UpdateConfig_UpdateOrder; failureAction: UpdateConfig_FailureAction; monitorMs: number; delayMs: number; maxFailureRatio: number }> = {}) => ({
  parallelism: o.parallelism ?? 1,
  order: o.order ?? UpdateConfig_UpdateOrder.STOP_FIRST,
  failureAction: o.failureAction ?? UpdateConfig_FailureAction.PAUSE,
  monitor: durationFromMillis(o.monitorMs ?? 100),
  delay: durationFromMillis(o.delayMs ?? 0),
  maxFailureRatio: o.maxFailureRatio ?? 0,
});

/** Tasks desired and observed RUNNING. */
function live(env: Env, sid: string): Task[] {
  return env.store
    .find("task", { serviceIds: [sid] })
    .filter((t) => t.desiredState === TaskState.RUNNING && t.status?.state === TaskState.RUNNING);
}

async function setup(env: Env, replicas: number, opts: ServiceOpts = {}): Promise<string> {
  await env.write((tx) => {
    tx.create("node", makeNode("n1"));
    tx.create("node", makeNode("n2"));
  });
  const svc = makeService("web", { replicas, ...opts });
  await env.write((tx) => tx.create("service", svc));
  await until(`${replicas} running`, () => live(env, svc.id).length === replicas);
  return svc.id;
}

const statusOf = (env: Env, sid: string) => env.store.get("service", sid)?.updateStatus;

/** Every update status the service goes through (from a store watch). */
function statusHistory(env: Env, sid: string): { seen: Array<{ state: UpdateStatus_UpdateState; message: string }>; stop(): void } {
  const seen: Array<{ state: UpdateStatus_UpdateState; message: string }> = [];
  const w = env.store.watch({ kinds: ["service"] });
  void (async () => {
    for (;;) {
      const r = await w.next().catch(() => ({ done: true as const, value: undefined }));
      if (r.done) return;
      const ev = r.value;
      if (ev.type !== "change" || ev.kind !== "service" || ev.object.id !== sid) continue;
      const st = ev.object.updateStatus;
      if (st && (seen.length === 0 || seen.at(-1)!.state !== st.state || seen.at(-1)!.message !== st.message)) seen.push({ state: st.state, message: st.message });
    }
  })();
  return { seen, stop: () => w.close() };
}

/** Sample the store every few ms while `until` runs; returns what `sample` saw. */
function sampler<T>(fn: () => T): { samples: T[]; stop(): void } {
  const samples: T[] = [];
  const timer = setInterval(() => samples.push(fn()), 1);
  return { samples, stop: () => clearInterval(timer) };
}

describe("rolling updates", () => {
  it("replaces tasks slot by slot, two at a time with parallelism 2, and reports UPDATING then COMPLETED", async () => {
    const env = newEnv();
    await startAll(env);
    const sid = await setup(env, 4, { update: fast({ parallelism: 2 }) });
    const before = live(env, sid).map((t) => t.id);
    // New-spec tasks not yet running: the slots in flight.
    const inFlight = sampler(() =>
      env.store
        .find("task", { serviceIds: [sid] })
        .filter((t) => argsOf(t)[0] === "2000" && t.desiredState <= TaskState.RUNNING && (t.status?.state ?? 0) < TaskState.RUNNING).length,
    );
    await updateServiceSpec(env, sid, (s) => withArgs(s, ["2000"]));
    const started = await until("update in progress", () => statusOf(env, sid));
    assert.equal(started.state, UpdateStatus_UpdateState.UPDATING);
    assert.equal(started.message, "update in progress");
    assert.ok(started.startedAt instanceof Date);
    const done = await until("update completed", () => statusOf(env, sid)?.state === UpdateStatus_UpdateState.COMPLETED && statusOf(env, sid));
    inFlight.stop();
    assert.equal(done.message, "update completed");
    assert.ok(done.completedAt instanceof Date);
    const now = live(env, sid);
    assert.equal(now.length, 4);
    assert.ok(now.every((t) => argsOf(t)[0] === "2000"), "every task has the new args");
    assert.deepEqual(now.map((t) => t.slot).sort(), [1, 2, 3, 4], "same slots");
    assert.ok(now.every((t) => !before.includes(t.id)));
    assert.equal(Math.max(...inFlight.samples), 2, "two slots replaced at a time, never more");
    for (const id of before) assert.ok((env.store.get("task", id)?.desiredState ?? TaskState.SHUTDOWN) >= TaskState.SHUTDOWN);
  });

  it("stop-first: a slot's new task starts only once its old task has stopped", async () => {
    const env = newEnv();
    await startAll(env);
    const sid = await setup(env, 3, { update: fast() });
    const overlap = sampler(() => {
      const bySlot = new Map<number, number>();
      for (const t of env.store.find("task", { serviceIds: [sid] })) {
        if (t.status?.state === TaskState.RUNNING) bySlot.set(t.slot, (bySlot.get(t.slot) ?? 0) + 1);
      }
      return Math.max(0, ...bySlot.values());
    });
    await updateServiceSpec(env, sid, (s) => withArgs(s, ["2000"]));
    await until("update completed", () => statusOf(env, sid)?.state === UpdateStatus_UpdateState.COMPLETED);
    overlap.stop();
    assert.equal(Math.max(...overlap.samples), 1, "never two running tasks in one slot");
  });

  it("start-first keeps the replica count running throughout", async () => {
    const env = newEnv();
    await startAll(env);
    const sid = await setup(env, 3, { update: fast({ order: UpdateConfig_UpdateOrder.START_FIRST }) });
    const capacity = sampler(() => env.store.find("task", { serviceIds: [sid] }).filter((t) => t.status?.state === TaskState.RUNNING).length);
    await updateServiceSpec(env, sid, (s) => withArgs(s, ["2000"]));
    await until("update completed", () => statusOf(env, sid)?.state === UpdateStatus_UpdateState.COMPLETED);
    capacity.stop();
    assert.ok(Math.min(...capacity.samples) >= 3, `never fewer than 3 running (min ${Math.min(...capacity.samples)})`);
    assert.ok(Math.max(...capacity.samples) >= 4, "a new task ran next to the old one");
    await until("old tasks stopped", () => live(env, sid).length === 3 && live(env, sid).every((t) => argsOf(t)[0] === "2000"));
  });

  it("waits `delay` between slots", async () => {
    const env = newEnv();
    await startAll(env, { startMs: 0 });
    const sid = await setup(env, 3, { update: fast({ delayMs: 150 }) });
    await updateServiceSpec(env, sid, (s) => withArgs(s, ["2000"]));
    await until("update completed", () => statusOf(env, sid)?.state === UpdateStatus_UpdateState.COMPLETED);
    const created = env.store
      .find("task", { serviceIds: [sid] })
      .filter((t) => argsOf(t)[0] === "2000")
      .map((t) => t.meta!.createdAt!.getTime())
      .sort((a, b) => a - b);
    assert.equal(created.length, 3);
    for (let i = 1; i < created.length; i++) assert.ok(created[i]! - created[i - 1]! >= 140, `gap ${created[i]! - created[i - 1]!} ms`);
  });

  it("a scale-only change starts no update", async () => {
    const env = newEnv();
    await startAll(env);
    const sid = await setup(env, 2, { update: fast() });
    await updateServiceSpec(env, sid, (s) => ({ ...s, mode: { $case: "replicated", value: { replicas: 3 } } }));
    await until("3 running", () => live(env, sid).length === 3);
    await sleep(150);
    assert.equal(statusOf(env, sid), undefined);
  });

  it("failure action pause: stops at the first failing task; a new update resumes", async () => {
    const env = newEnv();
    await startAll(env, { fails: (t) => argsOf(t)[0] === "bad" });
    const sid = await setup(env, 4, { update: fast({ monitorMs: 300 }) });
    await updateServiceSpec(env, sid, (s) => withArgs(s, ["bad"]));
    const paused = await until("update paused", () => statusOf(env, sid)?.state === UpdateStatus_UpdateState.PAUSED && statusOf(env, sid));
    const failed = env.store.find("task", { serviceIds: [sid] }).find((t) => t.status?.state === TaskState.FAILED && argsOf(t)[0] === "bad");
    assert.ok(failed);
    assert.match(paused.message, /^update paused due to failure or early termination of task [0-9a-z]+$/);
    await sleep(200);
    const oldStill = env.store.find("task", { serviceIds: [sid] }).filter((t) => t.desiredState === TaskState.RUNNING && argsOf(t)[0] === "1000");
    assert.equal(oldStill.length, 3, "the other slots were left alone");
    assert.equal(statusOf(env, sid)?.state, UpdateStatus_UpdateState.PAUSED, "paused stays paused");
    // A new UpdateService (status cleared) resumes towards the new spec.
    await updateServiceSpec(env, sid, (s) => withArgs(s, ["good"]));
    await until("update completed", () => statusOf(env, sid)?.state === UpdateStatus_UpdateState.COMPLETED);
    await until("4 good tasks", () => live(env, sid).length === 4 && live(env, sid).every((t) => argsOf(t)[0] === "good"));
  });

  it("failure action rollback: rolls back to the previous spec by itself, ROLLBACK_STARTED then ROLLBACK_COMPLETED", async () => {
    const env = newEnv();
    await startAll(env, { fails: (t) => argsOf(t)[0] === "bad" });
    const sid = await setup(env, 4, { update: fast({ failureAction: UpdateConfig_FailureAction.ROLLBACK, monitorMs: 300 }), rollback: fast({ parallelism: 0 }) });
    const history = statusHistory(env, sid);
    await updateServiceSpec(env, sid, (s) => withArgs(s, ["bad"]));
    const done = await until("rollback completed", () => statusOf(env, sid)?.state === UpdateStatus_UpdateState.ROLLBACK_COMPLETED && statusOf(env, sid));
    history.stop();
    assert.equal(done.message, "rollback completed");
    const seen = history.seen.map((h) => `${UpdateStatus_UpdateState[h.state]}: ${h.message}`);
    assert.equal(seen.length, 3, seen.join(" | "));
    assert.equal(seen[0], "UPDATING: update in progress");
    assert.match(seen[1]!, /^ROLLBACK_STARTED: update rolled back due to failure or early termination of task [0-9a-z]+$/);
    assert.equal(seen[2], "ROLLBACK_COMPLETED: rollback completed");
    const svc = env.store.get("service", sid)!;
    assert.deepEqual(argsOf({ spec: svc.spec!.task } as Task), ["1000"], "the service has its previous spec again");
    assert.equal(svc.previousSpec, undefined);
    await until("4 tasks on the old spec", () => live(env, sid).length === 4 && live(env, sid).every((t) => argsOf(t)[0] === "1000"));
  });

  it("a manual rollback (control API's rollback: PREVIOUS) goes back under the rollback config", async () => {
    const env = newEnv();
    await startAll(env);
    const sid = await setup(env, 2, { update: fast(), rollback: fast({ parallelism: 2 }) });
    await updateServiceSpec(env, sid, (s) => withArgs(s, ["2000"]));
    await until("update completed", () => statusOf(env, sid)?.state === UpdateStatus_UpdateState.COMPLETED);
    await env.write((tx) => {
      const s = tx.get("service", sid)!;
      tx.update("service", {
        ...s,
        spec: s.previousSpec,
        specVersion: s.previousSpecVersion,
        previousSpec: s.spec,
        previousSpecVersion: s.specVersion,
        updateStatus: { state: UpdateStatus_UpdateState.ROLLBACK_STARTED, message: "manually requested rollback", startedAt: new Date(), completedAt: undefined },
      });
    });
    const done = await until("rollback completed", () => statusOf(env, sid)?.state === UpdateStatus_UpdateState.ROLLBACK_COMPLETED && statusOf(env, sid));
    assert.equal(done.message, "rollback completed");
    await until("2 tasks on the old spec", () => live(env, sid).length === 2 && live(env, sid).every((t) => argsOf(t)[0] === "1000"));
  });

  it("max failure ratio: one failure in four slots is tolerated at 0.5", async () => {
    const env = newEnv();
    await startAll(env, { fails: (t) => argsOf(t)[0] === "bad" && t.slot === 1 });
    const sid = await setup(env, 4, { update: fast({ monitorMs: 500, maxFailureRatio: 0.5 }) });
    await updateServiceSpec(env, sid, (s) => withArgs(s, ["bad"]));
    await until("update completed despite one failure in four", () => statusOf(env, sid)?.state === UpdateStatus_UpdateState.COMPLETED, 15_000);
  });
});
