// bench:replication's grpc-js floor: three processes that replicate and fsync
// like a swarmd cluster, driven by the benchmark's own swarmd client.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { status as Status, type ServiceError } from "@grpc/grpc-js";
import { processCpuMs } from "../../scripts/lib/bench-util.js";
import { startGrpcjsReplicationFloor } from "../../scripts/lib/grpcjs-replication-floor.js";
import { SwarmdKv } from "../../scripts/lib/swarmd-kv.js";

const logBytes = (dir: string, role: string): number =>
  readdirSync(dir)
    .filter((f) => f.startsWith(`${role}-`) && f.endsWith(".wal"))
    .reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);

test("the grpc-js replication floor answers a write once a majority has it on disk, and stops cleanly", async () => {
  const floor = await startGrpcjsReplicationFloor();
  const kv = new SwarmdKv(floor.socket);
  try {
    const value = Buffer.alloc(256, 1);
    await Promise.all(Array.from({ length: 20 }, (_, i) => kv.put(`w${i}`, value)));
    assert.ok(logBytes(floor.dir, "leader") >= 20 * 256, "the leader wrote every request to its log");
    assert.ok(logBytes(floor.dir, "follower") >= 20 * 256, "the followers wrote them too");

    // With both followers frozen no write can be acknowledged: the leader must not answer.
    for (const pid of floor.pids.followers) process.kill(pid, "SIGSTOP");
    try {
      await assert.rejects(kv.put("unacked", value, 1500), (err: ServiceError) => err.code === Status.DEADLINE_EXCEEDED);
    } finally {
      for (const pid of floor.pids.followers) process.kill(pid, "SIGCONT");
    }
    // One follower is enough again.
    process.kill(floor.pids.followers[0]!, "SIGSTOP");
    try {
      await kv.put("one-follower", value, 10_000);
    } finally {
      process.kill(floor.pids.followers[0]!, "SIGCONT");
    }
  } finally {
    kv.close();
    await floor.stop();
  }
  assert.equal(existsSync(floor.dir), false, "its temp dir is gone");
  for (const pid of [floor.pids.leader, ...floor.pids.followers]) assert.equal(processCpuMs(pid), undefined, `process ${pid} is gone`);
});
