// Measures what one durable WAL append costs on a given filesystem: a small
// positional write followed by fdatasync, repeated. Benchmarks print this
// beside store figures, since it bounds raft's commit latency.

import { open, unlink } from "node:fs/promises";
import { join } from "node:path";

export interface FsyncLatency {
  samples: number;
  bytes: number;
  medianMs: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
}

export async function measureFsyncLatency(dir: string, opts: { samples?: number; bytes?: number } = {}): Promise<FsyncLatency> {
  const samples = opts.samples ?? 200;
  const bytes = opts.bytes ?? 512;
  const file = join(dir, `.fsync-probe-${process.pid}-${Date.now()}`);
  const buf = Buffer.alloc(bytes, 0xa5);
  const fh = await open(file, "w+", 0o600);
  const times: number[] = [];
  try {
    await fh.truncate(bytes * samples);
    await fh.sync();
    for (let i = 0; i < samples; i++) {
      const t0 = process.hrtime.bigint();
      await fh.write(buf, 0, bytes, i * bytes);
      await fh.datasync();
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  } finally {
    await fh.close();
    await unlink(file).catch(() => undefined);
  }
  times.sort((a, b) => a - b);
  const at = (q: number): number => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  return {
    samples,
    bytes,
    medianMs: at(0.5),
    p99Ms: at(0.99),
    meanMs: times.reduce((a, b) => a + b, 0) / times.length,
    maxMs: times[times.length - 1]!,
  };
}
