// The test cleanup's way out of a wedged Docker engine (helpers/engine.ts):
// an engine that takes a remove and never answers must not hang the suite.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rawDocker, removeContainersByLabel, startEngine, uniqueId } from "./engine.js";

test("a cleanup whose engine never answers restarts the engine and finishes", { timeout: 180_000 }, async () => {
  const addr = await startEngine();
  const label = uniqueId("wedged");
  // A container the retry must remove, on the real engine.
  const docker = rawDocker(addr);
  const c = await docker.createContainer({ Image: "busybox:local", Cmd: ["true"], Labels: { "swarmkit-ts.test": label }, HostConfig: { NetworkMode: "none" } });
  // An "engine" that accepts the connection and then says nothing, as a deadlocked dockerd does.
  const dir = await mkdtemp(join(tmpdir(), "wedged-engine-"));
  const sockets: Socket[] = [];
  const server = createServer((s) => void sockets.push(s));
  await new Promise<void>((resolve) => server.listen(join(dir, "docker.sock"), resolve));
  try {
    const started = Date.now();
    const removed = await removeContainersByLabel(`unix://${join(dir, "docker.sock")}`, "swarmkit-ts.test", label, 500);
    assert.equal(removed, 1, "after the restart, the retry on the real engine removed the container");
    assert.ok(sockets.length >= 1, "the first attempt did reach the silent engine");
    assert.ok(Date.now() - started < 150_000, "it gave up on the silent engine instead of waiting forever");
    await assert.rejects(docker.getContainer(c.id).inspect(), /no such container/i);
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
