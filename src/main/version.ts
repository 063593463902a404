// The product version, read from the package.json above the running code
// (dist/ or build/src/, so the depth varies).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

export function productVersion(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "swarmkit-ts" && typeof pkg.version === "string") return (cached = pkg.version);
    } catch {
      // not here; keep walking up
    }
    const parent = dirname(dir);
    if (parent === dir) return (cached = "unknown");
    dir = parent;
  }
}

/** `swarmd swarmkit-ts 0.1.0 (node v20.x)` — the shape of SwarmKit's `<prog> <pkg> <version>`. */
export function versionLine(program: string): string {
  return `${program} swarmkit-ts ${productVersion()} (node ${process.version})`;
}
