// Restart policies and task history on the real engine (issue 8): condition
// none leaves a failed task down, on-failure does not restart a clean exit,
// max attempts stops after N, and a slot's history never exceeds the
// cluster's retention limit.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CreateServiceRequest,
  RestartPolicy_RestartCondition as Condition,
  TaskState,
  UpdateClusterRequest,
  type Cluster,
  type ControlClient,
  type CreateServiceResponse,
  type ListTasksResponse,
  type Task,
} from "../../src/shared/api/index.js";
import { durationFromMillis } from "../../src/shared/api/index.js";
import { startSwarmd, tempDir, testArgs, type SwarmdProcess } from "../main/helpers.js";
import { unary, waitForControl } from "../helpers/control.js";
import { rawDocker, startEngine, uniqueId } from "../helpers/engine.js";
import { eventually as waitFor } from "../helpers/wait.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("restart policies and task history (single node, real engine)", { timeout: 240_000 }, () => {
  let dir: { path: string; remove(): Promise<void> };
  let proc: SwarmdProcess;
  let client: ControlClient;
  let engine = "";
  const prefix = uniqueId("rs");

  async function tasksOf(serviceId: string): Promise<Task[]> {
    const res = await unary<"listTasks", object, ListTasksResponse>(client, "listTasks", {
      filters: { serviceIds: [serviceId], names: [], idPrefixes: [], labels: {}, nodeIds: [], desiredStates: [], namePrefixes: [], runtimes: [], upToDate: false },
    });
    return res.tasks;
  }

  async function create(name: string, script: string, restart: { condition: Condition; delayMs?: number; maxAttempts?: number }): Promise<string> {
    const res = await unary<"createService", CreateServiceRequest, CreateServiceResponse>(client, "createService", CreateServiceRequest.fromPartial({
      spec: {
        annotations: { name: `${prefix}-${name}` },
        task: {
          runtime: { $case: "container", value: { image: "busybox:local", command: ["sh"], args: ["-c", script] } },
          restart: { condition: restart.condition, delay: durationFromMillis(restart.delayMs ?? 100), maxAttempts: restart.maxAttempts ?? 0 },
        },
        mode: { $case: "replicated", value: { replicas: 1 } },
      },
    }));
    return res.service!.id;
  }

  before(async () => {
    engine = await startEngine();
    dir = await tempDir("swarmd-restart-");
    proc = startSwarmd(testArgs(join(dir.path, "state"), "--tick-interval", "50ms", "--engine-addr", engine));
    client = await waitForControl(join(dir.path, "state", "swarmd.sock"));
    await waitFor("a READY node", async () => {
      const res = await unary<"listNodes", object, { nodes: { status?: { state: number } }[] }>(client, "listNodes", { filters: undefined });
      return res.nodes.some((n) => n.status?.state === 2) ? true : undefined;
    });
  });

  after(async () => {
    client?.close();
    proc.kill();
    await proc.exited;
    const docker = rawDocker(engine);
    for (const c of await docker.listContainers({ all: true })) {
      if (c.Names.some((n) => n.startsWith(`/${prefix}-`))) await docker.getContainer(c.Id).remove({ force: true });
    }
    await dir.remove();
  });

  test("condition none: a failed task stays down", async () => {
    const id = await create("none", "exit 3", { condition: Condition.NONE });
    const failed = await waitFor("the task to fail", async () => (await tasksOf(id)).find((t) => (t.status?.state ?? 0) >= TaskState.FAILED));
    assert.equal(failed.status!.state, TaskState.FAILED);
    await sleep(2000);
    const ts = await tasksOf(id);
    assert.equal(ts.length, 1, "no replacement task");
  });

  test("condition on-failure: a clean exit is not restarted", async () => {
    const id = await create("onfail", "exit 0", { condition: Condition.ON_FAILURE });
    const done = await waitFor("the task to complete", async () => (await tasksOf(id)).find((t) => t.status?.state === TaskState.COMPLETE));
    assert.ok(done);
    await sleep(2000);
    assert.equal((await tasksOf(id)).length, 1, "no replacement task");
  });

  test("max attempts: restarts stop after N", async () => {
    const id = await create("max", "exit 1", { condition: Condition.ANY, maxAttempts: 2, delayMs: 100 });
    await waitFor("three failed tasks", async () => ((await tasksOf(id)).filter((t) => t.status?.state === TaskState.FAILED).length >= 3 ? true : undefined));
    await sleep(3000);
    const ts = await tasksOf(id);
    assert.equal(ts.length, 3, `the first run plus 2 restarts, no more (got ${ts.length})`);
  });

  test("task history never exceeds the retention limit", async () => {
    const cluster = (await unary<"listClusters", object, { clusters: Cluster[] }>(client, "listClusters", { filters: undefined })).clusters[0]!;
    const spec = { ...cluster.spec!, orchestration: { taskHistoryRetentionLimit: 2 } };
    await unary(client, "updateCluster", UpdateClusterRequest.fromPartial({ clusterId: cluster.id, clusterVersion: cluster.meta!.version!, spec }));
    const id = await create("history", "exit 1", { condition: Condition.ANY, delayMs: 100 });
    let maxSeen = 0;
    const created = new Set<string>();
    const end = Date.now() + 20_000;
    while (Date.now() < end) {
      const ts = await tasksOf(id);
      for (const t of ts) created.add(t.id);
      maxSeen = Math.max(maxSeen, ts.length);
      await sleep(100);
    }
    assert.ok(created.size >= 5, `the task kept failing and being replaced (${created.size} tasks seen)`);
    // The limit counts the slot's tasks; one replacement may exist while the reaper's batch is pending.
    assert.ok(maxSeen <= 3, `history per slot stayed within the limit (max ${maxSeen} tasks seen)`);
  });
});
