// SwarmKit's real Go swarmd joins our cluster as a worker: it gets an ECDSA
// certificate from our (RSA) CA, holds a dispatcher session, becomes READY and
// runs the tasks our manager assigns it on the shared Docker engine.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type Docker from "dockerode";
import {
  CreateServiceRequest,
  type Cluster,
  type ControlClient,
  type CreateServiceResponse,
  type ListNodesResponse,
  type ListTasksResponse,
} from "../../src/shared/api/index.js";
import { freePorts } from "../../scripts/lib/cluster.js";
import { startSwarmd, tempDir, type SwarmdProcess } from "../main/helpers.js";
import { unary, waitForControl } from "../helpers/control.js";
import { rawDocker, removeContainersByLabel, startEngine, uniqueId } from "../helpers/engine.js";
import { goSwarmd } from "../helpers/swarmkit-go.js";
import { eventually } from "../helpers/wait.js";

const READY = 2; // NodeStatus.READY
const RUNNING = 512; // TaskState.RUNNING

describe("a Go SwarmKit worker joins our cluster", { timeout: 90_000 }, () => {
  let dir: { path: string; remove(): Promise<void> };
  let ours: SwarmdProcess;
  let goProc: ChildProcess | undefined;
  let goLog = "";
  let client: ControlClient;
  let engine = "";
  let docker: Docker;
  let goNodeId = "";
  const hostname = uniqueId("gonode");

  async function nodes(): Promise<ListNodesResponse["nodes"]> {
    return (await unary<"listNodes", object, ListNodesResponse>(client, "listNodes", { filters: undefined })).nodes;
  }

  before(async () => {
    const goBin = await goSwarmd();
    engine = await startEngine();
    docker = rawDocker(engine);
    dir = await tempDir("swarmd-goworker-");
    const [port] = await freePorts(1);
    const stateDir = join(dir.path, "ours");
    ours = startSwarmd(["-d", stateDir, "--listen-remote-api", `127.0.0.1:${port}`, "--log-level", "info", "--tick-interval", "100ms", "--hostname", "ours", "--engine-addr", engine]);
    client = await waitForControl(join(stateDir, "swarmd.sock"));
    const cluster = await eventually("the cluster object", async () =>
      (await unary<"listClusters", object, { clusters: Cluster[] }>(client, "listClusters", { filters: undefined })).clusters[0],
    );
    const token = cluster.rootCa!.joinTokens!.worker;
    const started = Date.now();
    goProc = spawn(goBin, ["-d", join(dir.path, "go"), "--listen-control-api", join(dir.path, "go.sock"), "--join-addr", `127.0.0.1:${port}`, "--join-token", token, "--hostname", hostname, "--engine-addr", engine], { stdio: ["ignore", "ignore", "pipe"] });
    goProc.stderr!.on("data", (d: Buffer) => (goLog = (goLog + d.toString()).slice(-20_000)));
    const node = await eventually("the Go node to be READY", async () => (await nodes()).find((n) => n.description?.hostname === hostname && n.status?.state === READY), 45_000)
      .catch((err: unknown) => { throw new Error(`${(err as Error).message}\nGo swarmd log tail:\n${goLog.slice(-3000)}`); });
    goNodeId = node.id;
    console.log(JSON.stringify({ name: "go-worker-join-to-ready", value: Date.now() - started, unit: "ms" }));
  });

  after(async () => {
    client?.close();
    if (goProc && goProc.exitCode === null && goProc.signalCode === null) {
      const gone = new Promise((r) => goProc!.once("exit", r));
      goProc.kill("SIGKILL");
      await gone;
    }
    ours?.kill();
    await ours?.exited;
    if (engine && goNodeId) await removeContainersByLabel(engine, "com.docker.swarm.node.id", goNodeId);
    await dir?.remove();
  });

  test("the Go node holds an ECDSA certificate from our RSA root, with its node ID and the worker role", async () => {
    const pem = readFileSync(join(dir.path, "go", "certificates", "swarm-node.crt"), "utf8");
    const cert = new X509Certificate(pem);
    const root = new X509Certificate(readFileSync(join(dir.path, "ours", "certificates", "swarm-root-ca.crt")));
    assert.equal(cert.publicKey.asymmetricKeyType, "ec");
    assert.ok(cert.verify(root.publicKey));
    const subject = cert.subject.split("\n");
    assert.ok(subject.includes(`CN=${goNodeId}`), cert.subject);
    assert.ok(subject.includes("OU=swarm-worker"), cert.subject);
    const node = (await nodes()).find((n) => n.id === goNodeId)!;
    assert.equal(node.role, 0); // NodeRole.WORKER
    assert.ok(node.description?.engine, "the Go agent reported its engine description");
  });

  test("tasks constrained to the Go node run as containers there, and go away with the service", async () => {
    const name = uniqueId("gosvc");
    const res = await unary<"createService", CreateServiceRequest, CreateServiceResponse>(client, "createService", CreateServiceRequest.fromPartial({
      spec: {
        annotations: { name },
        task: {
          runtime: { $case: "container", value: { image: "busybox:local", command: ["sleep"], args: ["1000"] } },
          placement: { constraints: [`node.hostname==${hostname}`] },
        },
        mode: { $case: "replicated", value: { replicas: 2 } },
      },
    }));
    const serviceId = res.service!.id;
    await eventually("2 tasks RUNNING on the Go node", async () => {
      const ts = (await unary<"listTasks", object, ListTasksResponse>(client, "listTasks", { filters: { serviceIds: [serviceId], names: [], idPrefixes: [], labels: {}, nodeIds: [], desiredStates: [], namePrefixes: [], runtimes: [], upToDate: false } })).tasks;
      const up = ts.filter((t) => t.nodeId === goNodeId && t.status?.state === RUNNING);
      return up.length === 2 ? up : undefined;
    }, 45_000);
    const cs = await docker.listContainers({ filters: { label: [`com.docker.swarm.service.id=${serviceId}`] } });
    assert.equal(cs.length, 2);
    for (const c of cs) assert.equal(c.Labels["com.docker.swarm.node.id"], goNodeId);
    await unary(client, "removeService", { serviceId });
    await eventually("the Go agent to remove its containers", async () =>
      (await docker.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.id=${serviceId}`] } })).length === 0 ? true : undefined, 30_000);
  });
});
