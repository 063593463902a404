import { test } from "node:test";
import assert from "node:assert/strict";
import { SwarmError } from "../../src/shared/errors.js";
import type { WatchEvent } from "../../src/workers/manager/store/watch.js";
import { WatchOverflowError } from "../../src/workers/manager/store/watch.js";
import { network, newStore, node, renamed, service, task } from "./fixtures.js";

const describe = (ev: WatchEvent): string =>
  ev.type === "commit" ? `${ev.index} commit` : `${ev.index} ${ev.action} ${ev.kind} ${ev.object.id}`;

async function take(w: AsyncIterator<WatchEvent>, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await w.next();
    if (r.done) break;
    out.push(describe(r.value));
  }
  return out;
}

test("watch delivers committed changes in order across kinds, with old objects and commit markers", async () => {
  const { store, write } = newStore();
  const all = store.watch({ includeCommits: true });
  const tasksOnly = store.watch({ kinds: ["task"] });
  await write((tx) => {
    tx.create("node", node("n1", "h1"));
    tx.create("service", service("s1", "web"));
    tx.create("task", task("t1", { serviceId: "s1", slot: 1 }));
  });
  await write((tx) => tx.update("service", renamed(tx.get("service", "s1")!, "web2")));
  await write((tx) => {
    tx.delete("task", "t1");
    tx.create("network", network("x1", "net"));
  });
  assert.deepEqual(await take(all, 9), [
    "1 create node n1",
    "1 create service s1",
    "1 create task t1",
    "1 commit",
    "2 update service s1",
    "2 commit",
    "3 remove task t1",
    "3 create network x1",
    "3 commit",
  ]);
  assert.deepEqual(await take(tasksOnly, 2), ["1 create task t1", "3 remove task t1"]);

  // The update event carries the object before and after.
  const again = store.watch({ fromIndex: 1, kinds: ["service"] });
  const ev = (await again.next()).value as WatchEvent;
  assert.ok(ev.type === "change" && ev.kind === "service");
  assert.equal(ev.object.spec?.annotations?.name, "web2");
  assert.equal(ev.oldObject?.spec?.annotations?.name, "web");
  assert.equal(ev.object.meta?.version?.index, 2);
  all.close();
  tasksOnly.close();
  again.close();
  assert.equal(store.watcherCount, 0);
});

test("a pending next() is woken by the next commit; close ends iteration", async () => {
  const { store, write } = newStore();
  const w = store.watch();
  const pending = w.next();
  await write((tx) => tx.create("service", service("s1", "web")));
  const r = await pending;
  assert.equal(r.done, false);
  assert.equal(describe(r.value as WatchEvent), "1 create service s1");
  const waiting = w.next();
  w.close();
  assert.deepEqual(await waiting, { value: undefined, done: true });
  // Breaking out of for-await closes the watcher too.
  const w2 = store.watch();
  await write((tx) => tx.create("service", service("s2", "db")));
  for await (const _ of w2) break;
  assert.ok(w2.closed);
  assert.equal(store.watcherCount, 0);
});

test("watch resumes from a raft index with exactly the later changes, then continues live", async () => {
  const { store, write } = newStore();
  for (let i = 1; i <= 5; i++) await write((tx) => tx.create("service", service(`s${i}`, `svc${i}`)));
  const w = store.watch({ fromIndex: 3 });
  assert.deepEqual(await take(w, 2), ["4 create service s4", "5 create service s5"]);
  await write((tx) => tx.create("service", service("s6", "svc6")));
  assert.deepEqual(await take(w, 1), ["6 create service s6"]);
  // From the current index: nothing old.
  const live = store.watch({ fromIndex: store.index });
  assert.equal(live.pending, 0);
  // Resuming from 0 replays everything the history still holds.
  const fromStart = store.watch({ fromIndex: 0 });
  assert.equal(fromStart.pending, 6);
  w.close();
  live.close();
  fromStart.close();
});

test("resuming from an index older than the history fails with a clear error", async () => {
  const { store, write } = newStore({ historyEvents: 4 });
  for (let i = 1; i <= 6; i++) await write((tx) => tx.create("service", service(`s${i}`, `svc${i}`)));
  // History keeps the last 4 events (indexes 3..6): resuming from 2 still works.
  const ok = store.watch({ fromIndex: 2 });
  assert.equal(ok.pending, 4);
  ok.close();
  assert.throws(
    () => store.watch({ fromIndex: 1 }),
    (e: unknown) => {
      assert.ok(e instanceof SwarmError);
      assert.equal(e.code, "OUT_OF_RANGE");
      assert.match(e.message, /cannot resume from index 1: the store only keeps changes after index 2; re-list/);
      return true;
    },
  );
  assert.throws(() => store.watch({ fromIndex: -1 }), /non-negative integer/);
});

test("a slow watcher overflows and is closed with an error; apply and other watchers go on", async () => {
  const { store, write } = newStore();
  const slow = store.watch({ maxQueue: 5 });
  const fast = store.watch();
  const got: string[] = [];
  const reader = (async () => {
    for await (const ev of fast) {
      got.push(describe(ev));
      if (got.length === 8) break;
    }
  })();
  // Read one from the slow watcher so its resume point moves past index 1.
  await write((tx) => tx.create("service", service("s1", "a")));
  assert.deepEqual(await take(slow, 1), ["1 create service s1"]);
  for (let i = 2; i <= 8; i++) await write((tx) => tx.create("service", service(`s${i}`, `n${i}`)));
  await reader;
  assert.equal(got.length, 8);
  assert.equal(store.index, 8);
  assert.ok(slow.closed);
  await assert.rejects(slow.next(), (e: unknown) => {
    assert.ok(e instanceof WatchOverflowError);
    assert.equal(e.code, "RESOURCE_EXHAUSTED");
    assert.equal(e.resumeIndex, 1);
    assert.match(e.message, /fell behind: more than 5 events queued; resume the watch from index 1/);
    return true;
  });
  // It can resume from where it stopped, since history still holds it.
  const resumed = store.watch({ fromIndex: (slow.error as WatchOverflowError).resumeIndex });
  assert.equal(resumed.pending, 7);
  resumed.close();
  assert.equal(store.watcherCount, 0);
});

test("viewAndWatch: a consistent listing plus every change after it", async () => {
  const { store, write } = newStore();
  await write((tx) => tx.create("service", service("s1", "a")));
  const { result, watcher } = store.viewAndWatch((tx) => tx.find("service").map((s) => s.id), { kinds: ["service"] });
  await write((tx) => tx.create("service", service("s2", "b")));
  assert.deepEqual(result, ["s1"]);
  assert.deepEqual(await take(watcher, 1), ["2 create service s2"]);
  watcher.close();
});
