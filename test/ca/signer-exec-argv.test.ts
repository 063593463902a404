import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { refusedWorkerFlags, signerExecArgv } from "../../src/workers/manager/ca/signer-exec-argv.js";

const NO_REQUIRE_ESM = "--no-experimental-require-module";
const hasSwitch = process.allowedNodeEnvironmentFlags.has(NO_REQUIRE_ESM);

/** Starts a thread with `execArgv` and waits for it to answer. */
async function runsWith(execArgv: string[]): Promise<string> {
  const w = new Worker("require('node:worker_threads').parentPort.postMessage('up')", { eval: true, execArgv });
  try {
    return await new Promise<string>((resolve, reject) => {
      w.once("message", resolve);
      w.once("error", reject);
    });
  } finally {
    await w.terminate();
  }
}

test("refusedWorkerFlags reads the options out of Node's message", () => {
  assert.deepEqual(refusedWorkerFlags("Initiated Worker with invalid execArgv flags: --single-threaded-gc, --trace-gc, --max-old-space-size=300"), [
    "--single-threaded-gc",
    "--trace-gc",
    "--max-old-space-size=300",
  ]);
  assert.deepEqual(refusedWorkerFlags("something else"), []);
});

test("V8 and per-process options are dropped, the others kept, and a thread starts with the result", { skip: !hasSwitch && "this Node has no require(esm) switch: the signer inherits options" }, async () => {
  const parent = ["--max-old-space-size=300", "--enable-source-maps", "--trace-gc", "--single-threaded-gc", "--experimental-require-module"];
  // Node refuses the parent's options as they are: the failure this guards against.
  assert.throws(() => new Worker("", { eval: true, execArgv: parent }), { code: "ERR_WORKER_INVALID_EXEC_ARGV" });
  const argv = signerExecArgv(parent);
  assert.deepEqual(argv, ["--enable-source-maps", NO_REQUIRE_ESM]);
  assert.equal(await runsWith(argv!), "up");
});

test("no options: no probe, only the require(esm) switch", { skip: !hasSwitch && "no require(esm) switch" }, () => {
  let probes = 0;
  const argv = signerExecArgv([], () => {
    probes++;
    return [];
  });
  assert.deepEqual(argv, [NO_REQUIRE_ESM]);
  assert.equal(probes, 0);
});

test("a refusal that names nothing we passed, or cannot be read, drops every inherited option", { skip: !hasSwitch && "no require(esm) switch" }, () => {
  assert.deepEqual(signerExecArgv(["--foo", "--bar"], () => "unknown"), [NO_REQUIRE_ESM]);
  assert.deepEqual(signerExecArgv(["--foo", "--bar"], () => ["--baz"]), [NO_REQUIRE_ESM]);
  // A value left behind by a dropped option is named in the next round and goes too.
  const answers: string[][] = [["--title"], ["x"], []];
  assert.deepEqual(signerExecArgv(["--title", "x", "--enable-source-maps"], () => answers.shift()!), ["--enable-source-maps", NO_REQUIRE_ESM]);
  // Refused round after round: nothing is inherited.
  let n = 0;
  assert.deepEqual(signerExecArgv(["--a", "--b", "--c", "--d"], () => [`--${"abcd"[n++]}`]), [NO_REQUIRE_ESM]);
});
