// Starts (or reuses) the project's private Docker engine for tests, through
// scripts/docker-engine.sh. If the engine cannot be started the calling test
// fails: engine tests never skip.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Docker from "dockerode";

/** The repository root, from build/test/helpers/engine.js or test/helpers/engine.ts. */
function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, "scripts", "docker-engine.sh")) && existsSync(path.join(dir, "package.json"))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error("test/helpers/engine: cannot find scripts/docker-engine.sh above " + fileURLToPath(import.meta.url));
}

let started: Promise<string> | undefined;

function runScript(arg: "start" | "stop", timeoutMs: number): Promise<string> {
  const script = path.join(repoRoot(), "scripts", "docker-engine.sh");
  return new Promise((resolve, reject) => {
    execFile(script, [arg], { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${script} ${arg} failed: ${err.message}\n${stderr}`));
      else resolve(stdout.trim().split("\n").pop() ?? "");
    });
  });
}

/**
 * The engine address (unix:///…/docker.sock). Runs `scripts/docker-engine.sh
 * start` once per process; it is idempotent and serialised by a lock file, so
 * parallel test files share one engine.
 */
export function startEngine(): Promise<string> {
  started ??= runScript("start", 300_000).then(
    (addr) => {
      if (!addr.startsWith("unix://")) throw new Error(`could not start the test Docker engine: scripts/docker-engine.sh start printed no address`);
      return addr;
    },
    (err: Error) => {
      started = undefined;
      throw new Error(`could not start the test Docker engine: ${err.message}`);
    },
  );
  return started;
}

/** Stops and starts the engine (its containers stop with it): the way out of a wedged dockerd. */
export async function restartEngine(): Promise<string> {
  started = undefined;
  await runScript("stop", 120_000);
  return startEngine();
}

/** A raw dockerode client on the engine, to check what the executor did. */
export function rawDocker(addr: string): Docker {
  return new Docker({ socketPath: addr.replace(/^unix:\/\//, "") });
}

/** A short unique token for names and labels of one test run. */
export function uniqueId(prefix = "t"): string {
  return `${prefix}${randomBytes(6).toString("hex")}`;
}

/** How long a cleanup waits on the engine before it declares it wedged. */
const CLEANUP_TIMEOUT_MS = 60_000;

async function removeMatching(addr: string, key: string, value: string): Promise<number> {
  const docker = rawDocker(addr);
  const list = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${key}=${value}`] }) });
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  return list.length;
}

function within<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Force-removes every container carrying label `key=value` (test cleanup).
 * Docker 20.10 can deadlock when a forced remove races a stop (see
 * TestCluster.createService); a remove that hangs would then hang the whole
 * suite. So past `timeoutMs` (default CLEANUP_TIMEOUT_MS) the engine is
 * restarted (which stops every container) and the removal tried once more.
 */
export async function removeContainersByLabel(addr: string, key: string, value: string, timeoutMs = CLEANUP_TIMEOUT_MS): Promise<number> {
  const first = await within(removeMatching(addr, key, value), timeoutMs);
  if (first !== "timeout") return first;
  process.stderr.write(`test cleanup: the Docker engine at ${addr} did not remove containers within ${timeoutMs / 1000} s; restarting it\n`);
  const again = await restartEngine();
  const second = await within(removeMatching(again, key, value), CLEANUP_TIMEOUT_MS);
  if (second === "timeout") throw new Error(`the Docker engine at ${again} is still not removing containers after a restart`);
  return second;
}
