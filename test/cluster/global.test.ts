// Global services on the real engine (issue 8): a manager and two workers
// (all agents on one Docker engine) run one task per node, containers named
// <service>.<node id>.<task id>; draining a node removes its task, a fourth
// node joining gets one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type Docker from "dockerode";
import {
  CreateServiceRequest,
  NodeSpec_Availability,
  UpdateNodeRequest,
  durationFromMillis,
  type ControlClient,
  type CreateServiceResponse,
  type ListClustersResponse,
  type ListNodesResponse,
  type ListTasksResponse,
  type Node,
  type Task,
} from "../../src/shared/api/index.js";
import { startSwarmd, tempDir, testArgs, type SwarmdProcess } from "../main/helpers.js";
import { unary, waitForControl } from "../helpers/control.js";
import { rawDocker, removeContainersByLabel, startEngine, uniqueId } from "../helpers/engine.js";
import { eventually as waitFor } from "../helpers/wait.js";

const RUNNING = 512; // TaskState.RUNNING
const READY = 2; // NodeStatus.State.READY

test("a global service runs one task per node and follows a drain and a new join", { timeout: 180_000 }, async () => {
  const engine = await startEngine();
  const docker: Docker = rawDocker(engine);
  const dir = await tempDir("swarmd-global-");
  const procs: SwarmdProcess[] = [];
  const args = ["--tick-interval", "100ms", "--engine-addr", engine];
  let client: ControlClient | undefined;
  const name = uniqueId("glob");
  let serviceId = "";
  try {
    const m = startSwarmd(testArgs(join(dir.path, "m"), ...args));
    procs.push(m);
    await m.waitForLog(/"remoteApi":"127\.0\.0\.1:[1-9]\d*"/, 30_000);
    const addr = `127.0.0.1:${/"remoteApi":"127\.0\.0\.1:([1-9]\d*)"/.exec(m.stderr())![1]!}`;
    client = await waitForControl(join(dir.path, "m", "swarmd.sock"), 30_000);
    const c = client;
    const clusters = await unary<"listClusters", object, ListClustersResponse>(c, "listClusters", { filters: undefined });
    const token = clusters.clusters[0]!.rootCa!.joinTokens!.worker;
    const join_ = (d: string) => {
      const p = startSwarmd(testArgs(join(dir.path, d), ...args, "--join-addr", addr, "--join-token", token));
      procs.push(p);
    };

    const nodes = async (): Promise<Node[]> => (await unary<"listNodes", object, ListNodesResponse>(c, "listNodes", { filters: undefined })).nodes;
    const readyNodes = async (n: number): Promise<Node[] | undefined> => {
      const ns = (await nodes()).filter((x) => x.status?.state === READY);
      return ns.length === n ? ns : undefined;
    };
    const liveTasks = async (): Promise<Task[]> => {
      const res = await unary<"listTasks", object, ListTasksResponse>(c, "listTasks", {
        filters: { serviceIds: [serviceId], names: [], idPrefixes: [], labels: {}, nodeIds: [], desiredStates: [], namePrefixes: [], runtimes: [], upToDate: false },
      });
      return res.tasks.filter((t) => t.desiredState === RUNNING && t.status?.state === RUNNING);
    };
    /** Node IDs with a running task once they are exactly `want`. */
    const tasksOn = (want: string[]) => async () => {
      const on = (await liveTasks()).map((t) => t.nodeId).sort();
      return JSON.stringify(on) === JSON.stringify([...want].sort()) ? on : undefined;
    };

    join_("w1");
    join_("w2");
    const three = await waitFor("3 READY nodes", () => readyNodes(3), 60_000);
    const ids = three.map((n) => n.id);

    const res = await unary<"createService", CreateServiceRequest, CreateServiceResponse>(c, "createService", CreateServiceRequest.fromPartial({
      spec: {
        annotations: { name },
        task: { runtime: { $case: "container", value: { image: "busybox:local", command: ["sleep"], args: ["3600"], stopGracePeriod: durationFromMillis(500) } } },
        mode: { $case: "global", value: {} },
      },
    }));
    serviceId = res.service!.id;
    await waitFor("a running task on each of the 3 nodes", tasksOn(ids), 90_000);
    const tasks = await liveTasks();
    assert.equal(tasks.length, 3);
    const containers = await docker.listContainers({ filters: { label: [`com.docker.swarm.service.id=${serviceId}`] } });
    assert.equal(containers.length, 3);
    for (const t of tasks) {
      assert.equal(t.slot, 0);
      const ctr = containers.find((x) => x.Labels["com.docker.swarm.task.id"] === t.id);
      assert.ok(ctr, `a container for task ${t.id}`);
      assert.equal(ctr.Names[0], `/${name}.${t.nodeId}.${t.id}`);
      assert.equal(ctr.Labels["com.docker.swarm.node.id"], t.nodeId);
    }

    // Drain a worker: its task goes, nothing replaces it.
    const worker = three.find((n) => n.role === 0)!;
    const drained = tasks.find((t) => t.nodeId === worker.id)!;
    await unary(c, "updateNode", UpdateNodeRequest.fromPartial({
      nodeId: worker.id,
      nodeVersion: worker.meta!.version!,
      spec: { ...worker.spec!, availability: NodeSpec_Availability.DRAIN },
    }));
    const rest = ids.filter((id) => id !== worker.id);
    await waitFor("the drained node's task gone", tasksOn(rest), 60_000);
    await waitFor("its container stopped", async () => {
      const cs = await docker.listContainers({ filters: { label: [`com.docker.swarm.task.id=${drained.id}`] } });
      return cs.length === 0 ? true : undefined;
    });

    // A fourth node joins and gets the service's task.
    join_("w3");
    const four = await waitFor("4 READY nodes", () => readyNodes(4), 60_000).catch(async (err: Error) => {
      const states = (await nodes()).map((n) => `${n.id}:${n.status?.state}/${n.spec?.availability}`).join(" ");
      throw new Error(`${err.message} (nodes: ${states}; joiner log tail: ${procs.at(-1)!.stderr().slice(-1500)})`);
    });
    const newcomer = four.find((n) => !ids.includes(n.id))!;
    await waitFor("a task on the new node", tasksOn([...rest, newcomer.id]), 90_000);
    const after = await liveTasks();
    assert.equal(after.length, 3, "one per active node: 2 old + the new one, none on the drained node");
  } finally {
    client?.close();
    for (const p of procs.reverse()) {
      p.child.kill("SIGTERM");
      await p.exited;
    }
    if (serviceId) {
      // Every node's containers carry the service ID; remove them all.
      await removeContainersByLabel(engine, "com.docker.swarm.service.id", serviceId);
    }
    await dir.remove();
  }
});
