// `scripts/docker-engine.sh prune` against a stand-in engine: a unix socket in a temp
// SWARMKIT_DOCKER_DIR and a fake `docker` CLI first on PATH that logs what it is asked.
// (The real test engine is shared by parallel test files: pruning it here would remove
// their containers.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const SCRIPT = path.join(root, "scripts", "docker-engine.sh");

interface Stage {
  dir: string;
  addr: string;
  log: string;
  ids: string;
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

async function stage(withEngine: boolean): Promise<Stage> {
  const dir = mkdtempSync(path.join(tmpdir(), "engine-prune-"));
  const bin = path.join(dir, "bin");
  const log = path.join(dir, "docker.log");
  const ids = path.join(dir, "ids");
  writeFileSync(ids, "");
  mkdirSync(bin);
  // The fake CLI: `version` answers, `ps` lists the IDs in $ids, everything is logged.
  writeFileSync(
    path.join(bin, "docker"),
    `#!/bin/sh\necho "$*" >> '${log}'\ncase "$*" in\n  *" version "*) echo 20.10.24 ;;\n  *" ps -aq --filter label=com.docker.swarm.task.id"*) cat '${ids}' ;;\nesac\nexit 0\n`,
  );
  chmodSync(path.join(bin, "docker"), 0o755);
  const engineDir = path.join(dir, "engine");
  mkdirSync(engineDir);
  let server: Server | undefined;
  if (withEngine) {
    const s = createServer();
    await new Promise<void>((resolve) => s.listen(path.join(engineDir, "docker.sock"), resolve));
    server = s;
  }
  return {
    dir,
    addr: `unix://${path.join(engineDir, "docker.sock")}`,
    log,
    ids,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}`, SWARMKIT_DOCKER_DIR: engineDir },
    close: async () => {
      if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function prune(s: Stage): Promise<{ code: number; stderr: string; calls: string[] }> {
  return new Promise((resolve) => {
    execFile(SCRIPT, ["prune"], { env: s.env, timeout: 60_000 }, (err, _stdout, stderr) => {
      const calls = existsSync(s.log) ? readFileSync(s.log, "utf8").trim().split("\n").filter(Boolean) : [];
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr, calls });
    });
  });
}

/** A process whose command line names the engine, as a swarmd using it would. */
async function engineUser(argv: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)", "--", ...argv], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 200));
  return child;
}

test("prune removes the task containers when nothing uses the engine", async () => {
  const s = await stage(true);
  try {
    writeFileSync(s.ids, "aaa111\nbbb222\n");
    const r = await prune(s);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /removing 2 leftover task containers/);
    const rm = r.calls.filter((c) => c.includes(" rm -f "));
    assert.equal(rm.length, 1, `one rm call: ${r.calls.join(" | ")}`);
    assert.match(rm[0]!, /rm -f aaa111 bbb222$/);
    assert.ok(r.calls.every((c) => c.startsWith(`-H ${s.addr} `)), "every call goes to the private engine");
  } finally {
    await s.close();
  }
});

test("prune leaves the containers alone while a process uses the engine (both flag forms)", async () => {
  const s = await stage(true);
  try {
    writeFileSync(s.ids, "aaa111\n");
    for (const argv of [["--engine-addr", s.addr], [`--engine-addr=${s.addr}`]]) {
      const user = await engineUser(argv);
      try {
        const r = await prune(s);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, new RegExp(`not pruning: swarmd processes use this engine \\(pids ${user.pid}`));
        assert.ok(!r.calls.some((c) => c.includes(" rm ")), `no rm while ${argv.join(" ")} runs: ${r.calls.join(" | ")}`);
      } finally {
        user.kill("SIGKILL");
        await new Promise((r) => user.once("exit", r));
      }
    }
  } finally {
    await s.close();
  }
});

test("prune says so when there is nothing to remove or no engine", async () => {
  const s = await stage(true);
  try {
    const r = await prune(s);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /no leftover task containers/);
    assert.ok(!r.calls.some((c) => c.includes(" rm ")));
  } finally {
    await s.close();
  }
  const none = await stage(false);
  try {
    const r = await prune(none);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /nothing to prune/);
    assert.deepEqual(r.calls, [], "no engine: the CLI is not even asked to list");
  } finally {
    await none.close();
  }
});
