import { test } from "node:test";
import assert from "node:assert/strict";
import { SwarmError } from "../../src/shared/errors.js";
import { MemoryStore } from "../../src/workers/manager/store/memory-store.js";
import { Snapshot, Snapshot_Version } from "../../src/shared/api/gen/api/snapshot.js";
import { cluster, config, ids, network, newStore, node, NodeRole, secret, service, task, TaskState } from "./fixtures.js";

async function populated() {
  const s = newStore();
  await s.write((tx) => {
    tx.create("cluster", cluster("c1", "default"));
    tx.create("node", node("n1", "host-1", { role: NodeRole.MANAGER, labels: { zone: "a" } }));
    tx.create("node", node("n2", "host-2"));
    tx.create("service", service("s1", "web", { tier: "front" }));
    tx.create("network", network("x1", "ingress"));
    tx.create("secret", secret("k1", "key"));
    tx.create("config", config("f1", "conf"));
    for (let i = 1; i <= 5; i++) {
      tx.create("task", task(`t${i}`, { serviceId: "s1", slot: i, nodeId: i % 2 ? "n1" : "n2", desired: TaskState.RUNNING }));
    }
  });
  await s.write((tx) => tx.delete("task", "t5"));
  return s;
}

test("snapshot → restore gives identical objects, versions and indexes", async () => {
  const { store } = await populated();
  const bytes = store.snapshot();
  const copy = new MemoryStore();
  copy.restore(bytes, store.index);
  assert.equal(copy.index, 2);
  assert.deepEqual(copy.save(), store.save());
  assert.deepEqual(copy.dumpIndexes(), store.dumpIndexes());
  assert.deepEqual(ids(copy.view((tx) => tx.tasksByNode("n1"))), ["t1", "t3"]);
  assert.equal(copy.get("task", "t1")!.meta?.version?.index, 1);
  assert.equal(Buffer.from(copy.get("secret", "k1")!.spec!.data).toString(), "s3cr3t");
  assert.ok(Object.isFrozen(copy.get("service", "s1")));
  // Writes continue from the restored index.
  const r = copy.apply(3, copy.prepare((tx) => tx.create("service", service("s2", "api"))).actions);
  assert.equal(r.ok, true);
  assert.equal(copy.get("service", "s2")!.meta?.version?.index, 3);
});

test("the store snapshot embeds in SwarmKit's raft Snapshot message", async () => {
  const { store } = await populated();
  const wire = Snapshot.encode({ version: Snapshot_Version.V0, membership: { members: [], removed: [] }, store: { ...store.save(), resources: [], extensions: [], volumes: [] } }).finish();
  const back = Snapshot.decode(wire);
  const copy = new MemoryStore();
  copy.load({ ...back.store! }, 2);
  assert.deepEqual(copy.save(), store.save());
});

test("restore replaces everything, ends watchers, and resets resume history", async () => {
  const { store: target, write } = await populated();
  await write((tx) => tx.create("service", service("only-here", "gone-after-restore")));
  const w = target.watch();
  const source = new MemoryStore();
  source.apply(40, source.prepare((tx) => tx.create("service", service("z", "web"))).actions);
  target.restore(source.snapshot(), 40);
  assert.deepEqual(ids(target.find("service")), ["z"]);
  assert.equal(target.find("task").length, 0);
  assert.deepEqual(target.dumpIndexes().task, {});
  assert.equal(target.index, 40);
  await assert.rejects(w.next(), (e: unknown) => e instanceof SwarmError && e.code === "ABORTED" && /restored from a snapshot at index 40/.test(e.message));
  assert.throws(() => target.watch({ fromIndex: 10 }), /only keeps changes after index 40/);
  // Name uniqueness holds against restored objects.
  assert.throws(() => target.prepare((tx) => tx.create("service", service("y", "WEB"))), /name conflicts/);
});

test("a corrupt or inconsistent snapshot is refused and the store is left as it was", async () => {
  const { store } = await populated();
  const before = store.save();
  assert.throws(() => store.restore(new Uint8Array([0xff, 0xff, 0xff]), 9), (e: unknown) => e instanceof SwarmError && e.code === "DATA_LOSS");
  const dup = { ...store.save() };
  dup.services = [dup.services[0]!, dup.services[0]!];
  assert.throws(() => store.load(dup, 9), /duplicate service s1/);
  assert.deepEqual(store.save(), before);
  assert.equal(store.index, 2);
});
