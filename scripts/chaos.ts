// npm run chaos -- --minutes N [--seed S] [--no-quorum-loss] [--no-partitions] [--tick-interval 100ms]
// npm run chaos -- --cleanup   (remove leftover skc-* network namespaces of dead runs)
// Runs the chaos schedule (scripts/lib/chaos.ts) and prints one JSON object per
// line: the events as they happen, then the figures; exits 1 if a check failed.
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { runChaos } from "./lib/chaos.js";
import { cleanupLeftovers } from "./lib/netns.js";

const argv = yargs(hideBin(process.argv))
  .option("minutes", { type: "number", default: 2, describe: "length of the kill/restart phase" })
  .option("seed", { type: "number", describe: "schedule seed (random if not given; printed either way)" })
  .option("quorum-loss", { type: "boolean", default: true, describe: "add a phase with 2 of 3 managers down" })
  .option("partitions", { type: "boolean", default: true, describe: "partition nodes with network namespaces (needs root)" })
  .option("cleanup", { type: "boolean", default: false, describe: "only remove leftover skc-* namespaces whose run is gone, then exit" })
  .option("tick-interval", { type: "string", default: "100ms" })
  .strict()
  .parseSync();

if (argv.cleanup) {
  const removed = cleanupLeftovers();
  console.log(JSON.stringify({ event: "cleanup", removed }));
  process.exit(0);
}

const seed = argv.seed ?? Math.floor(Math.random() * 2 ** 31);
const print = (o: Record<string, unknown>) => console.log(JSON.stringify(o));
const res = await runChaos({ seed, durationMs: argv.minutes * 60_000, quorumLoss: argv["quorum-loss"], partitions: argv.partitions, tickInterval: argv["tick-interval"], log: print });
const details = { seed, kills: res.kills, partitions: res.partitions, leaderPartitions: res.leaderPartitions, partitionsEnabled: res.partitionsEnabled, converged: res.converged };
print({ name: "chaos.writes_acknowledged", value: res.writesAcknowledged, unit: "writes", ...details });
print({ name: "chaos.writes_failed", value: res.writesFailed, unit: "writes", ...details });
print({ name: "chaos.writes_lost", value: res.lost, unit: "writes", ...details });
print({ name: "chaos.duplicates", value: res.duplicated, unit: "services", ...details });
print({ name: "chaos.updates_wrong", value: res.updatesWrong, unit: "services", ...details });
print({ name: "chaos.kills", value: res.kills, unit: "kills", ...details });
print({ name: "chaos.partitions", value: res.partitions, unit: "partitions", ...details });
print({ name: "chaos.failovers", value: res.failovers, unit: "failovers", ...details });
print({ name: "chaos.longest_unavailability", value: res.longestUnavailabilityMs, unit: "ms", ...details });
print({ name: "chaos.longest_unavailability_one_node_down", value: res.mainPhaseLongestUnavailabilityMs, unit: "ms", ...details });
print({ name: "chaos.shared_terms", value: res.sharedTerms.length, unit: "terms", ...details });
for (const v of res.violations) print({ event: "violation", detail: v });
print({ event: res.violations.length === 0 ? "passed" : "FAILED", seed, reproduce: `npm run chaos -- --minutes ${argv.minutes} --seed ${seed}${argv["quorum-loss"] ? "" : " --no-quorum-loss"}${argv.partitions ? "" : " --no-partitions"} --tick-interval ${argv["tick-interval"]}` });
process.exit(res.violations.length === 0 ? 0 : 1);
