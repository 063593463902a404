// The renewer's own logic without a cluster: the known managers from
// state.json, and backoff when no manager answers (nothing is written).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CertificateRenewer, knownManagers } from "../../src/main/identity/index.js";
import { tempDir, testIdentity } from "../main/helpers.js";

// The renewer's timers are unref'd (they must not keep swarmd alive); keep the test's loop alive while it waits.
function keepAlive<T>(p: Promise<T>): Promise<T> {
  const t = setInterval(() => undefined, 1000);
  return p.finally(() => clearInterval(t));
}

test("knownManagers reads state.json's addresses and tolerates a missing or broken file", async () => {
  const dir = await tempDir("swarmd-renewer-");
  try {
    assert.deepEqual(await knownManagers(dir.path), []);
    await writeFile(join(dir.path, "state.json"), "not json");
    assert.deepEqual(await knownManagers(dir.path), []);
    await writeFile(
      join(dir.path, "state.json"),
      JSON.stringify([{ node_id: "", addr: "127.0.0.1:4242" }, { node_id: "b", addr: "10.0.0.2:4242" }, { node_id: "c" }]),
    );
    assert.deepEqual(await knownManagers(dir.path), ["127.0.0.1:4242", "10.0.0.2:4242"]);
  } finally {
    await dir.remove();
  }
});

test("a failing renewal backs off exponentially up to the maximum, rotates managers and writes nothing", { timeout: 30_000 }, async () => {
  const dir = await tempDir("swarmd-renewer-");
  try {
    const identity = await testIdentity(dir.path);
    const certBefore = await readFile(join(dir.path, "certificates", "swarm-node.crt"), "utf8");
    const asked: string[] = [];
    const delays: number[] = [];
    const tried: string[] = [];
    let renewed = 0;
    const done = new Promise<void>((resolve) => {
      const renewer = new CertificateRenewer({
        stateDir: dir.path,
        tls: identity.tls,
        // Nothing listens on port 1: every attempt fails at once.
        managers: async () => {
          asked.push("x");
          return ["127.0.0.1:1", "127.0.0.1:2"];
        },
        onRenewed: async () => {
          renewed++;
        },
        renewAfterMs: 10,
        backoffBaseMs: 20,
        backoffMaxMs: 80,
        onRetry: (delay, err) => {
          delays.push(delay);
          tried.push(/127\.0\.0\.1:(\d)/.exec(String((err as Error).message))?.[1] ?? "?");
          if (delays.length === 5) void renewer.stop().then(resolve);
        },
      });
      renewer.start();
    });
    await keepAlive(done);
    assert.deepEqual(delays, [20, 40, 80, 80, 80]);
    assert.equal(renewed, 0);
    assert.equal(await readFile(join(dir.path, "certificates", "swarm-node.crt"), "utf8"), certBefore);
    assert.equal(asked.length, 5);
    assert.deepEqual(tried, ["1", "2", "1", "2", "1"]);
  } finally {
    await dir.remove();
  }
});

test("with no known manager the renewer waits and retries instead of failing the node", { timeout: 10_000 }, async () => {
  const dir = await tempDir("swarmd-renewer-");
  try {
    const identity = await testIdentity(dir.path);
    const errors: string[] = [];
    await keepAlive(new Promise<void>((resolve) => {
      const renewer = new CertificateRenewer({
        stateDir: dir.path,
        tls: identity.tls,
        managers: async () => [],
        onRenewed: async () => undefined,
        renewAfterMs: 5,
        backoffBaseMs: 10,
        onRetry: (_delay, err) => {
          errors.push(String((err as Error).message));
          if (errors.length === 2) void renewer.stop().then(resolve);
        },
      });
      renewer.start();
    }));
    assert.match(errors[0]!, /no known manager/);
  } finally {
    await dir.remove();
  }
});
