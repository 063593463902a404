// Raft storage benchmarks, one JSON object per line:
//   fsync latency of a small write on the raft directory's filesystem,
//   latency of a lone WAL save (one write + one fsync),
//   group-commit throughput with many concurrent saves.
// Usage: node build/scripts/bench-fsync.js [dir]   (default: a temp dir)

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EntryType } from "../src/workers/manager/raft/core/types.js";
import { RaftStorage, measureFsyncLatency } from "../src/workers/manager/raft/storage/index.js";

function emit(name: string, value: number, unit: string, details: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ name, value: Math.round(value * 1000) / 1000, unit, ...details }));
}

async function main(): Promise<void> {
  const parent = process.argv[2] ?? (await mkdtemp(join(tmpdir(), "bench-fsync-")));
  const dir = join(parent, "raft-bench");
  try {
    const f = await measureFsyncLatency(parent, { samples: 300, bytes: 512 });
    emit("fsync_latency_median", f.medianMs, "ms", { dir: parent, samples: f.samples, bytes: f.bytes });
    emit("fsync_latency_p99", f.p99Ms, "ms", { dir: parent, samples: f.samples, bytes: f.bytes });

    const { storage } = await RaftStorage.open(dir, { segmentSize: 64 * 1024 * 1024 });
    const data = new Uint8Array(256).fill(7);
    let index = 0;
    const lone: number[] = [];
    for (let i = 0; i < 300; i++) {
      const t0 = process.hrtime.bigint();
      await storage.save({ term: 1, vote: 1, commit: index }, [{ index: ++index, term: 1, type: 0 as EntryType, data }]);
      lone.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    lone.sort((a, b) => a - b);
    emit("wal_save_latency_median", lone[Math.floor(lone.length / 2)]!, "ms", { entries_per_save: 1, entry_bytes: data.length });
    emit("wal_save_latency_p99", lone[Math.floor(lone.length * 0.99)]!, "ms", { entries_per_save: 1, entry_bytes: data.length });

    for (const concurrency of [16, 256]) {
      const before = storage.stats();
      const total = 4000;
      const t0 = process.hrtime.bigint();
      let inFlight: Promise<void>[] = [];
      for (let i = 0; i < total; i++) {
        inFlight.push(storage.save({ term: 1, vote: 1, commit: index }, [{ index: ++index, term: 1, type: 0 as EntryType, data }]));
        if (inFlight.length >= concurrency) {
          await Promise.all(inFlight);
          inFlight = [];
        }
      }
      await Promise.all(inFlight);
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const after = storage.stats();
      emit("wal_group_commit_throughput", total / secs, "saves/s", {
        concurrency,
        saves: total,
        fsyncs: after.fsyncs - before.fsyncs,
        saves_per_fsync: total / (after.fsyncs - before.fsyncs),
      });
    }
    await storage.close();
  } finally {
    if (process.argv[2] === undefined) await rm(parent, { recursive: true, force: true });
    else await rm(dir, { recursive: true, force: true });
  }
}

await main();
