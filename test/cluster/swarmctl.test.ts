// swarmctl (the built dist/ctl.js) against a running single-manager swarmd
// (the built dist/main.js): the commands operators type, their tables and
// errors, end to end over the TLS control socket.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startSwarmd, tempDir, testArgs, type SwarmdProcess } from "../main/helpers.js";
import { waitForControl } from "../helpers/control.js";

const CTL = fileURLToPath(new URL("../../../dist/ctl.js", import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let socket = "";
function ctl(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CTL, "-s", socket, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(...args: string[]): Promise<string> {
  const r = await ctl(...args);
  assert.equal(r.code, 0, `swarmctl ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

describe("swarmctl against a running swarmd", () => {
  let dir: { path: string; remove(): Promise<void> };
  let proc: SwarmdProcess;

  before(async () => {
    dir = await tempDir("swarmctl-e2e-");
    const stateDir = join(dir.path, "state");
    proc = startSwarmd(testArgs(stateDir, "--tick-interval", "50ms", "--hostname", "e2e-host"));
    socket = join(stateDir, "swarmd.sock");
    (await waitForControl(socket)).close();
  });

  after(async () => {
    proc.child.kill("SIGTERM");
    await proc.exited;
    await dir.remove();
  });

  test("node ls shows this manager as the leader", async () => {
    const out = await ok("node", "ls");
    const lines = out.trimEnd().split("\n");
    assert.match(lines[0]!, /^ID\s+Name\s+Membership\s+Status\s+Availability\s+Manager Status$/);
    assert.match(lines[1]!, /^--\s+----\s+----------/);
    assert.match(lines[2]!, /^[0-9a-z]{25}\s+e2e-host\s+ACCEPTED\s+\S+\s+ACTIVE\s+REACHABLE \*$/);
    const ids = (await ok("node", "ls", "-q")).trim().split("\n");
    assert.equal(ids.length, 1);
    const inspect = await ok("node", "inspect", ids[0]!.slice(0, 6));
    assert.match(inspect, /Hostname\s+: e2e-host/);
    assert.match(inspect, /Leader\s+: yes/);
  });

  test("cluster ls and inspect show the default cluster and its join tokens", async () => {
    assert.match(await ok("cluster", "ls"), /\n[0-9a-z]{25}\s+default\n/);
    const inspect = await ok("cluster", "inspect", "default");
    assert.match(inspect, /Task history entries: 5/);
    assert.match(inspect, /Worker: SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}/);
    assert.match(inspect, /Manager: SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}/);
  });

  test("rotating the worker join token changes it and keeps the manager token", async () => {
    const before = await ok("cluster", "inspect", "default");
    const worker = /Worker: (\S+)/.exec(before)![1];
    const manager = /Manager: (\S+)/.exec(before)![1];
    await ok("cluster", "update", "default", "--rotate-join-token", "worker");
    const after = await ok("cluster", "inspect", "default");
    assert.notEqual(/Worker: (\S+)/.exec(after)![1], worker);
    assert.equal(/Manager: (\S+)/.exec(after)![1], manager);
  });

  test("service create, ls, inspect, update, rm", async () => {
    const id = (await ok("service", "create", "--name", "web", "--image", "busybox:local", "--replicas", "0", "--detach")).trim();
    assert.match(id, /^[0-9a-z]{25}$/);
    const ls = await ok("service", "ls");
    assert.match(ls, /^ID\s+Name\s+Image\s+Replicas/);
    assert.match(ls, new RegExp(`${id}\\s+web\\s+busybox:local\\s+0/0`));
    const inspect = await ok("service", "inspect", "web");
    assert.match(inspect, /Name\s+: web/);
    assert.match(inspect, /Replicas\s+: 0/);
    await ok("service", "update", "web", "--label", "tier=front", "--detach");
    const json = JSON.parse(await ok("service", "inspect", "web", "--format", "json")) as { spec: { annotations: { labels: Record<string, string> } } };
    assert.equal(json.spec.annotations.labels["tier"], "front");
    assert.deepEqual((await ok("service", "ls", "-q")).trim().split("\n"), [id]);
    await ok("service", "rm", "web");
    assert.doesNotMatch(await ok("service", "ls"), /web/);
  });

  test("a duplicate service name and a missing image are refused with Error: and a non-zero exit", async () => {
    await ok("service", "create", "--name", "dup", "--image", "busybox:local", "--replicas", "0", "--detach");
    const dup = await ctl("service", "create", "--name", "dup", "--image", "busybox:local", "--replicas", "0", "--detach");
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /^Error: .*already exists/m);
    const noImage = await ctl("service", "create", "--name", "noimage", "--detach");
    assert.notEqual(noImage.code, 0);
    assert.match(noImage.stderr, /^Error: .*image/im);
    const missing = await ctl("service", "inspect", "no-such-service");
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /^Error: .*not found/m);
  });

  test("secrets: data never comes back; configs round-trip", async () => {
    const file = join(dir.path, "secret.txt");
    await writeFile(file, "s3cr3t-value");
    const sid = (await ok("secret", "create", "db-pass", "-f", file)).trim();
    assert.match(sid, /^[0-9a-z]{25}$/);
    assert.match(await ok("secret", "ls"), /db-pass/);
    const inspect = await ok("secret", "inspect", "db-pass", "--format", "json");
    assert.doesNotMatch(inspect, /s3cr3t-value|czNjcjN0LXZhbHVl/);
    await ok("secret", "rm", "db-pass");
    await ok("config", "create", "app-conf", "-f", file);
    assert.match(await ok("config", "ls"), /app-conf/);
    await ok("config", "rm", "app-conf");
  });

  test("task ls answers (no tasks for a zero-replica service)", async () => {
    const out = await ok("task", "ls");
    assert.match(out, /^ID\s+Service\s+Desired State\s+Last State\s+Node/);
  });

  test("version prints the version", async () => {
    assert.match(await ok("version"), /swarmctl/);
  });
});
