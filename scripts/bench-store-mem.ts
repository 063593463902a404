// In-memory store throughput on the replicated write path minus raft:
// prepare → encode InternalRaftRequest → decode → apply, plus reads,
// watch delivery and snapshot/restore. One JSON object per line.
// Usage: node build/scripts/bench-store-mem.js [--objects 10000]
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { MemoryStore } from "../src/workers/manager/store/memory-store.js";
import { encodeRaftRequest } from "../src/workers/manager/store/codec.js";
import { Config, Node, Task } from "../src/workers/manager/store/objects.js";
import { encodeSnapshotSliced } from "../src/workers/manager/raft/snapshot-encode.js";
import type { Tx } from "../src/workers/manager/store/tx.js";
import { MAX_CHANGES_PER_TRANSACTION } from "../src/workers/manager/store/errors.js";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const N = arg("objects", 10_000);

function emit(name: string, value: number, unit: string, details: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ name, value: Math.round(value * 100) / 100, unit, ...details }));
}

// Memory a stored object takes (first, before the other figures leave garbage): N 256-byte configs applied from raft bytes, one
// per transaction as a follower applies them, into a store of their own;
// heap and buffers measured after full GCs. A write's GC cost grows with it
// (docs/benchmarks.md, session 7).
{
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const settle = (): NodeJS.MemoryUsage => {
    gc();
    gc();
    return process.memoryUsage();
  };
  const own = new MemoryStore();
  const data = Buffer.alloc(256, 0x5a);
  const m0 = settle();
  for (let i = 0; i < N; i++) {
    const { actions } = own.prepare((tx) => tx.create("config", Config.fromPartial({ id: `mem${String(i).padStart(22, "0")}`, spec: { annotations: { name: `mem-${i}` }, data } })));
    const r = own.applyEntry(own.index + 1, encodeRaftRequest({ id: own.index + 1, actions }));
    if (!r.ok) throw r.error;
  }
  const m1 = settle();
  emit("store_heap_bytes_per_config", (m1.heapUsed - m0.heapUsed) / N, "bytes", {
    buffer_bytes_per_config: Math.round((m1.arrayBuffers - m0.arrayBuffers) / N),
    configs: N,
    data_bytes: data.length,
    stored: own.view((tx) => tx.find("config").length),
  });
}

const store = new MemoryStore({ historyEvents: 4 * N });
let entryBytes = 0;
/** One transaction through the bytes a follower would receive. */
function commit(fn: (tx: Tx) => void): void {
  const { actions } = store.prepare(fn);
  const data = encodeRaftRequest({ id: store.index + 1, actions });
  entryBytes += data.byteLength;
  const r = store.applyEntry(store.index + 1, data);
  if (!r.ok) throw r.error;
}

const services = 100;
const nodes = 100;
const watcher = store.watch({ maxQueue: 10 * N });

let t = performance.now();
for (let i = 0; i < nodes; i++) {
  commit((tx) => tx.create("node", Node.fromPartial({ id: `node${i}`, description: { hostname: `host${i}` } })));
}
for (let start = 0; start < N; start += MAX_CHANGES_PER_TRANSACTION) {
  commit((tx) => {
    for (let i = start; i < Math.min(N, start + MAX_CHANGES_PER_TRANSACTION); i++) {
      tx.create(
        "task",
        Task.fromPartial({
          id: `task${String(i).padStart(20, "0")}`,
          serviceId: `svc${i % services}`,
          slot: Math.floor(i / services) + 1,
          nodeId: `node${i % nodes}`,
          desiredState: 512,
          serviceAnnotations: { name: `svc${i % services}` },
          spec: { runtime: { $case: "container", value: { image: "busybox:local", command: ["sleep", "3600"] } } },
        }),
      );
    }
  });
}
let dt = performance.now() - t;
emit("store_create_tasks_batched", (N / dt) * 1000, "objects/s", { objects: N, perTransaction: MAX_CHANGES_PER_TRANSACTION, ms: Math.round(dt), entryBytes });

t = performance.now();
for (let i = 0; i < N; i++) {
  const id = `task${String(i).padStart(20, "0")}`;
  commit((tx) => {
    const cur = Task.fromPartial(tx.get("task", id)!);
    cur.status = { ...(cur.status ?? { timestamp: undefined, message: "", err: "", runtimeStatus: undefined, portStatus: undefined, appliedBy: "", appliedAt: undefined }), state: 512 };
    tx.update("task", cur);
  });
}
dt = performance.now() - t;
emit("store_update_task_one_per_transaction", (N / dt) * 1000, "transactions/s", { transactions: N, ms: Math.round(dt) });

t = performance.now();
let found = 0;
for (let i = 0; i < N; i++) if (store.get("task", `task${String(i).padStart(20, "0")}`)) found++;
dt = performance.now() - t;
emit("store_get", (N / dt) * 1000, "ops/s", { found });

const rounds = 1000;
t = performance.now();
let listed = 0;
for (let i = 0; i < rounds; i++) listed += store.view((tx) => tx.tasksByService(`svc${i % services}`).length);
dt = performance.now() - t;
emit("store_find_tasks_by_service", (rounds / dt) * 1000, "ops/s", { tasksPerService: listed / rounds });

t = performance.now();
let events = 0;
while (watcher.pending > 0) {
  await watcher.next();
  events++;
}
dt = performance.now() - t;
emit("store_watch_drain", (events / dt) * 1000, "events/s", { events });
watcher.close();

t = performance.now();
const snap = store.snapshot();
const encodeMs = performance.now() - t;
t = performance.now();
const copy = new MemoryStore();
copy.restore(snap, store.index);
const restoreMs = performance.now() - t;
emit("store_snapshot_encode", encodeMs, "ms", { objects: N + nodes, bytes: snap.byteLength });
emit("store_snapshot_restore", restoreMs, "ms", { objects: N + nodes });

// The raft snapshot as RaftNode takes it: sliced, with each object's bytes
// cached between snapshots. Time a first snapshot of the store, then one
// after N/2 new configs (what a snapshot interval of creates leaves to encode).
{
  const membership = { members: [], removed: [] };
  const timeEncode = async (): Promise<{ ms: number; cpuMs: number; bytes: number }> => {
    const saved = store.save({ sorted: false });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const out = await encodeSnapshotSliced(membership, saved);
    const cpu = process.cpuUsage(cpu0);
    return { ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000, bytes: out.byteLength };
  };
  const first = await timeEncode();
  emit("raft_snapshot_encode_sliced_first", first.ms, "ms", { objects: store.save({ sorted: false }).tasks.length + nodes, cpu_ms: Math.round(first.cpuMs), bytes: first.bytes });
  const fresh = Math.floor(N / 2);
  const data = Buffer.alloc(256, 0x5a);
  for (let i = 0; i < fresh; i += MAX_CHANGES_PER_TRANSACTION) {
    commit((tx) => {
      for (let j = i; j < Math.min(fresh, i + MAX_CHANGES_PER_TRANSACTION); j++) tx.create("config", Config.fromPartial({ id: `cfg${String(j).padStart(21, "0")}`, spec: { annotations: { name: `config-${j}` }, data } }));
    });
  }
  const next = await timeEncode();
  emit("raft_snapshot_encode_sliced_incremental", next.ms, "ms", { new_objects: fresh, cpu_ms: Math.round(next.cpuMs), bytes: next.bytes, note: "after N/2 new configs; unchanged objects' bytes come from the cache" });
}
