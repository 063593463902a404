// Placement on a real cluster (issue 8 part 4): one manager and two workers
// on one engine; node labels set through the control API; a constraint puts
// every task on the matching worker, and a memory reservation above every
// node's memory leaves the task pending with the per-reason message.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CreateServiceRequest,
  ListTasksRequest,
  UpdateNodeRequest,
  type Cluster,
  type ControlClient,
  type CreateServiceResponse,
  type ListTasksResponse,
  type Node,
  type Task,
  TaskSpec,
} from "../../src/shared/api/index.js";

import { startSwarmd, tempDir, testArgs, type SwarmdProcess } from "../main/helpers.js";
import { unary, waitForControl } from "../helpers/control.js";
import { removeContainersByLabel, startEngine, uniqueId } from "../helpers/engine.js";
import { eventually as waitFor } from "../helpers/wait.js";

const RUNNING = 512;
const PENDING = 64;

describe("placement on a 1-manager, 2-worker cluster (real engine)", { timeout: 180_000 }, () => {
  let dir: { path: string; remove(): Promise<void> };
  const procs: SwarmdProcess[] = [];
  let client: ControlClient;
  let engine = "";
  let nodes: Node[] = [];
  const tag = uniqueId("pl");

  const listNodes = () => unary<"listNodes", object, { nodes: Node[] }>(client, "listNodes", { filters: undefined }).then((r) => r.nodes);
  const tasksOf = (serviceId: string) =>
    unary<"listTasks", ListTasksRequest, ListTasksResponse>(client, "listTasks", ListTasksRequest.fromPartial({ filters: { serviceIds: [serviceId] } })).then((r) => r.tasks);
  async function createService(name: string, task: Parameters<typeof TaskSpec.fromPartial>[0], replicas: number): Promise<string> {
    const res = await unary<"createService", CreateServiceRequest, CreateServiceResponse>(client, "createService", CreateServiceRequest.fromPartial({
      spec: { annotations: { name }, task: TaskSpec.fromPartial(task), mode: { $case: "replicated", value: { replicas } } },
    }));
    return res.service!.id;
  }

  before(async () => {
    engine = await startEngine();
    dir = await tempDir("swarmd-placement-");
    const common = ["--tick-interval", "50ms", "--engine-addr", engine];
    const m = startSwarmd(testArgs(join(dir.path, "m"), ...common, "--hostname", `${tag}-m`));
    procs.push(m);
    await m.waitForLog(/"remoteApi":"127\.0\.0\.1:[1-9]\d*"/, 30_000);
    const port = /"remoteApi":"127\.0\.0\.1:([1-9]\d*)"/.exec(m.stderr())![1]!;
    client = await waitForControl(join(dir.path, "m", "swarmd.sock"), 30_000);
    const cluster = await unary<"listClusters", object, { clusters: Cluster[] }>(client, "listClusters", { filters: undefined });
    const token = cluster.clusters[0]!.rootCa!.joinTokens!.worker;
    for (const w of ["w1", "w2"]) {
      procs.push(startSwarmd(testArgs(join(dir.path, w), ...common, "--hostname", `${tag}-${w}`, "--join-addr", `127.0.0.1:${port}`, "--join-token", token)));
    }
    nodes = await waitFor("3 READY nodes", async () => {
      const ns = await listNodes();
      return ns.filter((n) => n.status?.state === 2).length === 3 ? ns : undefined;
    });
  });

  after(async () => {
    client?.close();
    for (const p of procs) p.kill();
    await Promise.all(procs.map((p) => p.exited));
    for (const n of nodes) await removeContainersByLabel(engine, "com.docker.swarm.node.id", n.id);
    await dir.remove();
  });

  test("a label constraint places every task on the matching worker", async () => {
    const w2 = nodes.find((n) => n.description?.hostname === `${tag}-w2`)!;
    assert.ok(w2, "worker w2 registered with its hostname");
    await unary(client, "updateNode", UpdateNodeRequest.fromPartial({
      nodeId: w2.id,
      nodeVersion: w2.meta!.version!,
      spec: { ...w2.spec!, annotations: { name: w2.spec?.annotations?.name ?? "", labels: { disk: "ssd" } } },
    }));
    const serviceId = await createService(`${tag}-ssd`, {
      runtime: { $case: "container", value: { image: "busybox:local", command: ["sleep"], args: ["3600"] } },
      placement: { constraints: ["node.labels.disk==ssd"] },
    }, 3);
    const running = await waitFor("3 running tasks", async () => {
      const ts = (await tasksOf(serviceId)).filter((t: Task) => t.status?.state === RUNNING);
      return ts.length === 3 ? ts : undefined;
    });
    assert.deepEqual([...new Set(running.map((t) => t.nodeId))], [w2.id]);
  });

  test("a memory reservation above every node's memory stays pending and says why", async () => {
    const serviceId = await createService(`${tag}-huge`, {
      runtime: { $case: "container", value: { image: "busybox:local", command: ["sleep"], args: ["3600"] } },
      resources: { reservations: { memoryBytes: 2 ** 50 } },
    }, 1);
    const err = await waitFor("a pending explanation", async () => {
      const t = (await tasksOf(serviceId))[0];
      return t?.status?.state === PENDING && t.status.err ? t.status.err : undefined;
    });
    assert.equal(err, "no suitable node (insufficient memory on 3 nodes)");
  });
});
