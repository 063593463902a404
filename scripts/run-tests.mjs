#!/usr/bin/env node
// Runs the compiled test suite with Node's own runner and fails a run that
// executed no test (node --test exits 0 on an empty directory).
// Usage: node scripts/run-tests.mjs [paths under build/test ...]
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

// Task containers left on the private test engine by an earlier run that was killed keep
// running, and enough of them wedge the engine: remove them first (the script leaves them
// alone while a swarmd uses the engine, and does nothing when no engine runs).
const engineScript = fileURLToPath(new URL("./docker-engine.sh", import.meta.url));
const prune = spawnSync(engineScript, ["prune"], { stdio: ["ignore", "ignore", "inherit"], timeout: 300_000 });
if (prune.status !== 0) console.error(`run-tests: ${engineScript} prune failed (${prune.error?.message ?? `exit ${prune.status}`}); going on`);

const args = process.argv.slice(2);
const targets = args.length > 0 ? args : ["build/test/"];
const child = spawn(process.execPath, ["--test", "--test-reporter=spec", ...targets], {
  stdio: ["ignore", "pipe", "inherit"],
});
// A test file that leaves a handle open never exits and would stall the run
// (and CI) forever: past this budget, stop and fail loudly instead. The suite
// takes about 8 minutes on the 2-core machine; 20 leaves room for a slower one
// and still fails inside CI's 30-minute limit, with this message.
const BUDGET_MS = Number(process.env.TEST_BUDGET_MS ?? 20 * 60 * 1000);
const watchdog = setTimeout(() => {
  console.error(`run-tests: the suite ran past ${BUDGET_MS / 60000} minutes (a test file that never exits?); failing the run`);
  child.kill("SIGKILL");
  process.exit(1);
}, BUDGET_MS);
watchdog.unref();
let tail = "";
child.stdout.on("data", (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4000);
});
child.on("close", (code, signal) => {
  const m = /tests (\d+)/.exec(tail.split("\n").filter((l) => /\btests \d+/.test(l)).pop() ?? "");
  const count = m ? Number(m[1]) : 0;
  if (code === 0 && count === 0) {
    console.error("run-tests: no test was executed; failing the run");
    process.exit(1);
  }
  process.exit(code ?? (signal ? 1 : 0));
});
