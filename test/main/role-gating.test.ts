// Role gating in one process: the manager worker idles while the role is
// worker, runs its services after promotion, stops them after demotion,
// twice in a row, without restarting any thread.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { existsSync, statSync } from "node:fs";
import { parseFlags } from "../../src/main/flags.js";
import { SwarmNode } from "../../src/main/node.js";
import type { NodeConfig } from "../../src/shared/config.js";
import { canConnect, tempDir, testIdentity } from "./helpers.js";

async function configFor(stateDir: string, ...extra: string[]): Promise<NodeConfig> {
  const out = await parseFlags(["-d", stateDir, "--listen-remote-api", "127.0.0.1:0", "-l", "error", ...extra]);
  if (out.action !== "run") throw new Error(out.stderr);
  return out.config;
}

test("idle while worker, running after promotion, stopped after demotion — twice", async () => {
  const dir = await tempDir();
  const config = await configFor(dir.path);
  const node = await SwarmNode.start({ config, initialRole: "worker", identity: await testIdentity(dir.path) });
  try {
    const pongsBefore = await node.manager.ping();
    assert.equal(pongsBefore.thread, "manager", "the waiting manager worker still answers");
    let status = await node.manager.status();
    assert.equal(status.role, "worker");
    assert.equal(status.services, undefined);
    assert.equal(existsSync(config.listenControlApi), false, "no control socket while worker");
    assert.equal((await node.agent.status()).localManagerReachable, true);

    for (let round = 1; round <= 2; round++) {
      status = await node.setRole("manager");
      assert.equal(status.role, "manager", `round ${round}: promoted`);
      const services = status.services;
      assert.ok(services, `round ${round}: services running`);
      assert.equal(services.controlSocket, config.listenControlApi);
      assert.equal(await canConnect(config.listenControlApi), true, `round ${round}: control socket answers`);
      assert.equal(statSync(config.listenControlApi).mode & 0o777, 0o600, "control socket is 0600");
      assert.ok(services.remoteApi.port > 0, "ephemeral port resolved");
      assert.equal(await canConnect(services.remoteApi), true, `round ${round}: remote API answers`);

      status = await node.setRole("worker");
      assert.equal(status.role, "worker", `round ${round}: demoted`);
      assert.equal(status.services, undefined);
      assert.equal(existsSync(config.listenControlApi), false, `round ${round}: socket removed`);
      assert.equal(await canConnect(services.remoteApi), false, `round ${round}: remote API closed`);
      assert.equal((await node.manager.ping()).thread, "manager", "same manager thread, no restart");
    }
  } finally {
    await node.stop();
    await dir.remove();
  }
  assert.deepEqual(await node.done, { reason: "stopped" });
});

test("a promotion that cannot bind reports the reason and the node keeps running", async () => {
  const dir = await tempDir();
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
  const port = (blocker.address() as { port: number }).port;
  const config = await configFor(dir.path, "--listen-remote-api", `127.0.0.1:${port}`);
  const node = await SwarmNode.start({ config, initialRole: "worker", identity: await testIdentity(dir.path) });
  try {
    await assert.rejects(node.setRole("manager"), (err: Error & { code?: string }) => {
      assert.equal(err.code, "UNAVAILABLE");
      assert.match(err.message, new RegExp(`cannot listen on remote API address 127.0.0.1:${port}: address already in use`));
      return true;
    });
    assert.equal(existsSync(config.listenControlApi), false, "the half-started control socket was cleaned up");
    await new Promise<void>((r) => blocker.close(() => r()));
    const status = await node.setRole("manager");
    assert.ok(status.services, "a later promotion succeeds once the port is free");
  } finally {
    blocker.close();
    await node.stop();
    await dir.remove();
  }
});

test("a node started as manager has its services up when start() returns", async () => {
  const dir = await tempDir();
  const config = await configFor(dir.path);
  const node = await SwarmNode.start({ config, initialRole: "manager", identity: await testIdentity(dir.path) });
  try {
    const status = await node.manager.status();
    assert.equal(status.role, "manager");
    assert.ok(status.services);
    assert.equal(await canConnect(config.listenControlApi), true);
    assert.equal((await node.agent.ping()).thread, "agent");
  } finally {
    await node.stop();
    await dir.remove();
  }
});
