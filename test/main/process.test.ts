// dist/main.js as a child process: signals, crashes, start-up failures, the
// state-dir lock and the control socket's life cycle.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { canConnect, startSwarmd, tempDir, testArgs } from "./helpers.js";

const READY = /"msg":"node is ready"/;

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(`${signal} stops both workers in order and exits 0 within 10 s, removing the socket`, async () => {
    const dir = await tempDir();
    const stateDir = join(dir.path, "state");
    const swarmd = startSwarmd(testArgs(stateDir));
    try {
      await swarmd.waitForLog(READY);
      const socket = join(stateDir, "swarmd.sock");
      assert.equal(await canConnect(socket), true, "control socket is up");
      swarmd.child.kill(signal);
      const exit = await swarmd.exited;
      assert.equal(exit.code, 0, swarmd.stderr());
      assert.ok(exit.afterMs < 10_000, `exited after ${exit.afterMs} ms`);
      assert.equal(existsSync(socket), false, "control socket removed");
      assert.equal(existsSync(join(stateDir, "swarmd.lock")), false, "lock released");
      const log = swarmd.stderr();
      assert.ok(log.indexOf('"msg":"agent stopped"') < log.indexOf('"msg":"manager worker stopped"'), "agent stops first");
      assert.match(log, new RegExp(`received ${signal}`));
    } finally {
      swarmd.kill();
      await dir.remove();
    }
  });
}

test("state dir is created 0700 with the layout, state.json 0600", async () => {
  const dir = await tempDir();
  const stateDir = join(dir.path, "state");
  const swarmd = startSwarmd(testArgs(stateDir));
  try {
    await swarmd.waitForLog(READY);
    assert.equal(statSync(stateDir).mode & 0o777, 0o700);
    for (const sub of ["certificates", "worker", "raft"]) assert.equal(statSync(join(stateDir, sub)).mode & 0o777, 0o700, sub);
    assert.equal(statSync(join(stateDir, "state.json")).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(join(stateDir, "state.json"), "utf8")), []);
    assert.equal(statSync(join(stateDir, "swarmd.sock")).mode & 0o777, 0o600);
    assert.match(swarmd.stdout(), /Warning: Specifying a valid address with --listen-remote-api/);
    assert.match(swarmd.stderr(), /"thread":"main"/);
    assert.match(swarmd.stderr(), /"thread":"manager"/);
    // The agent logs on its own schedule, possibly just after "node is ready".
    await swarmd.waitForLog(/"thread":"agent"/, 10_000);
  } finally {
    swarmd.child.kill("SIGTERM");
    await swarmd.exited;
    await dir.remove();
  }
});

test("--log-level is honoured in all three threads", async () => {
  const dir = await tempDir();
  const swarmd = startSwarmd([...testArgs(join(dir.path, "s")), "-l", "error"]);
  try {
    await new Promise((r) => setTimeout(r, 1500));
    swarmd.child.kill("SIGTERM");
    const exit = await swarmd.exited;
    assert.equal(exit.code, 0);
    assert.equal(swarmd.stderr(), "", "nothing below error is logged");
  } finally {
    swarmd.kill();
    await dir.remove();
  }
});

for (const worker of ["manager", "agent"] as const) {
  test(`a crashing ${worker} worker: main says which and why, stops the other, exits non-zero`, async () => {
    const dir = await tempDir();
    const stateDir = join(dir.path, "state");
    const swarmd = startSwarmd(testArgs(stateDir), { SWARMD_TEST_CRASH: worker });
    try {
      const exit = await swarmd.exited;
      assert.equal(exit.code, 1, swarmd.stderr());
      const log = swarmd.stderr();
      assert.match(log, new RegExp(`${worker} worker died \\(induced crash for tests`));
      const other = worker === "manager" ? "agent stopped" : "manager worker stopped";
      assert.match(log, new RegExp(other), "the other worker was stopped");
      assert.equal(existsSync(join(stateDir, "swarmd.sock")), false, "socket cleaned up");
      assert.equal(existsSync(join(stateDir, "swarmd.lock")), false, "lock released");
    } finally {
      swarmd.kill();
      await dir.remove();
    }
  });
}

test("a second swarmd on the same state dir exits 1 naming the holder's pid", async () => {
  const dir = await tempDir();
  const stateDir = join(dir.path, "state");
  const first = startSwarmd(testArgs(stateDir));
  try {
    await first.waitForLog(READY);
    const second = startSwarmd(testArgs(stateDir, "--listen-control-api", join(dir.path, "other.sock")));
    const exit = await second.exited;
    assert.equal(exit.code, 1);
    assert.match(second.stderr(), new RegExp(`^swarmd: state dir .* is in use by another swarmd \\(pid ${first.child.pid}\\)`));
    assert.equal(second.stderr().trim().split("\n").length, 1, "one line");
    assert.equal(await canConnect(join(stateDir, "swarmd.sock")), true, "the first one is untouched");
  } finally {
    first.child.kill("SIGTERM");
    await first.exited;
    await dir.remove();
  }
});

test("a lock left by a dead swarmd is taken over", async () => {
  const dir = await tempDir();
  const stateDir = join(dir.path, "state");
  await mkdir(stateDir, { mode: 0o700 });
  const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  await writeFile(join(stateDir, "swarmd.lock"), `${dead.stdout.toString()}\n`, { mode: 0o600 });
  const swarmd = startSwarmd(testArgs(stateDir));
  try {
    await swarmd.waitForLog(READY);
    assert.equal(readFileSync(join(stateDir, "swarmd.lock"), "utf8").trim(), String(swarmd.child.pid));
  } finally {
    swarmd.child.kill("SIGTERM");
    await swarmd.exited;
    await dir.remove();
  }
});

test("a stale control socket from a crash is replaced", async () => {
  const dir = await tempDir();
  const stateDir = join(dir.path, "state");
  await mkdir(stateDir, { mode: 0o700 });
  const socket = join(stateDir, "swarmd.sock");
  // A process that binds the socket and is killed leaves the file behind.
  const leaver = spawn(process.execPath, [
    "-e",
    `require("net").createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, "SIGKILL"))`,
  ]);
  await new Promise((r) => leaver.once("exit", r));
  assert.equal(statSync(socket).isSocket(), true, "stale socket present");
  assert.equal(await canConnect(socket), false, "and dead");
  const swarmd = startSwarmd(testArgs(stateDir));
  try {
    await swarmd.waitForLog(READY);
    assert.equal(await canConnect(socket), true);
  } finally {
    swarmd.child.kill("SIGTERM");
    await swarmd.exited;
    await dir.remove();
  }
});

test("start-up failures are one clear line and exit 1", async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  const oneLine = async (args: string[], re: RegExp) => {
    const swarmd = startSwarmd(args);
    const exit = await swarmd.exited;
    assert.equal(exit.code, 1, swarmd.stderr());
    const lines = swarmd.stderr().trim().split("\n").filter((l) => !l.startsWith("{"));
    assert.equal(lines.length, 1, `one plain line: ${swarmd.stderr()}`);
    assert.match(lines[0]!, re);
  };

  // Port in use.
  const blocker = createServer();
  t.after(() => blocker.close());
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
  const port = (blocker.address() as { port: number }).port;
  await oneLine(
    ["-d", join(dir.path, "a"), "--listen-remote-api", `127.0.0.1:${port}`],
    new RegExp(`^swarmd: cannot listen on remote API address 127.0.0.1:${port}: address already in use$`),
  );
  assert.equal(existsSync(join(dir.path, "a", "swarmd.sock")), false, "no socket left behind");

  // Control socket held by a live process.
  const live = join(dir.path, "live.sock");
  const holder = createServer();
  t.after(() => holder.close());
  await new Promise<void>((r) => holder.listen(live, r));
  await oneLine(testArgs(join(dir.path, "b"), "--listen-control-api", live), /^swarmd: control socket .*live\.sock is in use by another process$/);
  assert.equal(await canConnect(live), true, "the live socket is left alone");

  // Socket path taken by a regular file.
  const file = join(dir.path, "file.sock");
  await writeFile(file, "x");
  await oneLine(testArgs(join(dir.path, "c"), "--listen-control-api", file), /is taken by a file that is not a socket/);

  // State dir too open.
  const open = join(dir.path, "open");
  await mkdir(open);
  await chmod(open, 0o755);
  await oneLine(testArgs(open), /^swarmd: state dir .*open has mode 0755.*chmod 700/);

  // State dir cannot be created (a parent is a file).
  await oneLine(testArgs(join(file, "state")), /^swarmd: cannot create state dir .*: a parent path is not a directory$/);
});

test("a usage error exits 2 with the reason and the usage", async () => {
  const swarmd = startSwarmd(["--listen-metrics", "127.0.0.1:9090"]);
  const exit = await swarmd.exited;
  assert.equal(exit.code, 2);
  assert.match(swarmd.stderr(), /^swarmd: --listen-metrics is not supported yet/);
  assert.match(swarmd.stderr(), /Options:/);
});
