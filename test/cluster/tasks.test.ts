// Services become running containers on the real Docker engine (issue 7),
// single node: create, scale, replace a container killed behind swarmd's
// back in its slot, remove.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type Docker from "dockerode";
import {
  CreateServiceRequest,
  UpdateServiceRequest,
  type ControlClient,
  type CreateServiceResponse,
  type GetServiceResponse,
  type ListNodesResponse,
  type ListTasksResponse,
  type Service,
  type Task,
} from "../../src/shared/api/index.js";
import { startSwarmd, tempDir, testArgs, type SwarmdProcess } from "../main/helpers.js";
import { unary, waitForControl } from "../helpers/control.js";
import { rawDocker, removeContainersByLabel, startEngine, uniqueId } from "../helpers/engine.js";
import { eventually as waitFor } from "../helpers/wait.js";

const RUNNING = 512; // TaskState.RUNNING

describe("services become running containers (single node, real engine)", { timeout: 300_000 }, () => {
  let dir: { path: string; remove(): Promise<void> };
  let proc: SwarmdProcess;
  let client: ControlClient;
  let docker: Docker;
  let engine = "";
  let nodeId = "";
  const name = uniqueId("web");

  async function tasks(serviceId: string): Promise<Task[]> {
    const res = await unary<"listTasks", object, ListTasksResponse>(client, "listTasks", { filters: { serviceIds: [serviceId], names: [], idPrefixes: [], labels: {}, nodeIds: [], desiredStates: [], namePrefixes: [], runtimes: [], upToDate: false } });
    return res.tasks;
  }
  async function running(serviceId: string): Promise<Task[]> {
    return (await tasks(serviceId)).filter((t) => t.status?.state === RUNNING && t.desiredState === RUNNING);
  }
  async function containers(serviceId: string): Promise<Docker.ContainerInfo[]> {
    return docker.listContainers({ filters: { label: [`com.docker.swarm.service.id=${serviceId}`] } });
  }
  async function scale(serviceId: string, replicas: number): Promise<void> {
    const svc = (await unary<"getService", object, GetServiceResponse>(client, "getService", { serviceId, insertDefaults: false })).service!;
    await unary(client, "updateService", UpdateServiceRequest.fromPartial({
      serviceId,
      serviceVersion: svc.meta!.version!,
      spec: { ...svc.spec!, mode: { $case: "replicated", value: { replicas } } },
    }));
  }

  before(async () => {
    engine = await startEngine();
    docker = rawDocker(engine);
    dir = await tempDir("swarmd-tasks-");
    const stateDir = join(dir.path, "state");
    proc = startSwarmd(testArgs(stateDir, "--tick-interval", "50ms", "--engine-addr", engine));
    client = await waitForControl(join(stateDir, "swarmd.sock"));
    nodeId = await waitFor("the node to be READY", async () => {
      const res = await unary<"listNodes", object, ListNodesResponse>(client, "listNodes", { filters: undefined });
      const n = res.nodes.find((x) => x.status?.state === 2);
      return n?.id;
    });
  });

  after(async () => {
    client?.close();
    proc.kill();
    await proc.exited;
    // swarmd leaves its containers running on purpose; clean them up here.
    if (nodeId) await removeContainersByLabel(engine, "com.docker.swarm.node.id", nodeId);
    await dir.remove();
  });

  let serviceId = "";

  test("a 3-replica service runs 3 containers named <service>.<slot>.<task id> with SwarmKit's labels", async () => {
    const res = await unary<"createService", CreateServiceRequest, CreateServiceResponse>(client, "createService", CreateServiceRequest.fromPartial({
      spec: {
        annotations: { name },
        task: { runtime: { $case: "container", value: { image: "busybox:local", command: ["sleep"], args: ["3600"] } } },
        mode: { $case: "replicated", value: { replicas: 3 } },
      },
    }));
    serviceId = res.service!.id;
    const ts = await waitFor("3 running tasks", async () => {
      const r = await running(serviceId);
      return r.length === 3 ? r : undefined;
    });
    assert.deepEqual(ts.map((t) => t.slot).sort(), [1, 2, 3]);
    const cs = await containers(serviceId);
    assert.equal(cs.length, 3);
    for (const t of ts) {
      const c = cs.find((x) => x.Labels["com.docker.swarm.task.id"] === t.id);
      assert.ok(c, `a container for task ${t.id}`);
      assert.equal(c.Names[0], `/${name}.${t.slot}.${t.id}`);
      assert.equal(c.Labels["com.docker.swarm.service.name"], name);
      assert.equal(c.Labels["com.docker.swarm.node.id"], nodeId);
      assert.equal(c.State, "running");
    }
  });

  test("scale to 5, then to 1", async () => {
    await scale(serviceId, 5);
    await waitFor("5 running containers", async () => ((await containers(serviceId)).filter((c) => c.State === "running").length === 5 ? true : undefined));
    await scale(serviceId, 1);
    await waitFor("1 running container", async () => ((await containers(serviceId)).filter((c) => c.State === "running").length === 1 ? true : undefined));
    const r = await running(serviceId);
    assert.equal(r.length, 1);
  });

  test("a container killed behind swarmd's back is replaced in its slot", async () => {
    const [victim] = await running(serviceId);
    assert.ok(victim);
    const cid = victim.status?.runtimeStatus?.$case === "container" ? victim.status.runtimeStatus.value.containerId : "";
    assert.ok(cid, "the task reports its container ID");
    await docker.getContainer(cid).kill();
    const replacement = await waitFor("a replacement task", async () => {
      const r = await running(serviceId);
      return r.find((t) => t.id !== victim.id && t.slot === victim.slot);
    });
    assert.equal(replacement.slot, victim.slot);
  });

  test("service rm removes its containers", async () => {
    await unary(client, "removeService", { serviceId });
    await waitFor("no containers left", async () => ((await containers(serviceId)).length === 0 ? true : undefined));
    const left = (await unary<"listServices", object, { services: Service[] }>(client, "listServices", { filters: undefined })).services;
    assert.ok(!left.some((s) => s.id === serviceId));
  });

  test("stopping swarmd (SIGTERM) leaves the node's running containers alone", async () => {
    const res = await unary<"createService", CreateServiceRequest, CreateServiceResponse>(client, "createService", CreateServiceRequest.fromPartial({
      spec: {
        annotations: { name: `${name}-keep` },
        task: { runtime: { $case: "container", value: { image: "busybox:local", command: ["sleep"], args: ["3600"] } } },
        mode: { $case: "replicated", value: { replicas: 1 } },
      },
    }));
    const keepId = res.service!.id;
    await waitFor("1 running task", async () => ((await running(keepId)).length === 1 ? true : undefined));
    const before = await containers(keepId);
    assert.equal(before.length, 1);
    proc.child.kill("SIGTERM");
    const exit = await proc.exited;
    assert.equal(exit.code, 0);
    const after = await containers(keepId);
    assert.equal(after.length, 1);
    assert.equal(after[0]!.Id, before[0]!.Id);
    assert.equal(after[0]!.State, "running");
  });
});
