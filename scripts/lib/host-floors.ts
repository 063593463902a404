// What the machine itself costs, printed beside a benchmark's figures so that
// runs on different hosts can be told apart. The same code gave 4–6× fewer
// replicated writes/s on one 2-core VM than on another (docs/benchmarks.md,
// session 10); the difference was the host: first touches of memory and
// thread wake-ups, which a Node.js daemon makes far more of than Go's etcd.
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, release, tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { measureFsyncLatency } from "../../src/workers/manager/raft/storage/index.js";
import { emit, percentile, round3 } from "./bench-util.js";

const PAGE = 4096;

/**
 * Microseconds per first touch of a 4 KiB page: a fresh 64 MiB allocation
 * (malloc'd, so untouched until written) written one byte per page. Each
 * write takes a page fault; on bare metal about 0.1–0.3 µs.
 */
export function pageFaultMicros(bytes = 64 << 20): number {
  const buf = Buffer.allocUnsafeSlow(bytes);
  const t = process.hrtime.bigint();
  for (let i = 0; i < bytes; i += PAGE) buf[i] = 1;
  const us = Number(process.hrtime.bigint() - t) / 1000;
  return us / (bytes / PAGE);
}

/**
 * A message to a worker thread and its answer, through MessagePorts: two
 * event-loop wake-ups on different threads, as comlink, piscina and libuv's
 * thread pool make them. Round-trip times in microseconds, sorted.
 */
export async function threadRoundTripsMicros(samples = 2000): Promise<number[]> {
  const worker = new Worker("const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));", { eval: true });
  // A worker that fails fails the measurement instead of leaving it waiting for an answer.
  let answered: (() => void) | undefined;
  let failed: ((err: Error) => void) | undefined;
  const dead = new Promise<never>((_, reject) => (failed = reject));
  dead.catch(() => undefined);
  worker.on("error", (err) => failed?.(err));
  worker.on("exit", (code) => failed?.(new Error(`the echo worker exited (${code})`)));
  worker.on("message", () => answered?.());
  try {
    await Promise.race([new Promise((resolve) => worker.once("online", resolve)), dead]);
    const out: number[] = [];
    for (let i = 0; i < samples + 200; i++) {
      const t = process.hrtime.bigint();
      await Promise.race([new Promise<void>((resolve) => ((answered = resolve), worker.postMessage(i))), dead]);
      if (i >= 200) out.push(Number(process.hrtime.bigint() - t) / 1000);
    }
    return out.sort((a, b) => a - b);
  } finally {
    failed = undefined;
    await worker.terminate();
  }
}

/** What identifies the host: CPU, cores, kernel, and what the kernel says about virtualisation. */
export function hostDescription(): Record<string, unknown> {
  const read = (p: string): string => {
    try {
      return readFileSync(p, "utf8");
    } catch {
      return "";
    }
  };
  const cpuinfo = read("/proc/cpuinfo");
  const cmdline = read("/proc/cmdline");
  return {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    kernel: release(),
    hypervisor: /^flags\s*:.*\bhypervisor\b/m.test(cpuinfo),
    // Boot flags that change what an idle or waking vCPU costs.
    virt_boot_flags: cmdline.split(/\s+/).filter((f) => /pvm|haltpoll|idle=|nohz|mitigations/.test(f)),
    cpuidle_driver: read("/sys/devices/system/cpu/cpuidle/current_driver").trim() || "none",
  };
}

/** Prints `host` and the memory and thread floors as benchmark lines. */
export async function emitHostFloors(): Promise<void> {
  emit("host", cpus().length, "cores", hostDescription());
  pageFaultMicros(8 << 20); // the first call pays for compiling the loop
  const faults = [pageFaultMicros(), pageFaultMicros()].sort((a, b) => a - b);
  emit("floor_page_fault_us", round3(faults[0]!), "us", { what: "first write to a fresh 4 KiB page (64 MiB, best of two)" });
  const rt = await threadRoundTripsMicros();
  emit("floor_thread_roundtrip_p50", round3(percentile(rt, 50)), "us", {
    p99: round3(percentile(rt, 99)),
    what: "postMessage to a worker thread and back (two event-loop wake-ups)",
  });
}

/**
 * Prints `floor_fsync_latency_p50`: a 512-byte write + fdatasync in the temp dir, where the
 * benchmarks' state dirs live. Returns the median in ms.
 */
export async function emitFsyncFloor(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "bench-fsync-"));
  try {
    const fsync = await measureFsyncLatency(dir, { samples: 300 });
    emit("floor_fsync_latency_p50", fsync.medianMs, "ms", { p99: round3(fsync.p99Ms), bytes: fsync.bytes, dir: tmpdir() });
    return fsync.medianMs;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
