// A manager started with V8 options on node's command line (what operators
// pass to size the heap) still signs joins: its CA's signing threads used to
// inherit those options, which a Worker refuses, and every join then hung.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Cluster } from "../../src/shared/api/index.js";
import { unary, waitForControl } from "../helpers/control.js";
import { startSwarmd, tempDir, type SwarmdProcess } from "../main/helpers.js";

/** `node <these> dist/main.js …`: V8 and per-process options a Worker refuses, and one it accepts. */
const NODE_OPTIONS = ["--max-old-space-size=512", "--single-threaded-gc", "--enable-source-maps"];
const withNodeOptions = ["sh", "-c", `exec "$0" ${NODE_OPTIONS.join(" ")} "$@"`];

let dir: { path: string; remove(): Promise<void> };
let manager: SwarmdProcess;
let addr = "";
let workerToken = "";

before(async () => {
  dir = await tempDir("swarmd-node-options-");
  const stateDir = join(dir.path, "m1");
  manager = startSwarmd(["-d", stateDir, "--listen-remote-api", "127.0.0.1:0", "--tick-interval", "100ms", "-l", "info"], {}, withNodeOptions);
  const bound = /"remoteApi":"127\.0\.0\.1:([1-9]\d*)"[^\n]*manager services started/;
  await manager.waitForLog(bound, 20_000);
  addr = `127.0.0.1:${bound.exec(manager.stderr())![1]}`;
  const client = await waitForControl(join(stateDir, "swarmd.sock"));
  try {
    const res = await unary<"listClusters", object, { clusters: Cluster[] }>(client, "listClusters", {});
    workerToken = res.clusters[0]!.rootCa!.joinTokens!.worker;
  } finally {
    client.close();
  }
});

after(async () => {
  manager?.child.kill("SIGTERM");
  await manager?.exited;
  await dir?.remove();
});

test("a manager run as `node --max-old-space-size=… --single-threaded-gc main.js` signs a joining worker's certificate", { timeout: 60_000 }, async () => {
  const p = startSwarmd(["-d", join(dir.path, "w1"), "--listen-remote-api", "127.0.0.1:0", "--listen-control-api", join(dir.path, "w1.sock"), "--join-addr", addr, "--join-token", workerToken, "-l", "info"]);
  try {
    await p.waitForLog(/"role":"worker"[^\n]*node is ready/, 30_000);
  } finally {
    p.child.kill("SIGTERM");
    await p.exited;
  }
  assert.doesNotMatch(manager.stderr(), /leader component failed to start/);
});
