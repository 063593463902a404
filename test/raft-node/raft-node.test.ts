import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RaftNode } from "../../src/workers/manager/raft/raft-node.js";
import { MemoryStore, update, type Tx } from "../../src/workers/manager/store/index.js";
import { Cluster, Service } from "../../src/shared/api/index.js";
import { newId } from "../../src/shared/ids.js";

/** Nodes a test opened: withDir stops what a failing test left running (its ticker would keep the file from exiting). */
const opened = new Set<RaftNode>();

async function openNode(dir: string, extra: Partial<Parameters<typeof RaftNode.open>[0]> = {}) {
  const store = new MemoryStore();
  const node = await RaftNode.open({
    dir,
    nodeId: "node1",
    addr: "127.0.0.1:4242",
    tickIntervalMs: 10,
    electionTick: 3,
    heartbeatTick: 1,
    store,
    ...extra,
  });
  opened.add(node);
  const leader = new Promise<void>((resolve) => node.onLeadership((l) => l && resolve()));
  node.start();
  await leader;
  return { node, store };
}

function createService(name: string) {
  return (tx: Tx) =>
    tx.create("service", Service.fromPartial({ id: newId(), spec: { annotations: { name } } }));
}

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), "raft-node-"));
  try {
    await fn(join(dir, "raft"));
  } finally {
    for (const node of opened) await node.stop().catch(() => undefined);
    opened.clear();
    await rm(dir, { recursive: true, force: true });
  }
}

test("a fresh node bootstraps, leads, and comes back with identical state", async () => {
  await withDir(async (dir) => {
    const { node, store } = await openNode(dir);
    assert.equal(node.members().length, 1);
    assert.equal(node.members()[0]!.nodeId, "node1");
    for (let i = 0; i < 20; i++) await update(store, node, createService(`s${i}`));
    const before = store.save();
    const raftId = node.raftId;
    await node.stop();

    const again = await openNode(dir);
    assert.equal(again.node.raftId, raftId, "raft ID is kept across restarts");
    assert.deepEqual(again.store.save(), before);
    await update(again.store, again.node, createService("after-restart"));
    assert.equal(again.store.view((tx) => tx.find("service", {})).length, 21);
    await again.node.stop();
  });
});

test("concurrent proposals all commit and a stale update is refused", async () => {
  await withDir(async (dir) => {
    const { node, store } = await openNode(dir);
    await Promise.all(Array.from({ length: 64 }, (_, i) => update(store, node, createService(`c${i}`))));
    assert.equal(store.view((tx) => tx.find("service", {})).length, 64);
    const svc = store.view((tx) => tx.find("service", { names: ["c1"] }))[0]!;
    await update(store, node, (tx) => tx.update("service", { ...svc, spec: { ...svc.spec!, annotations: { name: "c1", labels: { a: "1" }, indices: [] } } }));
    await assert.rejects(
      update(store, node, (tx) => tx.update("service", { ...svc, spec: { ...svc.spec!, annotations: { name: "c1", labels: { a: "2" }, indices: [] } } })),
      /out of sequence/,
    );
    await node.stop();
  });
});

test("snapshots are taken every N entries, the WAL is compacted, and replay is exact", async () => {
  await withDir(async (dir) => {
    const { node, store } = await openNode(dir, { snapshotInterval: 50, segmentSize: 16 * 1024 });
    for (let i = 0; i < 300; i++) await update(store, node, createService(`n${i}`));
    const before = store.save();
    await node.stop();
    const snaps = await readdir(join(dir, "snap"));
    assert.ok(snaps.length >= 1, "a snapshot file exists");
    const again = await openNode(dir, { snapshotInterval: 50, segmentSize: 16 * 1024 });
    assert.deepEqual(again.store.save(), before);
    await again.node.stop();
  });
});

test("entries written while a snapshot is encoded in the background survive a restart", async () => {
  await withDir(async (dir) => {
    // Many objects make each snapshot encode yield several times while writers keep proposing.
    const { node, store } = await openNode(dir, { snapshotInterval: 40, segmentSize: 32 * 1024 });
    for (let round = 0; round < 12; round++) {
      await Promise.all(Array.from({ length: 25 }, (_, i) => update(store, node, createService(`bg${round}-${i}`))));
    }
    const before = store.save();
    await node.stop();
    assert.ok((await readdir(join(dir, "snap"))).length >= 1, "a snapshot file exists");
    const again = await openNode(dir, { snapshotInterval: 40, segmentSize: 32 * 1024 });
    assert.deepEqual(again.store.save(), before);
    assert.equal(again.store.find("service").length, 300);
    await again.node.stop();
  });
});

test("--force-new-cluster keeps all data and stays writable", async () => {
  await withDir(async (dir) => {
    const { node, store } = await openNode(dir);
    for (let i = 0; i < 10; i++) await update(store, node, createService(`f${i}`));
    const before = store.save();
    await node.stop();
    const forced = await openNode(dir, { forceNewCluster: true });
    assert.deepEqual(forced.store.save(), before);
    assert.equal(forced.node.members().length, 1);
    await update(forced.store, forced.node, createService("post-force"));
    await forced.node.stop();
  });
});

test("the commit index is persisted promptly, not only with the next entries (force-new-cluster keeps what it covers)", async () => {
  await withDir(async (dir) => {
    const { node, store } = await openNode(dir);
    for (let i = 0; i < 5; i++) await update(store, node, createService(`c${i}`));
    const applied = node.appliedIndex;
    // No new entries follow; after a moment the commit covering them must be on disk anyway.
    await new Promise((r) => setTimeout(r, 200));
    const { RaftStorage } = await import("../../src/workers/manager/raft/storage/index.js");
    const { storage, state } = await RaftStorage.open(dir);
    await storage.close();
    assert.ok(state.hardState.commit >= applied, `persisted commit ${state.hardState.commit} covers applied ${applied}`);
    await node.stop();
  });
});

test("without fixed options the cluster object's spec.raft sets the snapshot interval, and 0 turns snapshots off", async () => {
  await withDir(async (dir) => {
    const { node, store } = await openNode(dir, { segmentSize: 16 * 1024 });
    const clusterId = newId();
    await update(store, node, (tx) =>
      tx.create("cluster", Cluster.fromPartial({ id: clusterId, spec: { annotations: { name: "default" }, raft: { snapshotInterval: 0, logEntriesForSlowFollowers: 10 } } })),
    );
    for (let i = 0; i < 200; i++) await update(store, node, createService(`off${i}`));
    await settleSnapshots();
    assert.deepEqual(await readdir(join(dir, "snap")), [], "an interval of 0 takes no snapshot");
    const cluster = store.get("cluster", clusterId)!;
    await update(store, node, (tx) => tx.update("cluster", { ...cluster, spec: { ...cluster.spec!, raft: { ...cluster.spec!.raft!, snapshotInterval: 30 } } }));
    for (let i = 0; i < 200; i++) await update(store, node, createService(`on${i}`));
    await waitFor(async () => (await readdir(join(dir, "snap"))).length >= 1);
    assert.ok((await readdir(join(dir, "snap"))).length >= 1, "cluster update set a 30-entry interval: snapshots are taken");
    // Back to 0 while snapshots are being taken: none after that (200 entries would give several at 30).
    await settleSnapshots();
    const taken = await readdir(join(dir, "snap"));
    const current = store.get("cluster", clusterId)!;
    await update(store, node, (tx) => tx.update("cluster", { ...current, spec: { ...current.spec!, raft: { ...current.spec!.raft!, snapshotInterval: 0 } } }));
    for (let i = 0; i < 200; i++) await update(store, node, createService(`off-again${i}`));
    await settleSnapshots();
    assert.deepEqual(await readdir(join(dir, "snap")), taken, "an interval set back to 0 stops periodic snapshots");
    const before = store.save();
    await node.stop();
    const again = await openNode(dir, { segmentSize: 16 * 1024 });
    assert.deepEqual(again.store.save(), before);
    await again.node.stop();
  });
});

/** Snapshots are encoded and saved beside the loop: give them a moment. */
function settleSnapshots(): Promise<void> {
  return new Promise((r) => setTimeout(r, 100));
}

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond()) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

test("the WAL's fsync runs inline when nothing waits on this thread, in the pool while fsyncOverlaps says something does", async () => {
  await withDir(async (dir) => {
    let overlapping = false;
    const { node, store } = await openNode(dir, { fsyncOverlaps: () => overlapping });
    // A lone member sends no messages, so only fsyncOverlaps moves its fsync off the loop.
    let before = node.storageStats();
    for (let i = 0; i < 10; i++) await update(store, node, createService(`inline${i}`));
    let after = node.storageStats();
    // At least one inline fsync per write (a commit record left alone for LAZY_COMMIT_SYNC_MS, on a slow
    // machine, is synced in the pool on its own).
    assert.ok(after.inlineFsyncs - before.inlineFsyncs >= 10, `inline fsyncs: ${after.inlineFsyncs - before.inlineFsyncs}`);

    overlapping = true;
    before = node.storageStats();
    for (let i = 0; i < 10; i++) await update(store, node, createService(`pooled${i}`));
    after = node.storageStats();
    assert.ok(after.fsyncs - before.fsyncs >= 10, "each write was made durable");
    assert.equal(after.inlineFsyncs, before.inlineFsyncs, "none inline while other work would wait");
  });
});

/** A service whose spec carries `bytes` bytes of label: a raft entry of about that size. */
function createBigService(name: string, bytes: number) {
  return (tx: Tx) =>
    tx.create("service", Service.fromPartial({ id: newId(), spec: { annotations: { name, labels: { payload: "x".repeat(bytes) } } } }));
}

/** Writes one 1 MB service, then `small` 1 KB ones; returns the snapshots saved after the big one was in one. */
async function snapshotsAfterSmallWrites(dir: string, share: number | undefined, small: number): Promise<{ first: number; after: number; node: RaftNode; store: MemoryStore }> {
  const { node, store } = await openNode(dir, { snapshotInterval: 5, segmentSize: 4 * 1024 * 1024, ...(share !== undefined ? { snapshotLogShare: share } : {}) });
  await update(store, node, createBigService("big", 1024 * 1024));
  // The first snapshot (none before it) comes after 5 entries and holds the big service.
  for (let i = 0; !(node.storageStats().snapshotsSaved >= 1) && i < 50; i++) await update(store, node, createBigService(`warm${i}`, 1024));
  await waitFor(async () => node.storageStats().snapshotsSaved >= 1);
  const first = node.storageStats().snapshotsSaved;
  assert.ok(first >= 1, "a first snapshot was taken");
  for (let i = 0; i < small; i++) await update(store, node, createBigService(`s${i}`, 1024));
  await settleSnapshots();
  return { first, after: node.storageStats().snapshotsSaved, node, store };
}

test("after a large snapshot the next waits until the log holds half its bytes, not just the interval", async () => {
  await withDir(async (dir) => {
    // 100 entries of 1 KB: twenty intervals of 5, but a fifth of half the 1 MB snapshot.
    const { first, after, node, store } = await snapshotsAfterSmallWrites(dir, undefined, 100);
    assert.equal(after, first, `no snapshot for 100 KB of log after a 1 MB snapshot (${after - first} taken)`);
    // Another 450 KB of log passes half of it: a snapshot is due again.
    for (let i = 0; i < 450; i++) await update(store, node, createBigService(`t${i}`, 1024));
    await waitFor(async () => node.storageStats().snapshotsSaved > first);
    assert.ok(node.storageStats().snapshotsSaved > first, "a snapshot once the log outweighs half the last one");
    const before = store.save();
    await node.stop();
    // The log kept beside the snapshot replays exactly.
    const again = await openNode(dir, { snapshotInterval: 5, segmentSize: 4 * 1024 * 1024 });
    assert.deepEqual(again.store.save(), before);
  });
});

test("with snapshotLogShare 0 the interval alone decides, as in SwarmKit", async () => {
  await withDir(async (dir) => {
    const { first, after } = await snapshotsAfterSmallWrites(dir, 0, 100);
    assert.ok(after - first >= 5, `snapshots every 5 entries: ${after - first} more for 100 entries`);
  });
});
