// Time from `service create` to all tasks RUNNING, for N = 1, 10 and 50
// containers on one node (a swarmd started by this script on the project's
// private Docker engine), printed beside the floor: the engine alone
// creating and starting the same N containers, in the same run.
// Usage: node build/scripts/bench-tasks.js [--sizes 1,10,50]
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { CreateServiceRequest, NodeStatus_State, type CreateServiceResponse, type ListNodesResponse, type ListTasksResponse } from "../src/shared/api/index.js";
import { unary, waitForControl } from "../test/helpers/control.js";
import { rawDocker, removeContainersByLabel, startEngine, uniqueId } from "../test/helpers/engine.js";
import { emit } from "./lib/bench-util.js";

const SWARMD = fileURLToPath(new URL("../../dist/main.js", import.meta.url));
const sizesArg = process.argv.indexOf("--sizes");
const SIZES = sizesArg > 0 ? process.argv[sizesArg + 1]!.split(",").map(Number) : [1, 10, 50];
const RUNNING = 512;

const engine = await startEngine();
const docker = rawDocker(engine);

async function engineFloor(n: number): Promise<number> {
  const label = uniqueId("floor");
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const c = await docker.createContainer({
        Image: "busybox:local",
        name: `${label}-${i}`,
        Cmd: ["sleep", "3600"],
        Labels: { "swarmkit-ts.bench": label },
        HostConfig: { NetworkMode: "none" },
      });
      await c.start();
    }),
  );
  const ms = performance.now() - t0;
  await removeContainersByLabel(engine, "swarmkit-ts.bench", label);
  return ms;
}

const dir = await mkdtemp(join(tmpdir(), "bench-tasks-"));
const stateDir = join(dir, "state");
const child = spawn(process.execPath, [SWARMD, "-d", stateDir, "--listen-remote-api", "127.0.0.1:0", "-l", "warn", "--engine-addr", engine], { stdio: ["ignore", "ignore", "inherit"] });
let nodeId = "";
try {
  const client = await waitForControl(join(stateDir, "swarmd.sock"));
  // Measure from a settled node: its agent's session is up and it is READY.
  for (;;) {
    const res = await unary<"listNodes", object, ListNodesResponse>(client, "listNodes", { filters: undefined });
    if (res.nodes.some((n) => n.status?.state === NodeStatus_State.READY)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const n of SIZES) {
    const floor = await engineFloor(n);
    const t0 = performance.now();
    const res = await unary<"createService", CreateServiceRequest, CreateServiceResponse>(client, "createService", CreateServiceRequest.fromPartial({
      spec: {
        annotations: { name: uniqueId(`bench${n}`) },
        task: { runtime: { $case: "container", value: { image: "busybox:local", command: ["sleep"], args: ["3600"] } } },
        mode: { $case: "replicated", value: { replicas: n } },
      },
    }));
    const serviceId = res.service!.id;
    for (;;) {
      const ts = (await unary<"listTasks", object, ListTasksResponse>(client, "listTasks", { filters: { serviceIds: [serviceId], names: [], idPrefixes: [], labels: {}, nodeIds: [], desiredStates: [], namePrefixes: [], runtimes: [], upToDate: false } })).tasks;
      const up = ts.filter((t) => t.status?.state === RUNNING);
      if (up.length >= n) {
        nodeId = up[0]!.nodeId;
        break;
      }
      if (performance.now() - t0 > 120_000) throw new Error(`service of ${n} not running after 120 s (${up.length} running)`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const ms = performance.now() - t0;
    emit(`tasks_create_to_running_${n}`, ms, "ms", { tasks: n, engine_floor_ms: Math.round(floor), ratio_to_floor: Math.round((ms / floor) * 100) / 100 });
    await unary(client, "removeService", { serviceId });
  }
  client.close();
} finally {
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  if (nodeId) await removeContainersByLabel(engine, "com.docker.swarm.node.id", nodeId);
  await rm(dir, { recursive: true, force: true });
}
