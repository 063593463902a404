// swarmd --join-addr/--join-token against a real first manager (dist/main.js).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Cluster } from "../../src/shared/api/index.js";
import { generateJoinToken, parseNodeCert, WORKER_ROLE } from "../../src/shared/pki/index.js";
import { unary, waitForControl } from "../helpers/control.js";
import { startSwarmd, tempDir, type SwarmdProcess } from "../main/helpers.js";

let dir: { path: string; remove(): Promise<void> };
let manager: SwarmdProcess;
let tokens: { worker: string; manager: string };
let addr = "";
let caPem = "";

before(async () => {
  dir = await tempDir("swarmd-join-");
  const stateDir = join(dir.path, "m1");
  manager = startSwarmd(["-d", stateDir, "--listen-remote-api", "127.0.0.1:0", "--tick-interval", "100ms", "-l", "debug"]);
  const bound = /"remoteApi":"127\.0\.0\.1:([1-9]\d*)"[^\n]*manager services started/;
  await manager.waitForLog(bound, 20_000);
  addr = `127.0.0.1:${bound.exec(manager.stderr())![1]}`;
  const client = await waitForControl(join(stateDir, "swarmd.sock"));
  try {
    const res = await unary<"listClusters", object, { clusters: Cluster[] }>(client, "listClusters", {});
    const jt = res.clusters[0]!.rootCa!.joinTokens!;
    tokens = { worker: jt.worker, manager: jt.manager };
  } finally {
    client.close();
  }
  caPem = readFileSync(join(stateDir, "certificates", "swarm-root-ca.crt"), "utf8");
});

after(async () => {
  manager?.child.kill("SIGTERM");
  await manager?.exited;
  await dir?.remove();
});

const nodeArgs = (name: string, ...extra: string[]): string[] => [
  "-d",
  join(dir.path, name),
  "--listen-remote-api",
  "127.0.0.1:0",
  "--listen-control-api",
  join(dir.path, `${name}.sock`),
  "--join-addr",
  addr,
  ...extra,
];

test("a wrong token: exit 1 within seconds, one clear line, nothing written to the state dir", { timeout: 30_000 }, async () => {
  const t0 = Date.now();
  const p = startSwarmd(nodeArgs("bad", "--join-token", generateJoinToken(caPem)));
  const e = await p.exited;
  assert.equal(e.code, 1);
  assert.ok(Date.now() - t0 < 8000, `took ${Date.now() - t0} ms`);
  const lines = p.stderr().split("\n").filter((l) => l.startsWith("swarmd:"));
  assert.equal(lines.length, 1, p.stderr());
  assert.match(lines[0]!, /A valid join token is necessary to join this cluster/);
  assert.equal(existsSync(join(dir.path, "bad")), false, "state dir must not be created");
});

test("the worker token: the node joins as a worker (certificate OU, state.json names the manager)", { timeout: 30_000 }, async () => {
  const p = startSwarmd(nodeArgs("w1", "--join-token", tokens.worker, "-l", "info"));
  try {
    await p.waitForLog(/"role":"worker"[^\n]*node is ready/, 20_000);
    const certs = join(dir.path, "w1", "certificates");
    const info = parseNodeCert(readFileSync(join(certs, "swarm-node.crt"), "utf8"));
    assert.equal(info.role, WORKER_ROLE);
    assert.equal(statSync(join(certs, "swarm-node.key")).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(join(dir.path, "w1", "state.json"), "utf8")), [{ node_id: "", addr }]);
  } finally {
    p.child.kill("SIGTERM");
    await p.exited;
  }
  // A restart reuses the identity (no token needed any more).
  const again = startSwarmd(nodeArgs("w1"));
  try {
    await again.waitForLog(/"role":"worker"[^\n]*node is ready/, 20_000);
  } finally {
    again.child.kill("SIGTERM");
    await again.exited;
  }
});
