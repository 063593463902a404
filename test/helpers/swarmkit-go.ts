// SwarmKit's own Go swarmctl and swarmd for the compatibility tests, through
// scripts/swarmkit-go.sh (as test/helpers/engine.ts does for the Docker
// engine): $SWARMKIT_SWARMCTL / $SWARMKIT_SWARMD if set, else the script
// builds (or reuses) them. A test that needs one fails, never skips, when it
// cannot be had.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { executable } from "../../scripts/lib/swarmkit-go.js";

const SCRIPT = fileURLToPath(new URL("../../../scripts/swarmkit-go.sh", import.meta.url));

type GoBinary = "swarmctl" | "swarmd";
const ENV: Record<GoBinary, string> = { swarmctl: "SWARMKIT_SWARMCTL", swarmd: "SWARMKIT_SWARMD" };
const found = new Map<GoBinary, Promise<string>>();

/** Path of one of SwarmKit's Go binaries: $SWARMKIT_SWARMCTL / $SWARMKIT_SWARMD, else built (or reused) by the script. */
function goBinary(name: GoBinary): Promise<string> {
  let p = found.get(name);
  if (p) return p;
  p = new Promise<string>((resolve, reject) => {
    const fromEnv = process.env[ENV[name]];
    if (fromEnv) {
      if (executable(fromEnv)) resolve(fromEnv);
      else reject(new Error(`${ENV[name]}=${fromEnv} is not an executable file`));
      return;
    }
    // `build` reuses binaries built from the same source and prints both paths (a cold build takes a few minutes).
    execFile(SCRIPT, ["build"], { timeout: 20 * 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const path = stdout.trim().split("\n").find((l) => l.endsWith(`/${name}`)) ?? "";
      if (err || !executable(path)) {
        found.delete(name);
        reject(new Error(`could not build SwarmKit's Go ${name} with ${SCRIPT} build: ${err?.message ?? `no binary at "${path}"`}\n${stderr.slice(-2000)}`));
        return;
      }
      resolve(path);
    });
  });
  found.set(name, p);
  return p;
}

/** SwarmKit's Go swarmctl. */
export const goSwarmctl = (): Promise<string> => goBinary("swarmctl");

/** SwarmKit's Go swarmd. */
export const goSwarmd = (): Promise<string> => goBinary("swarmd");
