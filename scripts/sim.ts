// Runs the deterministic raft simulation over many seeds, for long hunts:
//   npm run sim -- --seeds 20000 [--from 1] [--nodes 3|5|both] [--ticks 300] [--membership] [--seed N --trace]
// Prints one JSON line per failing seed and a summary; exits 1 if any seed failed.
import { runSimulation } from "../test/raft/sim/harness.js";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  return v === undefined || v.startsWith("--") ? "true" : v;
}

const single = arg("seed");
const seeds = Number(arg("seeds") ?? 1000);
const from = Number(arg("from") ?? 1);
const nodesArg = arg("nodes") ?? "both";
const ticks = Number(arg("ticks") ?? 300);
const membership = arg("membership") !== undefined;
const trace = arg("trace") !== undefined;

const started = process.hrtime.bigint();
let failed = 0;
let runs = 0;
const list = single !== undefined ? [Number(single)] : Array.from({ length: seeds }, (_, i) => from + i);
for (const seed of list) {
  const nodes = nodesArg === "both" ? (seed % 2 === 0 ? 5 : 3) : Number(nodesArg);
  const res = runSimulation({ seed, nodes, ticks, membership: membership || seed % 3 === 0, trace });
  runs++;
  if (!res.ok) {
    failed++;
    console.log(JSON.stringify({ seed, nodes, ok: false, error: res.error, stats: res.stats }));
    if (trace && res.trace) console.log(res.trace.slice(-400).join("\n"));
  } else if (single !== undefined) {
    console.log(JSON.stringify({ seed, nodes, ok: true, stats: res.stats }));
    if (trace && res.trace) console.log(res.trace.slice(-200).join("\n"));
  }
}
const secs = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ name: "raft-sim", runs, failed, seconds: Number(secs.toFixed(2)), ticksPerRun: ticks }));
process.exit(failed > 0 ? 1 : 0);
