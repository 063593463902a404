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
