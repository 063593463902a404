// Rolling updates on the real engine (issue 8), one node: parallelism 2
// replaces tasks two at a time, start-first keeps the replica count running,
// and an update to a command that exits 1 with failure action rollback rolls
// the service back by itself (UpdateStatus ends ROLLBACK_COMPLETED).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CreateServiceRequest,
  UpdateConfig_FailureAction,
  UpdateConfig_UpdateOrder,
  UpdateServiceRequest,
  UpdateStatus_UpdateState,
  durationFromMillis,
  type ControlClient,
  type CreateServiceResponse,
  type GetServiceResponse,
  type ListNodesResponse,
  type ListTasksResponse,
  type Service,
  type ServiceSpec,
  type Task,
  type UpdateConfig,
} from "../../src/shared/api/index.js";
import { startSwarmd, tempDir, testArgs, type SwarmdProcess } from "../main/helpers.js";
import { unary, waitForControl } from "../helpers/control.js";
import { removeContainersByLabel, startEngine, uniqueId } from "../helpers/engine.js";
import { eventually as waitFor } from "../helpers/wait.js";

const RUNNING = 512; // TaskState.RUNNING

const argsOf = (t: Task): string[] => (t.spec?.runtime?.$case === "container" ? t.spec.runtime.value.args : []);

describe("rolling updates on the real engine (single node)", { timeout: 300_000 }, () => {
  let dir: { path: string; remove(): Promise<void> };
  let proc: SwarmdProcess;
  let client: ControlClient;
  let engine = "";
  let nodeId = "";
  let serviceId = "";
  const name = uniqueId("upd");

  const getService = async (): Promise<Service> =>
    (await unary<"getService", object, GetServiceResponse>(client, "getService", { serviceId, insertDefaults: false })).service!;

  async function tasks(): Promise<Task[]> {
    const res = await unary<"listTasks", object, ListTasksResponse>(client, "listTasks", {
      filters: { serviceIds: [serviceId], names: [], idPrefixes: [], labels: {}, nodeIds: [], desiredStates: [], namePrefixes: [], runtimes: [], upToDate: false },
    });
    return res.tasks;
  }
  const live = async (): Promise<Task[]> => (await tasks()).filter((t) => t.status?.state === RUNNING && t.desiredState === RUNNING);

  /** UpdateService with a changed spec (a normal update). */
  async function update(change: (spec: ServiceSpec) => ServiceSpec): Promise<void> {
    const svc = await getService();
    await unary(client, "updateService", UpdateServiceRequest.fromPartial({ serviceId, serviceVersion: svc.meta!.version!, spec: change(svc.spec!) }));
  }

  function withContainer(spec: ServiceSpec, command: string[], args: string[], upd: Partial<UpdateConfig>): ServiceSpec {
    const rt = spec.task!.runtime!;
    assert.equal(rt.$case, "container");
    return {
      ...spec,
      task: { ...spec.task!, runtime: { $case: "container", value: { ...rt.value, command, args } } },
      update: { ...spec.update!, ...upd },
    };
  }

  /** Poll ListTasks until the update status is `state`, calling `observe` on every poll. */
  async function watchUpdate(state: UpdateStatus_UpdateState, observe: (ts: Task[]) => void, timeoutMs = 90_000): Promise<Service> {
    return waitFor(
      `update status ${UpdateStatus_UpdateState[state]}`,
      async () => {
        observe(await tasks());
        const s = await getService();
        return s.updateStatus?.state === state ? s : undefined;
      },
      timeoutMs,
      50,
    );
  }

  before(async () => {
    engine = await startEngine();
    dir = await tempDir("swarmd-update-");
    const stateDir = join(dir.path, "state");
    proc = startSwarmd(testArgs(stateDir, "--tick-interval", "50ms", "--engine-addr", engine));
    client = await waitForControl(join(stateDir, "swarmd.sock"));
    nodeId = await waitFor("the node to be READY", async () => {
      const res = await unary<"listNodes", object, ListNodesResponse>(client, "listNodes", { filters: undefined });
      return res.nodes.find((x) => x.status?.state === 2)?.id;
    });
    const res = await unary<"createService", CreateServiceRequest, CreateServiceResponse>(client, "createService", CreateServiceRequest.fromPartial({
      spec: {
        annotations: { name },
        task: {
          runtime: { $case: "container", value: { image: "busybox:local", command: ["sleep"], args: ["3600"], stopGracePeriod: durationFromMillis(500) } },
          restart: { condition: 2, delay: durationFromMillis(500), maxAttempts: 0 },
        },
        mode: { $case: "replicated", value: { replicas: 4 } },
        update: { parallelism: 2, delay: durationFromMillis(0), monitor: durationFromMillis(1000), failureAction: UpdateConfig_FailureAction.PAUSE, order: UpdateConfig_UpdateOrder.STOP_FIRST },
        rollback: { parallelism: 0, monitor: durationFromMillis(1000) },
      },
    }));
    serviceId = res.service!.id;
    await waitFor("4 running tasks", async () => ((await live()).length === 4 ? true : undefined), 90_000);
  });

  after(async () => {
    client?.close();
    proc.child.kill("SIGTERM");
    await proc.exited;
    if (nodeId) await removeContainersByLabel(engine, "com.docker.swarm.node.id", nodeId);
    await dir.remove();
  });

  test("parallelism 2 replaces the tasks two at a time; UPDATING → COMPLETED", async () => {
    let maxInFlight = 0;
    await update((s) => withContainer(s, ["sleep"], ["3601"], { parallelism: 2 }));
    const done = await watchUpdate(UpdateStatus_UpdateState.COMPLETED, (ts) => {
      const fresh = ts.filter((t) => argsOf(t)[0] === "3601" && t.desiredState <= RUNNING);
      const inFlight = fresh.filter((t) => (t.status?.state ?? 0) < RUNNING).length;
      maxInFlight = Math.max(maxInFlight, inFlight);
    });
    assert.equal(done.updateStatus?.message, "update completed");
    assert.equal(maxInFlight, 2, "two slots at a time, never more");
    // Two waves: the first two new tasks were created together, the last two only later.
    const created = (await tasks()).filter((t) => argsOf(t)[0] === "3601").map((t) => t.meta!.createdAt!.getTime()).sort((x, y) => x - y);
    assert.equal(created.length, 4);
    assert.ok(created[2]! - created[1]! > created[1]! - created[0]!, `creation times ${created.map((c) => c - created[0]!).join(",")} ms`);
    const now = await live();
    assert.equal(now.length, 4);
    assert.ok(now.every((t) => argsOf(t)[0] === "3601"));
    assert.deepEqual(now.map((t) => t.slot).sort(), [1, 2, 3, 4]);
  });

  test("start-first keeps at least the replica count running", async () => {
    let minRunning = Infinity;
    await update((s) => withContainer(s, ["sleep"], ["3602"], { parallelism: 1, order: UpdateConfig_UpdateOrder.START_FIRST }));
    await watchUpdate(UpdateStatus_UpdateState.COMPLETED, (ts) => {
      minRunning = Math.min(minRunning, ts.filter((t) => t.status?.state === RUNNING).length);
    });
    assert.ok(minRunning >= 4, `at least 4 running throughout (min ${minRunning})`);
    await waitFor("4 tasks on the new spec", async () => {
      const l = await live();
      return l.length === 4 && l.every((t) => argsOf(t)[0] === "3602") ? true : undefined;
    });
  });

  test("an update to a failing command with failure action rollback rolls back by itself", async () => {
    const messages: string[] = [];
    await update((s) =>
      withContainer(s, ["sh"], ["-c", "exit 1"], { parallelism: 1, order: UpdateConfig_UpdateOrder.STOP_FIRST, failureAction: UpdateConfig_FailureAction.ROLLBACK, monitor: durationFromMillis(3000) }),
    );
    const done = await waitFor(
      "rollback completed",
      async () => {
        const s = await getService();
        const m = s.updateStatus?.message;
        if (m && messages.at(-1) !== m) messages.push(m);
        return s.updateStatus?.state === UpdateStatus_UpdateState.ROLLBACK_COMPLETED ? s : undefined;
      },
      90_000,
      50,
    );
    assert.equal(done.updateStatus?.message, "rollback completed");
    assert.ok(messages.some((m) => /^update rolled back due to failure or early termination of task [0-9a-z]+$/.test(m)), messages.join(" | "));
    const rt = done.spec!.task!.runtime!;
    assert.ok(rt.$case === "container" && rt.value.args[0] === "3602", "the service is back on its previous spec");
    await waitFor("4 tasks on the previous spec", async () => {
      const l = await live();
      return l.length === 4 && l.every((t) => argsOf(t)[0] === "3602") ? true : undefined;
    });
  });
});
