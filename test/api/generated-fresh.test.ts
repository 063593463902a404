// Fails when src/shared/api/gen/ is not what `npm run gen:proto` produces from proto/ today
// (someone edited a .proto and forgot to regenerate, or hand-edited generated code).
// Runs buf from node_modules: no network needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// build/test/api/<this>.js -> repository root
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const committed = join(root, "src/shared/api/gen");

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

test("committed generated code matches a fresh generation from proto/", { timeout: 120_000 }, () => {
  const tmp = mkdtempSync(join(tmpdir(), "swarmkit-gen-"));
  try {
    execFileSync("bash", [join(root, "scripts/gen-proto.sh"), tmp], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    const fresh = join(tmp, "src/shared/api/gen");
    const want = listFiles(fresh);
    assert.ok(want.length > 0, "generation produced no files");
    assert.deepEqual(listFiles(committed), want, "generated file set differs: run `npm run gen:proto`");
    const stale = want.filter((f) => !readFileSync(join(fresh, f)).equals(readFileSync(join(committed, f))));
    assert.deepEqual(stale, [], "generated code is stale: run `npm run gen:proto` and commit");
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
