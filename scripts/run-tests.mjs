#!/usr/bin/env node
// Runs the compiled test suite with Node's own runner and fails a run that
// executed no test (node --test exits 0 on an empty directory).
// Usage: node scripts/run-tests.mjs [paths under build/test ...]
import { spawn } from "node:child_process";

const args = process.argv.slice(2);
const targets = args.length > 0 ? args : ["build/test/"];
const child = spawn(process.execPath, ["--test", "--test-reporter=spec", ...targets], {
  stdio: ["ignore", "pipe", "inherit"],
});
// A test file that leaves a handle open never exits and would stall the run
// (and CI) forever: past this budget, stop and fail loudly instead.
const BUDGET_MS = Number(process.env.TEST_BUDGET_MS ?? 40 * 60 * 1000);
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
