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

/** The size of each log file `role` members wrote, one per member. */
const logSizes = (dir: string, role: string): number[] =>
  readdirSync(dir)
    .filter((f) => f.startsWith(`${role}-`) && f.endsWith(".wal"))
    .map((f) => statSync(join(dir, f)).size);

test("the grpc-js replication floor answers a write once a majority has it on disk, and stops cleanly", async () => {
  const floor = await startGrpcjsReplicationFloor();
  const kv = new SwarmdKv(floor.socket);
  try {
    const value = Buffer.alloc(256, 1);
    await Promise.all(Array.from({ length: 20 }, (_, i) => kv.put(`w${i}`, value)));
    const leaderLogs = logSizes(floor.dir, "leader");
    const followerLogs = logSizes(floor.dir, "follower");
    assert.equal(leaderLogs.length, 1);
    assert.equal(followerLogs.length, 2);
    assert.ok(leaderLogs[0]! >= 20 * 256, "the leader wrote every request to its log");
    for (const size of followerLogs) assert.ok(size >= 20 * 256, "each follower wrote them too");

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
    assert.equal(floor.failure(), undefined, "no member failed");

    // A member that dies is reported, with how it ended.
    process.kill(floor.pids.followers[1]!, "SIGKILL");
    for (let i = 0; i < 100 && !floor.failure()?.includes("SIGKILL"); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(floor.failure() ?? "", /floor follower on \d+ exited \(SIGKILL\)/);
  } finally {
    kv.close();
    await floor.stop();
  }
  assert.equal(existsSync(floor.dir), false, "its temp dir is gone");
  for (const pid of [floor.pids.leader, ...floor.pids.followers]) assert.equal(processCpuMs(pid), undefined, `process ${pid} is gone`);
});
