import { test } from "node:test";
import assert from "node:assert/strict";
import { Snapshot, Snapshot_Version } from "../../src/shared/api/gen/api/snapshot.js";
import { toWireSnapshot } from "../../src/workers/manager/store/codec.js";
import { encodeSnapshotSliced } from "../../src/workers/manager/raft/snapshot-encode.js";
import { config, newStore, node, service, task, TaskState } from "../store/fixtures.js";

test("a snapshot encoded in slices decodes to the same snapshot as a one-shot encode", async () => {
  const s = newStore();
  await s.write((tx) => {
    tx.create("node", node("n1", "host-1"));
    tx.create("service", service("s1", "web"));
    for (let i = 0; i < 700; i++) tx.create("task", task(`t${i}`, { serviceId: "s1", slot: i + 1, nodeId: "n1", desired: TaskState.RUNNING }));
    for (let i = 0; i < 300; i++) tx.create("config", config(`f${i}`, `conf-${i}`));
  });
  const membership = { members: [{ raftId: 7, nodeId: "n1", addr: "127.0.0.1:1", status: undefined }], removed: [3, 5] };
  const saved = s.store.save({ sorted: false });
  let yields = 0;
  const sliced = await encodeSnapshotSliced(membership, saved, {
    budgetMs: 0, // yield after every slice
    yieldFn: async () => {
      yields++;
    },
  });
  assert.ok(yields >= 8, `expected the encode to yield between slices, yielded ${yields} times`);
  const oneShot = Snapshot.encode({ version: Snapshot_Version.V0, membership, store: toWireSnapshot(saved) }).finish();
  assert.deepEqual(Snapshot.decode(sliced), Snapshot.decode(oneShot));
  assert.equal(Snapshot.decode(sliced).store!.tasks.length, 700);
  assert.equal(sliced.length, oneShot.length);
});

test("an empty store encodes to a snapshot with an empty store field", async () => {
  const s = newStore();
  const membership = { members: [], removed: [] };
  const sliced = await encodeSnapshotSliced(membership, s.store.save());
  const decoded = Snapshot.decode(sliced);
  assert.ok(decoded.store);
  assert.equal(decoded.store.nodes.length, 0);
});

test("a second snapshot reuses unchanged objects' bytes and carries every change made since", async () => {
  const s = newStore();
  await s.write((tx) => {
    for (let i = 0; i < 200; i++) tx.create("config", config(`g${i}`, `conf-g${i}`));
  });
  const membership = { members: [], removed: [] };
  const first = await encodeSnapshotSliced(membership, s.store.save({ sorted: false }));
  // Change one object (a new frozen version), remove one, add one.
  await s.write((tx) => {
    const c = tx.get("config", "g1")!;
    tx.update("config", { ...c, spec: { ...c.spec!, annotations: { ...c.spec!.annotations!, labels: { changed: "yes" } } } });
    tx.delete("config", "g2");
    tx.create("config", config("g-new", "conf-g-new"));
  });
  const saved = s.store.save({ sorted: false });
  const second = await encodeSnapshotSliced(membership, saved);
  const oneShot = Snapshot.encode({ version: Snapshot_Version.V0, membership, store: toWireSnapshot(saved) }).finish();
  assert.deepEqual(Snapshot.decode(second), Snapshot.decode(oneShot), "cached bytes and fresh ones make the same snapshot");
  const configs = Snapshot.decode(second).store!.configs;
  assert.equal(configs.length, 200);
  assert.equal(configs.find((c) => c.id === "g1")?.spec?.annotations?.labels.changed, "yes");
  assert.ok(!configs.some((c) => c.id === "g2"));
  assert.ok(configs.some((c) => c.id === "g-new"));
  assert.notDeepEqual(Snapshot.decode(first), Snapshot.decode(second));
  assert.deepEqual(Buffer.from(second), Buffer.from(oneShot), "byte for byte");
});

test("fresh objects encoded together per slice and split at element boundaries: byte for byte a one-shot encode, across kinds", async () => {
  const s = newStore();
  const membership = { members: [], removed: [] };
  await s.write((tx) => {
    tx.create("node", node("n1", "host-1"));
    tx.create("service", service("s1", "web"));
    for (let i = 0; i < 150; i++) tx.create("config", config(`h${i}`, `conf-h${i}`));
  });
  await encodeSnapshotSliced(membership, s.store.save({ sorted: false }));
  // Slices now mix cached objects with fresh ones of several kinds, some slices all fresh.
  await s.write((tx) => {
    for (let i = 0; i < 400; i++) tx.create("task", task(`u${i}`, { serviceId: "s1", slot: i + 1, nodeId: "n1", desired: TaskState.RUNNING }));
    for (let i = 150; i < 450; i += 2) tx.create("config", config(`h${i}`, `conf-h${i}`));
    tx.delete("config", "h7");
  });
  const saved = s.store.save({ sorted: false });
  const sliced = await encodeSnapshotSliced(membership, saved, { budgetMs: 0, yieldFn: async () => undefined });
  const oneShot = Snapshot.encode({ version: Snapshot_Version.V0, membership, store: toWireSnapshot(saved) }).finish();
  assert.deepEqual(Buffer.from(sliced), Buffer.from(oneShot));
  const decoded = Snapshot.decode(sliced).store!;
  assert.equal(decoded.tasks.length, 400);
  assert.equal(decoded.configs.length, 149 + 150);
});
