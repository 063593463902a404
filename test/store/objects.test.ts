import { test } from "node:test";
import assert from "node:assert/strict";
import { SwarmError } from "../../src/shared/errors.js";
import { KINDS, type Kind, type ObjectOfKind } from "../../src/workers/manager/store/objects.js";
import {
  cluster, config, ids, network, newStore, node, NodeRole, NodeSpec_Membership, renamed, secret, service, T0, task, TaskState,
} from "./fixtures.js";

const samples: { [K in Kind]: (id: string, name: string) => ObjectOfKind[K] } = {
  node: (id, name) => node(id, name),
  service,
  network,
  task: (id, name) => task(id, { name }),
  cluster,
  secret,
  config,
};

for (const kind of KINDS) {
  test(`${kind}: create, get, find, update, remove`, async () => {
    const { store, write } = newStore();
    const make = samples[kind] as (id: string, name: string) => ObjectOfKind[Kind];
    await write((tx) => {
      tx.create(kind, make("aaa1", "Alpha"));
      tx.create(kind, make("bbb2", "beta"));
    });
    assert.equal(store.index, 1);

    const a = store.get(kind, "aaa1")!;
    assert.equal(a.id, "aaa1");
    assert.deepEqual(a.meta, { version: { index: 1 }, createdAt: T0, updatedAt: T0 });
    assert.ok(Object.isFrozen(a), "stored objects are frozen");
    assert.equal(store.get(kind, "nope"), undefined);

    assert.deepEqual(ids(store.find(kind)), ["aaa1", "bbb2"]);
    assert.deepEqual(ids(store.find(kind, { names: ["ALPHA"] })), ["aaa1"], "names are case-insensitive");
    assert.deepEqual(ids(store.find(kind, { namePrefixes: ["Be"] })), ["bbb2"]);
    assert.deepEqual(ids(store.find(kind, { idPrefixes: ["aa", "bb"] })), ["aaa1", "bbb2"]);
    assert.deepEqual(ids(store.find(kind, { idPrefixes: ["b"], names: ["alpha"] })), [], "filters combine with AND");
    assert.equal(store.view((tx) => tx.byName(kind, "BETA"))?.id, "bbb2");
    assert.deepEqual(ids(store.view((tx) => tx.byIdPrefix(kind, "a"))), ["aaa1"]);

    // Update carries the version it read; the new version is the commit index.
    await write((tx) => tx.update(kind, structuredClone(tx.get(kind, "aaa1")!)));
    const a2 = store.get(kind, "aaa1")!;
    assert.equal(a2.meta?.version?.index, 2);
    assert.deepEqual(a2.meta?.createdAt, T0, "createdAt survives updates");

    await write((tx) => tx.delete(kind, "aaa1"));
    assert.equal(store.get(kind, "aaa1"), undefined);
    assert.deepEqual(ids(store.find(kind, { names: ["alpha"] })), [], "the name index forgets removed objects");
    assert.equal(store.view((tx) => tx.count(kind)), 1);
  });
}

test("missing objects: update and remove fail with NOT_FOUND", async () => {
  const { store, write } = newStore();
  await assert.rejects(write((tx) => tx.update("service", service("x", "x"))), (e: unknown) => {
    assert.ok(e instanceof SwarmError);
    assert.equal(e.code, "NOT_FOUND");
    assert.match(e.message, /object does not exist: service x/);
    return true;
  });
  await assert.rejects(write((tx) => tx.delete("task", "y")), /object does not exist: task y/);
  assert.equal(store.index, 0, "nothing was proposed");
});

test("duplicate IDs fail with ALREADY_EXISTS", async () => {
  const { write } = newStore();
  await write((tx) => tx.create("network", network("n1", "a")));
  await assert.rejects(write((tx) => tx.create("network", network("n1", "b"))), (e: unknown) => {
    assert.equal((e as SwarmError).code, "ALREADY_EXISTS");
    assert.match((e as Error).message, /object already exists: network n1/);
    return true;
  });
  await assert.rejects(write((tx) => tx.create("network", network("", "c"))), /without an ID/);
});

test("task indexes: service, node, slot, desired state, task state; and updates move entries", async () => {
  const { store, write } = newStore();
  await write((tx) => {
    tx.create("task", task("t1", { serviceId: "s1", slot: 1, nodeId: "n1", desired: TaskState.RUNNING, state: TaskState.RUNNING }));
    tx.create("task", task("t2", { serviceId: "s1", slot: 2, nodeId: "n2", desired: TaskState.RUNNING, state: TaskState.PENDING }));
    tx.create("task", task("t3", { serviceId: "s1", slot: 1, nodeId: "n2", desired: TaskState.SHUTDOWN, state: TaskState.FAILED }));
    tx.create("task", task("t4", { serviceId: "s2", nodeId: "n1", desired: TaskState.RUNNING }));
  });
  const v = store.view((tx) => ({
    byService: ids(tx.tasksByService("s1")),
    byNode: ids(tx.tasksByNode("n2")),
    bySlot: ids(tx.tasksBySlot("s1", 1)),
    byDesired: ids(tx.tasksByDesiredState(TaskState.RUNNING)),
    byDesired2: ids(tx.tasksByDesiredState(TaskState.SHUTDOWN, TaskState.RUNNING)),
    byState: ids(tx.find("task", { taskStates: [TaskState.FAILED, TaskState.PENDING] })),
    combined: ids(tx.find("task", { serviceIds: ["s1"], nodeIds: ["n2"], desiredStates: [TaskState.RUNNING] })),
    globalNoSlot: ids(tx.find("task", { slots: [{ serviceId: "s2", slot: 0 }] })),
  }));
  assert.deepEqual(v, {
    byService: ["t1", "t2", "t3"],
    byNode: ["t2", "t3"],
    bySlot: ["t1", "t3"],
    byDesired: ["t1", "t2", "t4"],
    byDesired2: ["t1", "t2", "t3", "t4"],
    byState: ["t2", "t3"],
    combined: ["t2"],
    globalNoSlot: [],
  });
  // Reassigning a task moves it between node and desired-state index entries.
  await write((tx) => {
    const t = structuredClone(tx.get("task", "t1")!);
    t.nodeId = "n3";
    t.desiredState = TaskState.SHUTDOWN;
    tx.update("task", t);
  });
  assert.deepEqual(ids(store.view((tx) => tx.tasksByNode("n1"))), ["t4"]);
  assert.deepEqual(ids(store.view((tx) => tx.tasksByNode("n3"))), ["t1"]);
  assert.deepEqual(ids(store.view((tx) => tx.tasksByDesiredState(TaskState.SHUTDOWN))), ["t1", "t3"]);
  // Tasks without a name are named like SwarmKit's naming.Task.
  assert.deepEqual(ids(store.find("task", { names: ["web.2.t2"] })), ["t2"]);
});

test("node indexes: role, membership, hostname name (not unique), labels", async () => {
  const { store, write } = newStore();
  await write((tx) => {
    tx.create("node", node("n1", "host-a", { role: NodeRole.MANAGER, labels: { zone: "east", ssd: "true" } }));
    tx.create("node", node("n2", "Host-A", { membership: NodeSpec_Membership.PENDING, labels: { zone: "west" } }));
    tx.create("node", node("n3", "host-c", { labels: { zone: "east" } }));
  });
  assert.deepEqual(ids(store.find("node", { roles: [NodeRole.MANAGER] })), ["n1"]);
  assert.deepEqual(ids(store.find("node", { roles: [NodeRole.WORKER] })), ["n2", "n3"]);
  assert.deepEqual(ids(store.find("node", { memberships: [NodeSpec_Membership.PENDING] })), ["n2"]);
  assert.deepEqual(ids(store.find("node", { names: ["HOST-A"] })), ["n1", "n2"], "hostnames may repeat");
  assert.deepEqual(ids(store.find("node", { labels: { zone: "east" } })), ["n1", "n3"]);
  assert.deepEqual(ids(store.find("node", { labels: { ssd: "" } })), ["n1"], "an empty label value only requires the key");
  assert.deepEqual(ids(store.find("node", { labels: { zone: "east", ssd: "false" } })), []);
  // A node named in its spec is indexed under that name instead of its hostname.
  await write((tx) => tx.update("node", renamed(tx.get("node", "n3")!, "Edge")));
  assert.deepEqual(ids(store.find("node", { names: ["edge"] })), ["n3"]);
  assert.deepEqual(ids(store.find("node", { names: ["host-c"] })), []);
});

test("service labels and several unique-name kinds side by side", async () => {
  const { store, write } = newStore();
  await write((tx) => {
    tx.create("service", service("s1", "web", { tier: "front" }));
    tx.create("service", service("s2", "db", { tier: "back" }));
    tx.create("secret", secret("x1", "web"));
    tx.create("config", config("c1", "web"));
  });
  assert.deepEqual(ids(store.find("service", { labels: { tier: "front" } })), ["s1"]);
  assert.deepEqual(ids(store.find("secret", { names: ["web"] })), ["x1"], "names are unique per kind, not across kinds");
  assert.deepEqual(Buffer.from(store.get("secret", "x1")!.spec!.data).toString(), "s3cr3t");
});

test("objects handed out are frozen and not shared with the writer", async () => {
  const { store, write } = newStore();
  const s = service("s1", "web");
  await write((tx) => tx.create("service", s));
  s.spec!.annotations!.name = "changed-after-create";
  const got = store.get("service", "s1")!;
  assert.equal(got.spec?.annotations?.name, "web");
  assert.throws(() => {
    got.spec!.annotations!.name = "mutate";
  }, TypeError);
});

test("a view cannot be used after its function returns, and must be synchronous", async () => {
  const { store } = newStore();
  const escaped = store.view((tx) => tx);
  assert.throws(() => escaped.find("service"), /used after it ended/);
  assert.throws(() => store.prepare(async () => undefined), /must be synchronous/);
});
