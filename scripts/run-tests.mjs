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
