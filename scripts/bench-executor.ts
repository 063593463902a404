// Benchmark of the Docker executor on the local engine: the latency of one
// task's full container life (prepare → start → wait → remove), sequentially
// and with several tasks at once. Prints one JSON object per line.
// Usage: node build/scripts/bench-executor.js [--n 10] [--parallel 4]
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { DockerExecutor } from "../src/workers/agent/executor/docker-executor.js";
import type { ContainerTask } from "../src/workers/agent/executor/types.js";

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

function stats(ms: number[]): { median: number; min: number; max: number; p90: number } {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { median: q(0.5), min: s[0]!, max: s[s.length - 1]!, p90: q(0.9) };
}

const n = arg("n", 10);
const parallel = arg("parallel", 4);
const addr = execFileSync(new URL("../../scripts/docker-engine.sh", import.meta.url).pathname, ["start"], { encoding: "utf8" }).trim();
const exec = new DockerExecutor(addr);
const nodeId = `bench${randomBytes(4).toString("hex")}`;
let serial = 0;

async function lifecycle(): Promise<number> {
  serial++;
  const task: ContainerTask = {
    taskId: randomBytes(8).toString("hex"),
    serviceId: "benchsvc",
    serviceName: "bench",
    nodeId,
    slot: serial,
    image: "busybox:local",
    command: ["true"],
  };
  const t0 = performance.now();
  const c = exec.controller(task);
  await c.prepare();
  await c.start();
  const r = await c.wait();
  await c.remove();
  if (r.exitCode !== 0) throw new Error(`task exited ${r.exitCode}`);
  return performance.now() - t0;
}

await lifecycle(); // warm-up
const seq: number[] = [];
for (let i = 0; i < n; i++) seq.push(await lifecycle());
const s = stats(seq);
console.log(JSON.stringify({ name: "executor.lifecycle.sequential", value: Math.round(s.median), unit: "ms", ...roundAll(s), n, loadavg: loadavg()[0] }));

const t0 = performance.now();
const par: number[] = [];
for (let i = 0; i < n; i += parallel) {
  par.push(...(await Promise.all(Array.from({ length: Math.min(parallel, n - i) }, () => lifecycle()))));
}
const wall = performance.now() - t0;
const p = stats(par);
console.log(JSON.stringify({ name: "executor.lifecycle.parallel", value: Math.round(p.median), unit: "ms", ...roundAll(p), n, parallel, loadavg: loadavg()[0] }));
console.log(JSON.stringify({ name: "executor.throughput", value: Number(((n * 1000) / wall).toFixed(2)), unit: "tasks/s", n, parallel }));

function roundAll(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v)]));
}
