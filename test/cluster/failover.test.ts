// Failover (issue 9, part 2): with 3 managers and a worker, kill -9 of the
// leader while a writer keeps writing on every manager: a new leader is
// elected, writes on any surviving manager succeed again, no acknowledged
// write is lost, the worker's agent finds the new leader by itself and keeps
// its state.json current, and the old leader rejoins as a follower with
// everything on restart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { NodeStatus_State } from "../../src/shared/api/index.js";
import { HaCluster, createService, isRunning, listNodes, listServices, retry, sleep } from "../../scripts/lib/ha.js";

test("kill -9 of the leader: survivors elect a leader, take writes on any manager, lose no acknowledged write; agents follow", { timeout: 150_000 }, async () => {
  const ha = await HaCluster.start({ managers: 3, workers: 1, tickInterval: "100ms" });
  try {
    const worker = ha.workers[0]!;
    const known = await retry("the worker's state.json to list all 3 managers", 20_000, async () => {
      const list = await ha.knownManagers(worker);
      return list.length === 3 ? list : undefined;
    });
    assert.deepEqual(new Set(known.map((m) => m.addr)), new Set(ha.managers.map((m) => m.remoteAddr)));

    const oldLeader = (await retry("a leader", 20_000, () => ha.leader()))!;
    const survivors = ha.managers.filter((m) => m !== oldLeader);
    const sessionsBefore = countMatches(worker.proc.stderr(), /"msg":"session registered"/g);

    // A writer round-robins creates over every manager, before and after the kill.
    const acked: string[] = [];
    let failed = 0;
    let seq = 0;
    let writing = true;
    let killedAt = 0;
    let firstAckAfterKill = 0;
    const writer = (async () => {
      while (writing) {
        for (const m of ha.managers) {
          if (!writing) break;
          if (!isRunning(m) || !m.client) continue;
          const name = `svc-${seq++}`;
          const startedAt = Date.now();
          try {
            await createService(m.client, name, {}, 5000);
            acked.push(name);
            // Only a write issued after the kill shows that the survivors took over.
            if (killedAt && startedAt > killedAt && !firstAckAfterKill) firstAckAfterKill = Date.now();
          } catch {
            failed++;
          }
        }
        await sleep(20);
      }
    })();

    await retry("some writes before the kill", 20_000, async () => (acked.length >= 10 ? true : undefined));
    await ha.kill(oldLeader);
    killedAt = Date.now();

    // Every survivor takes a write again (forwarded from the follower to the new leader).
    const newLeader = await retry("a new leader among the survivors", 30_000, () => ha.leader());
    assert.notEqual(newLeader, oldLeader);
    for (const m of survivors) {
      await retry(`a write through ${m.name}`, 30_000, async () => {
        await createService(m.client!, `after-${m.name}`, {}, 5000);
        acked.push(`after-${m.name}`);
        return true;
      });
    }
    await retry("the writer to get writes through after the kill", 30_000, async () => (firstAckAfterKill ? true : undefined));
    writing = false;
    await writer;

    // No acknowledged write lost, none duplicated, on both survivors.
    for (const m of survivors) {
      const names = await retry(`${m.name} to hold every acknowledged write`, 20_000, async () => {
        const list = (await listServices(m.client!)).map((s) => s.spec!.annotations!.name);
        return acked.every((n) => list.includes(n)) ? list : undefined;
      });
      for (const n of acked) assert.equal(names.filter((x) => x === n).length, 1, `${n} exactly once on ${m.name}`);
    }

    // The worker's agent opened a new session (to a survivor) by itself.
    await retry("a new agent session after the failover", 30_000, async () =>
      countMatches(worker.proc.stderr(), /"msg":"session registered"/g) > sessionsBefore ? true : undefined,
    );
    const workerNode = await retry("the worker READY on the new leader", 30_000, async () => {
      const n = (await listNodes(newLeader.client!)).find((x) => x.description?.hostname === worker.name);
      return n?.status?.state === NodeStatus_State.READY ? n : undefined;
    });
    assert.ok(workerNode);

    // The old leader comes back as a follower, catches up, and the agents' lists stay complete.
    await ha.restart(oldLeader);
    await ha.waitUp(oldLeader);
    await retry("the old leader to catch up", 30_000, async () => {
      const list = (await listServices(oldLeader.client!)).map((s) => s.spec!.annotations!.name);
      return acked.every((n) => list.includes(n)) ? true : undefined;
    });
    const after = await ha.leader();
    assert.ok(after && after !== oldLeader, "the restarted manager does not take over a healthy leader");
    await createService(oldLeader.client!, "via-restarted", {}, 10_000);
    const list = await ha.knownManagers(worker);
    assert.deepEqual(new Set(list.map((m) => m.addr)), new Set(ha.managers.map((m) => m.remoteAddr)));

    assert.deepEqual(ha.sharedTerms(), [], "no two managers led in the same term");
    console.log(JSON.stringify({ acked: acked.length, failedDuringFailover: failed, firstWriteIssuedAfterKillAckedMs: firstAckAfterKill - killedAt }));
  } finally {
    await ha.stop();
  }
});

function countMatches(text: string, re: RegExp): number {
  return (text.match(re) ?? []).length;
}
