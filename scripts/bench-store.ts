// Durable committed writes on a single manager: a real RaftNode (WAL with
// fsync, group commit) and the store, in process, with 1, 16 and 64
// concurrent writers each running store transactions back to back. Printed
// beside this disk's fsync latency, the physical floor of a lone write.
// Usage: node build/scripts/bench-store.js [--seconds 3]
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Service } from "../src/shared/api/index.js";
import { newId } from "../src/shared/ids.js";
import { RaftNode } from "../src/workers/manager/raft/raft-node.js";
import { measureFsyncLatency } from "../src/workers/manager/raft/storage/index.js";
import { MemoryStore, update } from "../src/workers/manager/store/index.js";
import { argNumber, emit, latencySummary } from "./lib/bench-util.js";

const SECONDS = argNumber("seconds", 3);
const base = await mkdtemp(join(tmpdir(), "bench-store-"));
try {
  const fsync = await measureFsyncLatency(base, { samples: 300 });
  emit("fsync_latency_p50", fsync.medianMs, "ms", { p99: fsync.p99Ms, bytes: 512, dir: tmpdir() });

  for (const writers of [1, 16, 64]) {
    const dir = join(base, `w${writers}`);
    const store = new MemoryStore();
    const node = await RaftNode.open({ dir, nodeId: "bench", addr: "127.0.0.1:1", tickIntervalMs: 100, electionTick: 3, heartbeatTick: 1, store });
    const leader = new Promise<void>((r) => node.onLeadership((l) => l && r()));
    node.start();
    await leader;
    const latencies: number[] = [];
    let stop = false;
    let n = 0;
    const t0 = performance.now();
    const loops = Array.from({ length: writers }, async () => {
      while (!stop) {
        const s = performance.now();
        await update(store, node, (tx) =>
          tx.create("service", Service.fromPartial({ id: newId(), spec: { annotations: { name: `svc-${n++}` } } })),
        );
        latencies.push(performance.now() - s);
      }
    });
    setTimeout(() => (stop = true), SECONDS * 1000);
    await Promise.all(loops);
    const elapsed = (performance.now() - t0) / 1000;
    await node.stop();
    emit(`store_durable_writes_${writers}_writers`, latencies.length / elapsed, "writes/s", {
      writers,
      commit_latency_ms: latencySummary(latencies),
      writes: latencies.length,
      seconds: Math.round(elapsed * 100) / 100,
    });
  }
} finally {
  await rm(base, { recursive: true, force: true });
}
