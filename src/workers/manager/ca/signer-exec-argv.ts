// The Node options the CA's signing threads start with. piscina passes them
// as a Worker's execArgv, and a Worker refuses V8 and per-process options
// (--max-old-space-size=…, --trace-gc, --single-threaded-gc, --title…) with
// ERR_WORKER_INVALID_EXEC_ARGV: copying the process's own options verbatim
// left a manager started as `node --max-old-space-size=4096 main.js` with no
// CA, and every join waited for a certificate that never came.
import { Worker } from "node:worker_threads";

// piscina loads a task module with require() first and import() if that fails.
// On Node 20.19+ require() of ESM is enabled, and that mix once crashed a
// thread's start ("Unexpected status of a module that is imported again after
// being required"). Turning require(esm) off in the signing threads leaves
// import() as the only loader.
const NO_REQUIRE_ESM = "--no-experimental-require-module";

const INVALID_PREFIX = "Initiated Worker with invalid execArgv flags:";

/** The options named in an ERR_WORKER_INVALID_EXEC_ARGV message (as given, `=value` included). */
export function refusedWorkerFlags(message: string): string[] {
  const at = message.indexOf(INVALID_PREFIX);
  if (at < 0) return [];
  return message
    .slice(at + INVALID_PREFIX.length)
    .split(",")
    .map((f) => f.trim())
    .filter((f) => f.length > 0);
}

/** Whether a Worker accepts `execArgv`; returns the options it refused (none: accepted). */
function probe(execArgv: string[]): string[] | "unknown" {
  try {
    // The check runs in the constructor, before the thread does anything.
    const w = new Worker("", { eval: true, execArgv, stdout: true, stderr: true });
    void w.terminate();
    return [];
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== "ERR_WORKER_INVALID_EXEC_ARGV") throw err;
    const refused = refusedWorkerFlags(e.message);
    return refused.length > 0 ? refused : "unknown";
  }
}

/**
 * `parent` (the process's execArgv) without the options a Worker refuses,
 * with require(esm) turned off where this Node has that switch; undefined
 * means "inherit", which Node does without complaint. Starts (and at once
 * stops) a probe thread only when `parent` is not empty.
 */
export function signerExecArgv(parent: readonly string[] = process.execArgv, check: (argv: string[]) => string[] | "unknown" = probe): string[] | undefined {
  if (!process.allowedNodeEnvironmentFlags.has(NO_REQUIRE_ESM)) return undefined;
  let argv = parent.filter((a) => !/^--(no-)?experimental-require-module$/.test(a));
  // Each round drops what the Worker named; anything not confirmed accepted
  // (an unreadable message, a value left behind by a dropped option) drops them all.
  let accepted = argv.length === 0;
  for (let round = 0; round < 3 && !accepted; round++) {
    const refused = check([...argv, NO_REQUIRE_ESM]);
    if (refused === "unknown") break;
    if (refused.length === 0) {
      accepted = true;
      break;
    }
    const drop = new Set(refused);
    const kept = argv.filter((a) => !drop.has(a));
    if (kept.length === argv.length) break;
    argv = kept;
    accepted = argv.length === 0;
  }
  if (!accepted) argv = [];
  return [...argv, NO_REQUIRE_ESM];
}
