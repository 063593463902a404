// SwarmKit's own Go swarmctl for the compatibility tests, through
// scripts/swarmkit-go.sh (as test/helpers/engine.ts does for the Docker
// engine): $SWARMKIT_SWARMCTL if set, else the script builds (or reuses) it.
// A test that needs it fails, never skips, when it cannot be had.
import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("../../../scripts/swarmkit-go.sh", import.meta.url));

let found: Promise<string> | undefined;

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Path of the Go swarmctl binary; builds it on first use when needed (a cold build takes a few minutes). */
export function goSwarmctl(): Promise<string> {
  found ??= new Promise<string>((resolve, reject) => {
    const fromEnv = process.env["SWARMKIT_SWARMCTL"];
    if (fromEnv) {
      if (executable(fromEnv)) resolve(fromEnv);
      else reject(new Error(`SWARMKIT_SWARMCTL=${fromEnv} is not an executable file`));
      return;
    }
    // `build` reuses binaries built from the same source and prints the two paths, swarmctl first.
    execFile(SCRIPT, ["build"], { timeout: 20 * 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const path = stdout.trim().split("\n").find((l) => l.endsWith("/swarmctl")) ?? "";
      if (err || !executable(path)) {
        found = undefined;
        reject(new Error(`could not build SwarmKit's Go swarmctl with ${SCRIPT} build: ${err?.message ?? `no binary at "${path}"`}\n${stderr.slice(-2000)}`));
        return;
      }
      resolve(path);
    });
  });
  return found;
}

let foundSwarmd: Promise<string> | undefined;

/** Path of the Go swarmd binary ($SWARMKIT_SWARMD, else built beside swarmctl by the same script). */
export function goSwarmd(): Promise<string> {
  foundSwarmd ??= new Promise<string>((resolve, reject) => {
    const fromEnv = process.env["SWARMKIT_SWARMD"];
    if (fromEnv) {
      if (executable(fromEnv)) resolve(fromEnv);
      else reject(new Error(`SWARMKIT_SWARMD=${fromEnv} is not an executable file`));
      return;
    }
    execFile(SCRIPT, ["build"], { timeout: 20 * 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const path = stdout.trim().split("\n").find((l) => l.endsWith("/swarmd")) ?? "";
      if (err || !executable(path)) {
        foundSwarmd = undefined;
        reject(new Error(`could not build SwarmKit's Go swarmd with ${SCRIPT} build: ${err?.message ?? `no binary at "${path}"`}\n${stderr.slice(-2000)}`));
        return;
      }
      resolve(path);
    });
  });
  return foundSwarmd;
}
