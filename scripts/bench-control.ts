// Control-plane write throughput: CreateService (replicas 0) calls over one
// control-socket connection — sequential, then 8 and 64 in flight — followed
// by as many RemoveService calls, against a swarmd started by this script
// (the built dist/main.js, real TLS on the unix socket, real WAL fsyncs).
// SwarmKit's own swarmd on a machine like this: 426–613 creates/s sequential
// and 706–949/s with 8 in flight (../shared/reference/swarmkit-observed.md).
// Then the same on a 3-manager cluster, through the leader's socket and
// through a follower's (which forwards writes to the leader).
// Usage: node build/scripts/bench-control.js [--count 2000]
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { CreateServiceRequest, RemoveServiceRequest, type ControlClient, type CreateServiceResponse } from "../src/shared/api/index.js";
import { unary, waitForControl } from "../test/helpers/control.js";
import { argNumber, emit, latencySummary } from "./lib/bench-util.js";
import { startSwarmdCluster } from "./lib/cluster.js";

const COUNT = argNumber("count", 2000);
const SWARMD = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

function createReq(name: string): CreateServiceRequest {
  return CreateServiceRequest.fromPartial({
    spec: {
      annotations: { name },
      task: { runtime: { $case: "container", value: { image: "busybox:local" } } },
      mode: { $case: "replicated", value: { replicas: 0 } },
    },
  });
}

/** Run `count` calls with `inFlight` at a time; returns per-call latencies in ms and the elapsed seconds. */
async function drive(count: number, inFlight: number, call: (i: number) => Promise<unknown>): Promise<{ lat: number[]; secs: number }> {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) {
        const i = next++;
        const s = performance.now();
        await call(i);
        lat.push(performance.now() - s);
      }
    }),
  );
  return { lat, secs: (performance.now() - t0) / 1000 };
}

async function benchOne(client: ControlClient, label: string, inFlight: number): Promise<void> {
  const ids: string[] = [];
  const creates = await drive(COUNT, inFlight, async (i) => {
    const res = await unary<"createService", CreateServiceRequest, CreateServiceResponse>(client, "createService", createReq(`b-${label}-${inFlight}-${i}`));
    ids.push(res.service!.id);
  });
  emit(`control_create_service_${label}_${inFlight}_in_flight`, COUNT / creates.secs, "creates/s", { in_flight: inFlight, calls: COUNT, latency_ms: latencySummary(creates.lat), cluster: label });
  const removes = await drive(ids.length, inFlight, (i) => unary(client, "removeService", RemoveServiceRequest.fromPartial({ serviceId: ids[i]! })));
  emit(`control_remove_service_${label}_${inFlight}_in_flight`, ids.length / removes.secs, "removes/s", { in_flight: inFlight, calls: ids.length, latency_ms: latencySummary(removes.lat), cluster: label });
}

const dir = await mkdtemp(join(tmpdir(), "bench-control-"));
const stateDir = join(dir, "state");
const child = spawn(process.execPath, [SWARMD, "-d", stateDir, "--listen-remote-api", "127.0.0.1:0", "-l", "warn"], { stdio: ["ignore", "ignore", "inherit"] });
try {
  const client = await waitForControl(join(stateDir, "swarmd.sock"));
  // Warm up the connection and the JIT before measuring.
  await drive(1000, 8, (i) => unary(client, "createService", createReq(`warm-${i}`)));
  for (const inFlight of [1, 8, 64]) await benchOne(client, "single_manager", inFlight);
  client.close();
} finally {
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  await rm(dir, { recursive: true, force: true });
}

// Three managers: through the leader, then through a follower.
const cluster = await startSwarmdCluster({ managers: 3, tickInterval: "100ms" });
try {
  const leader = await cluster.leader();
  const follower = cluster.members.find((m) => m !== leader)!;
  for (const [label, member] of [["three_managers_via_leader", leader], ["three_managers_via_follower", follower]] as const) {
    const client = cluster.connect(member);
    await drive(500, 8, (i) => unary(client, "createService", createReq(`warm-${label}-${i}`)));
    for (const inFlight of [1, 8, 64]) await benchOne(client, label, inFlight);
    client.close();
  }
} finally {
  await cluster.stop();
}
