// kill -9 at random moments during a stream of writes through the control
// API: after every restart, each acknowledged write is present and intact,
// and nothing that was not acknowledged is half-applied.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startSwarmd, tempDir, testArgs } from "../main/helpers.js";
import { unary, waitForControl } from "../helpers/control.js";
import { SeededRandom } from "../../src/workers/manager/raft/core/index.js";
import { CreateServiceRequest, type ControlClient, type Service } from "../../src/shared/api/index.js";
import { join } from "node:path";

const ROUNDS = 8;
const WRITERS = 8;

function createReq(name: string) {
  return CreateServiceRequest.fromPartial({
    spec: {
      annotations: { name, labels: { crash: "test", name }, indices: [] },
      task: { runtime: { $case: "container", value: { image: `busybox:${name}` } } },
      mode: { $case: "replicated", value: { replicas: 0 } },
    },
  });
}

async function listServices(client: ControlClient): Promise<Service[]> {
  const res = await unary<"listServices", object, { services: Service[] }>(client, "listServices", { filters: undefined });
  return res.services;
}

test("kill -9 during writes loses no acknowledged write and half-applies nothing", { timeout: 240_000 }, async (t) => {
  const dir = await tempDir("swarmd-crash-");
  const stateDir = join(dir.path, "state");
  const rand = new SeededRandom(Number(process.env.CRASH_SEED ?? Date.now() % 100000));
  const acknowledged = new Set<string>();
  const attempted = new Set<string>();
  let seq = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const proc = startSwarmd(testArgs(stateDir, "--tick-interval", "50ms"));
      try {
        const client = await waitForControl(join(stateDir, "swarmd.sock"));
        // Everything acknowledged before this start must be here, intact.
        const present = await listServices(client);
        const names = new Set(present.map((s) => s.spec!.annotations!.name));
        for (const name of acknowledged) assert.ok(names.has(name), `acknowledged service ${name} lost after round ${round}`);
        for (const s of present) {
          const name = s.spec!.annotations!.name;
          assert.ok(attempted.has(name), `unexpected service ${name}`);
          const c = s.spec!.task!.runtime;
          assert.equal(c?.$case, "container");
          assert.equal(c.value.image, `busybox:${name}`, `service ${name} is intact`);
          assert.equal(s.spec!.annotations!.labels["name"], name);
        }

        let stop = false;
        const writers = Array.from({ length: WRITERS }, async () => {
          while (!stop) {
            const name = `svc-${++seq}`;
            attempted.add(name);
            try {
              await unary(client, "createService", createReq(name), 5000);
              acknowledged.add(name);
            } catch {
              return; // the process died mid-call: not acknowledged
            }
          }
        });
        await new Promise((r) => setTimeout(r, 150 + rand.intn(600)));
        proc.child.kill("SIGKILL");
        stop = true;
        await proc.exited;
        await Promise.all(writers);
        client.close();
      } finally {
        proc.kill();
      }
    }
    // Final check after the last crash.
    const proc = startSwarmd(testArgs(stateDir, "--tick-interval", "50ms"));
    try {
      const client = await waitForControl(join(stateDir, "swarmd.sock"));
      const names = new Set((await listServices(client)).map((s) => s.spec!.annotations!.name));
      for (const name of acknowledged) assert.ok(names.has(name), `acknowledged service ${name} lost at the end`);
      assert.ok(acknowledged.size > ROUNDS, `writes were acknowledged (${acknowledged.size})`);
      t.diagnostic(`${ROUNDS} kills; ${acknowledged.size} of ${attempted.size} writes acknowledged, all present`);
      client.close();
    } finally {
      proc.child.kill("SIGTERM");
      await proc.exited;
    }
  } finally {
    await dir.remove();
  }
});

test("--force-new-cluster restarts the built swarmd as a one-member cluster that keeps all data", { timeout: 60_000 }, async () => {
  const dir = await tempDir("swarmd-fnc-");
  const stateDir = join(dir.path, "state");
  try {
    let proc = startSwarmd(testArgs(stateDir, "--tick-interval", "50ms"));
    let client = await waitForControl(join(stateDir, "swarmd.sock"));
    for (let i = 0; i < 5; i++) await unary(client, "createService", createReq(`keep-${i}`));
    client.close();
    proc.child.kill("SIGTERM");
    assert.equal((await proc.exited).code, 0);

    proc = startSwarmd(testArgs(stateDir, "--tick-interval", "50ms", "--force-new-cluster"));
    try {
      client = await waitForControl(join(stateDir, "swarmd.sock"));
      const names = (await listServices(client)).map((s) => s.spec!.annotations!.name).sort();
      assert.deepEqual(names, ["keep-0", "keep-1", "keep-2", "keep-3", "keep-4"]);
      await unary(client, "createService", createReq("after-force"));
      const nodes = await unary<"listNodes", object, { nodes: { managerStatus?: { leader: boolean } }[] }>(client, "listNodes", { filters: undefined });
      assert.equal(nodes.nodes.filter((n) => n.managerStatus?.leader).length, 1, "this node leads its one-member cluster");
      client.close();
    } finally {
      proc.child.kill("SIGTERM");
      await proc.exited;
    }
  } finally {
    await dir.remove();
  }
});
