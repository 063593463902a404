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

/**
 * The engine address (unix:///…/docker.sock). Runs `scripts/docker-engine.sh
 * start` once per process; it is idempotent and serialised by a lock file, so
 * parallel test files share one engine.
 */
export function startEngine(): Promise<string> {
  started ??= new Promise<string>((resolve, reject) => {
    const script = path.join(repoRoot(), "scripts", "docker-engine.sh");
    execFile(script, ["start"], { timeout: 300_000, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const addr = stdout.trim().split("\n").pop() ?? "";
      if (err || !addr.startsWith("unix://")) {
        started = undefined;
        reject(new Error(`could not start the test Docker engine with ${script} start: ${err?.message ?? "no address printed"}\n${stderr}`));
        return;
      }
      resolve(addr);
    });
  });
  return started;
}

/** A raw dockerode client on the engine, to check what the executor did. */
export function rawDocker(addr: string): Docker {
  return new Docker({ socketPath: addr.replace(/^unix:\/\//, "") });
}

/** A short unique token for names and labels of one test run. */
export function uniqueId(prefix = "t"): string {
  return `${prefix}${randomBytes(6).toString("hex")}`;
}

/** Force-removes every container carrying label `key=value` (test cleanup). */
export async function removeContainersByLabel(addr: string, key: string, value: string): Promise<number> {
  const docker = rawDocker(addr);
  const list = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${key}=${value}`] }) });
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  return list.length;
}
