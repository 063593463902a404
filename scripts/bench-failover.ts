// npm run bench:failover [-- --kills N --ticks 1s,100ms --election-tick 3]
// Time from kill -9 of the raft leader of a 3-manager cluster to the first
// successful control write on a survivor, over N kills per tick interval.
// A write is fired at every survivor every 20 ms (not awaited, 3 s deadline),
// so the figure is when the first one is acknowledged, not a retry period.
// After each kill the victim is restarted and the cluster is whole again
// before the next kill. Prints one JSON object per line.
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { RaftMemberStatus_Reachability } from "../src/shared/api/index.js";
import { HaCluster, createService, isRunning, listNodes, retry, sleep, type HaNode } from "./lib/ha.js";

const argv = yargs(hideBin(process.argv))
  .option("kills", { type: "number", default: 10, describe: "leader kills per tick interval" })
  .option("ticks", { type: "string", default: "1s,100ms", describe: "tick intervals to measure, comma-separated" })
  .option("election-tick", { type: "number", default: 3, describe: "swarmd --election-tick (its default is 3)" })
  .strict()
  .parseSync();

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** kill -9 the leader; ms until the first write on a survivor is acknowledged. */
async function killLeaderAndTime(ha: HaCluster, leader: HaNode, seq: { n: number }): Promise<number> {
  const survivors = ha.managers.filter((m) => m !== leader && isRunning(m));
  let done = 0;
  const killedAt = Date.now();
  leader.proc.kill();
  const inflight = new Set<Promise<void>>();
  while (!done) {
    if (Date.now() - killedAt > 60_000) throw new Error("no write succeeded within 60 s of the kill");
    for (const m of survivors) {
      const p = createService(m.client!, `probe-${seq.n++}`, {}, 3000).then(
        () => {
          done ||= Date.now();
        },
        () => undefined,
      );
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    await sleep(20);
  }
  await leader.proc.exited;
  await Promise.all(inflight);
  return done - killedAt;
}

/** Restart the victim and wait until the leader sees all 3 managers reachable. */
async function heal(ha: HaCluster, victim: HaNode): Promise<HaNode> {
  await ha.restart(victim);
  await ha.waitUp(victim, 60_000);
  return retry("a whole cluster after the restart", 90_000, async () => {
    const leader = await ha.leader();
    if (!leader) return undefined;
    const ms = (await listNodes(leader.client!, 2000)).filter((n) => n.managerStatus);
    const whole = ms.length === 3 && ms.every((n) => n.managerStatus!.reachability === RaftMemberStatus_Reachability.REACHABLE);
    const victimSeesLeader = (await listNodes(victim.client!, 2000)).some((n) => n.managerStatus?.leader);
    return whole && victimSeesLeader ? leader : undefined;
  }, 200);
}

const started = Date.now();
for (const tick of argv.ticks.split(",").map((t) => t.trim()).filter(Boolean)) {
  const t0 = Date.now();
  const ha = await HaCluster.start({ managers: 3, tickInterval: tick, logLevel: "warn", extraArgs: ["--election-tick", String(argv["election-tick"])], stepTimeoutMs: 90_000 });
  const samples: number[] = [];
  try {
    const seq = { n: 0 };
    let leader = await retry("a leader", 60_000, () => ha.leader());
    for (let i = 0; i < argv.kills; i++) {
      const ms = await killLeaderAndTime(ha, leader, seq);
      samples.push(ms);
      leader = await heal(ha, leader);
    }
  } finally {
    await ha.stop();
  }
  const details = {
    tickInterval: tick,
    electionTick: argv["election-tick"],
    kills: samples.length,
    min: Math.min(...samples),
    p90: quantile(samples, 0.9),
    samples,
    runSeconds: Math.round((Date.now() - t0) / 1000),
  };
  console.log(JSON.stringify({ name: "failover.kill_to_first_write.median", value: median(samples), unit: "ms", ...details }));
  console.log(JSON.stringify({ name: "failover.kill_to_first_write.max", value: Math.max(...samples), unit: "ms", ...details }));
}
console.log(JSON.stringify({ name: "failover.total_run", value: Math.round((Date.now() - started) / 1000), unit: "s" }));
