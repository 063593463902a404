import { test } from "node:test";
import assert from "node:assert/strict";
import { SwarmError } from "../../src/shared/errors.js";
import { batch, type Proposer } from "../../src/workers/manager/store/proposer.js";
import { MAX_CHANGES_PER_TRANSACTION, MAX_TRANSACTION_BYTES } from "../../src/workers/manager/store/errors.js";
import { encodeRaftRequest, decodeRaftRequest, encodedActionsSize, withRequestId } from "../../src/workers/manager/store/codec.js";
import type { StoreAction } from "../../src/workers/manager/store/actions.js";
import { cluster, config, ids, network, newStore, node, renamed, secret, service, T0, task } from "./fixtures.js";
import { normalize, Service, type Kind, type ObjectOfKind } from "../../src/workers/manager/store/objects.js";

const code = (c: string, re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof SwarmError, String(e));
  assert.equal(e.code, c);
  assert.match(e.message, re);
  return true;
};

test("a stale update fails with 'update out of sequence' and changes nothing", async () => {
  const { store, write } = newStore();
  await write((tx) => tx.create("service", service("s1", "web")));
  const readAt1 = structuredClone(store.get("service", "s1")!);
  await write((tx) => tx.update("service", renamed(readAt1, "web2")));
  assert.equal(store.get("service", "s1")!.meta?.version?.index, 2);
  const before = store.index;
  await assert.rejects(
    write((tx) => tx.update("service", renamed(readAt1, "web3"))),
    code("FAILED_PRECONDITION", /update out of sequence: service s1 was read at version 1 but is now at version 2/),
  );
  assert.equal(store.index, before);
  assert.equal(store.get("service", "s1")!.spec?.annotations?.name, "web2");
});

test("names are unique per kind, case-insensitively, on create and on rename", async () => {
  const { store, write } = newStore();
  await write((tx) => {
    tx.create("service", service("s1", "Web"));
    tx.create("service", service("s2", "db"));
  });
  await assert.rejects(
    write((tx) => tx.create("service", service("s3", "WEB"))),
    code("ALREADY_EXISTS", /name conflicts with an existing object: service name "WEB" is used by s1/),
  );
  await assert.rejects(write((tx) => tx.update("service", renamed(tx.get("service", "s2")!, "web"))), /name conflicts/);
  // Renaming to a different case of its own name is fine; freeing a name lets another take it.
  await write((tx) => tx.update("service", renamed(tx.get("service", "s1")!, "WEB")));
  await write((tx) => {
    tx.update("service", renamed(tx.get("service", "s1")!, "frontend"));
    tx.update("service", renamed(tx.get("service", "s2")!, "web"));
  });
  assert.deepEqual(ids(store.find("service", { names: ["web"] })), ["s2"]);
  // Swapping names inside one transaction works because checks see the transaction's own writes.
  await write((tx) => {
    tx.update("service", renamed(tx.get("service", "s2")!, "tmp"));
    tx.update("service", renamed(tx.get("service", "s1")!, "web"));
    tx.update("service", renamed(tx.get("service", "s2")!, "frontend"));
  });
  assert.deepEqual(ids(store.find("service", { names: ["web"] })), ["s1"]);
  assert.deepEqual(ids(store.find("service", { names: ["frontend"] })), ["s2"]);
  // Removing frees the name.
  await write((tx) => tx.delete("service", "s1"));
  await write((tx) => tx.create("service", service("s9", "Web")));
  // Two creates with one name in a single transaction conflict.
  await assert.rejects(
    write((tx) => {
      tx.create("network", network("n1", "net"));
      tx.create("network", network("n2", "NET"));
    }),
    /name conflicts/,
  );
  assert.equal(store.find("network").length, 0);
});

test("a transaction is all or nothing", async () => {
  const { store, write } = newStore();
  await write((tx) => tx.create("service", service("s1", "web")));
  const index = store.index;
  await assert.rejects(
    write((tx) => {
      tx.create("task", task("t1", { serviceId: "s1", slot: 1 }));
      tx.create("task", task("t2", { serviceId: "s1", slot: 2 }));
      tx.delete("service", "missing");
    }),
    /object does not exist/,
  );
  assert.equal(store.index, index);
  assert.equal(store.find("task").length, 0);
  // Inside a transaction, reads see its own writes.
  const seen = await write((tx) => {
    tx.create("task", task("t1", { serviceId: "s1", slot: 1 }));
    tx.delete("service", "s1");
    return { tasks: ids(tx.tasksByService("s1")), service: tx.get("service", "s1"), count: tx.count("service") };
  });
  assert.deepEqual(seen, { tasks: ["t1"], service: undefined, count: 0 });
});

test("apply re-checks: the second of two racing transactions fails cleanly", async () => {
  const { store, write } = newStore();
  await write((tx) => {
    tx.create("service", service("s1", "web"));
    tx.create("task", task("t1", { serviceId: "s1", slot: 1 }));
  });
  // Both prepared against the same state, as two leader-side callers would.
  const a = store.prepare((tx) => tx.update("service", renamed(tx.get("service", "s1")!, "a")));
  const b = store.prepare((tx) => {
    tx.update("service", renamed(tx.get("service", "s1")!, "b"));
    tx.create("task", task("t2", { serviceId: "s1", slot: 2 }));
  });
  const c = store.prepare((tx) => tx.create("network", network("n1", "shared")));
  const d = store.prepare((tx) => tx.create("network", network("n2", "SHARED")));
  const e = store.prepare((tx) => tx.delete("task", "t1"));
  const f = store.prepare((tx) => tx.delete("task", "t1"));

  const events: string[] = [];
  const w = store.watch({ includeCommits: true });
  const ra = store.apply(10, a.actions);
  const rb = store.apply(11, b.actions);
  assert.deepEqual(ra, { ok: true, index: 10, changes: 1 });
  assert.equal(rb.ok, false);
  assert.ok(!rb.ok && rb.error.code === "FAILED_PRECONDITION" && /update out of sequence/.test(rb.error.message));
  assert.equal(store.get("task", "t2"), undefined, "the failed transaction's other writes did not happen");
  assert.equal(store.get("service", "s1")!.spec?.annotations?.name, "a");
  assert.equal(store.index, 11, "a failed entry still advances the applied index");

  assert.equal(store.apply(12, c.actions).ok, true);
  const rd = store.apply(13, d.actions);
  assert.ok(!rd.ok && /name conflicts/.test(rd.error.message));
  assert.equal(store.apply(14, e.actions).ok, true);
  const rf = store.apply(15, f.actions);
  assert.ok(!rf.ok && rf.error.code === "NOT_FOUND");
  w.close();
  for await (const ev of w) events.push(ev.type === "change" ? `${ev.index}:${ev.action} ${ev.kind}` : `${ev.index}:commit`);
  assert.deepEqual(events, ["10:update service", "10:commit", "12:create network", "12:commit", "14:remove task", "14:commit"],
    "failed transactions publish nothing");
  assert.equal(store.find("network").length, 1);
  assert.throws(() => store.apply(15, []), /out of order/);
});

test("apply is deterministic: replicas applying the same encoded entries end identical", async () => {
  const leader = newStore();
  const follower = newStore();
  const entries: Uint8Array[] = [];
  const capture: Proposer = {
    async propose(actions: readonly StoreAction[]) {
      const data = encodeRaftRequest({ id: entries.length + 1, actions: [...actions] });
      entries.push(data);
      const r = leader.store.applyEntry(leader.store.index + 1, data);
      if (!r.ok) throw r.error;
    },
  };
  await batch(leader.store, capture, async (b) => {
    for (let i = 0; i < 30; i++) await b.update((tx) => tx.create("task", task(`t${i}`, { serviceId: "s", slot: i + 1 })));
    await b.update((tx) => tx.create("secret", secret("x", "key")));
  });
  const wrong = leader.store.prepare((tx) => tx.update("secret", renamed(tx.get("secret", "x")!, "k2")));
  await capture.propose(wrong.actions);
  for (const [i, data] of entries.entries()) {
    const r = follower.store.applyEntry(i + 1, data);
    assert.ok(r.ok);
    assert.equal(r.requestId, i + 1);
  }
  assert.deepEqual(follower.store.save(), leader.store.save());
  assert.deepEqual(follower.store.dumpIndexes(), leader.store.dumpIndexes());
  assert.deepEqual(leader.store.get("secret", "x")!.meta, { version: { index: 2 }, createdAt: T0, updatedAt: T0 });
});

test("a decoded entry is stored as the normalizing path would store it (applyEntry skips the second deep copy)", () => {
  const rich = Service.fromPartial({
    id: "svc1",
    spec: {
      annotations: { name: "web", labels: { tier: "front" } },
      task: {
        runtime: { $case: "container", value: { image: "busybox:local", command: ["sh"], args: ["-c", "sleep 1"], env: ["A=1"], mounts: [{ source: "/tmp", target: "/data", readonly: true }] } },
        restart: { delay: { seconds: 5, nanos: 0 } },
        placement: { constraints: ["node.role==worker"] },
      },
      mode: { $case: "replicated", value: { replicas: 3 } },
      update: { parallelism: 2 },
    },
  });
  const objects: Array<[Kind, ObjectOfKind[Kind]]> = [
    ["node", node("n1", "host1", { labels: { zone: "a" } })],
    ["service", rich],
    ["task", task("t1", { serviceId: "svc1", slot: 1, nodeId: "n1", name: "web.1" })],
    ["network", network("net1", "backend")],
    ["cluster", cluster("c1", "default")],
    ["secret", secret("sec1", "token")],
    ["config", config("cfg1", "conf")],
  ];
  const { store: source } = newStore();
  const prepared = source.prepare((tx) => {
    for (const [kind, obj] of objects) tx.create(kind, obj);
  });
  const data = encodeRaftRequest({ id: 1, actions: prepared.actions });
  for (const a of decodeRaftRequest(data).actions) {
    assert.deepEqual(a.target, normalize(a.kind, a.target), `a decoded ${a.kind} is already normalized`);
  }
  const fast = newStore().store;
  const slow = newStore().store;
  assert.equal(fast.applyEntry(1, data).ok, true);
  // The same actions, decoded but not frozen, take the normalizing path.
  assert.equal(slow.apply(1, decodeRaftRequest(data).actions).ok, true);
  assert.deepEqual(fast.save(), slow.save());
  assert.deepEqual(fast.dumpIndexes(), slow.dumpIndexes());
  assert.ok(Object.isFrozen(fast.get("service", "svc1")!.spec), "stored objects are frozen all the way down");
});

test("timestamps come from the proposal (the leader's clock), not the applying replica", () => {
  const { store } = newStore();
  const at = new Date("2030-05-05T00:00:00Z");
  const p = store.prepare((tx) => tx.create("config", config("c1", "x")), { now: at });
  const decoded = decodeRaftRequest(encodeRaftRequest({ id: 7, actions: p.actions }));
  assert.equal(decoded.id, 7);
  assert.equal(store.apply(5, decoded.actions).ok, true);
  assert.deepEqual(store.get("config", "c1")!.meta, { version: { index: 5 }, createdAt: at, updatedAt: at });
});

test("transactions over 1.5 MiB are refused with a clear error; batches split them", async () => {
  const { store, proposer, write } = newStore();
  const big = "x".repeat(200 * 1024);
  await assert.rejects(
    write((tx) => {
      for (let i = 0; i < 9; i++) tx.create("secret", secret(`s${i}`, `n${i}`, big));
    }),
    code("RESOURCE_EXHAUSTED", new RegExp(`transaction too large: \\d+ bytes encoded, the limit is ${MAX_TRANSACTION_BYTES} bytes`)),
  );
  assert.equal(store.find("secret").length, 0);

  const before = proposer.proposals;
  const r = await batch(store, proposer, async (b) => {
    for (let i = 0; i < 9; i++) await b.update((tx) => tx.create("secret", secret(`s${i}`, `n${i}`, big)));
  });
  assert.equal(store.find("secret").length, 9);
  assert.equal(r.updates, 9);
  assert.ok(r.transactions >= 2, `split by size into ${r.transactions} transactions`);
  assert.equal(proposer.proposals - before, r.transactions);
});

test("a batch proposes at most 200 changes per transaction and rolls back a failing update alone", async () => {
  const { store, proposer } = newStore();
  const sizes: number[] = [];
  const counting: Proposer = {
    propose(actions) {
      sizes.push(actions.length);
      return proposer.propose(actions);
    },
  };
  let failures = 0;
  const r = await batch(store, counting, async (b) => {
    for (let i = 0; i < 450; i++) await b.update((tx) => tx.create("task", task(`t${i}`, { serviceId: "s1", slot: i + 1 })));
    try {
      await b.update((tx) => {
        tx.create("task", task("extra", { serviceId: "s1" }));
        tx.delete("task", "does-not-exist");
      });
    } catch {
      failures++;
    }
  });
  assert.deepEqual(sizes, [MAX_CHANGES_PER_TRANSACTION, MAX_CHANGES_PER_TRANSACTION, 50]);
  assert.equal(r.updates, 450);
  assert.equal(failures, 1);
  assert.equal(store.find("task").length, 450);
  assert.equal(store.get("task", "extra"), undefined, "the failed update's create was rolled back");
});

test("a prepared transaction's encoding plus the request ID is the InternalRaftRequest raft would encode", async () => {
  const { store, write } = newStore();
  await write((tx) => tx.create("service", service("s0", "first")));
  const prepared = store.prepare((tx) => {
    tx.create("service", service("s1", "web"));
    tx.update("service", { ...store.get("service", "s0")!, spec: { ...store.get("service", "s0")!.spec!, annotations: { name: "first", labels: { a: "b" }, indices: [] } } });
  });
  for (const id of [1, 127, 128, 300, 16383, 16384, 2 ** 31, 2 ** 32 + 1, 2 ** 40 + 5, 2 ** 48 - 1, Number.MAX_SAFE_INTEGER]) {
    const expected = encodeRaftRequest({ id, actions: prepared.actions });
    assert.deepEqual(withRequestId(id, prepared.encoded), expected);
    assert.equal(decodeRaftRequest(withRequestId(id, prepared.encoded)).id, id);
  }
  assert.equal(prepared.bytes, encodedActionsSize(prepared.actions));
  assert.equal(prepared.bytes, encodeRaftRequest({ id: Number.MAX_SAFE_INTEGER, actions: prepared.actions }).byteLength);
});
