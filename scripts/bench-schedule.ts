// Scheduler throughput, the workload of SwarmKit's BenchmarkScheduler*:
// an in-process store (InMemoryProposer, no raft, no agents) with N READY
// nodes, a running scheduler, then M PENDING tasks of one service written in
// batches; timed from the first task write until every task is ASSIGNED
// (so it includes the 50 ms commit debounce, as SwarmKit's figure does).
// The constrained variant lets only every third node qualify
// (node.labels.net==yes), as SwarmKit's network-plugin constraint does.
// Usage: node build/scripts/bench-schedule.js [--runs 3]
import { performance } from "node:perf_hooks";
import { Node, NodeSpec_Availability, NodeStatus_State, Service, Task, TaskState } from "../src/shared/api/index.js";
import { newId } from "../src/shared/ids.js";
import { Scheduler } from "../src/workers/manager/scheduler/index.js";
import { batch, update, InMemoryProposer, MemoryStore, MAX_CHANGES_PER_TRANSACTION } from "../src/workers/manager/store/index.js";
import { argNumber, emit } from "./lib/bench-util.js";

const RUNS = argNumber("runs", 3);

async function once(nodes: number, tasks: number, constrained: boolean): Promise<{ totalMs: number; writeMs: number; passes: number }> {
  const store = new MemoryStore({ historyEvents: 1000 });
  const proposer = new InMemoryProposer(store);
  await batch(store, proposer, async (b) => {
    for (let i = 0; i < nodes; i++) {
      const node = Node.fromPartial({
        id: newId(),
        spec: { annotations: { name: `node-${i}`, labels: constrained && i % 3 === 0 ? { net: "yes" } : {} }, availability: NodeSpec_Availability.ACTIVE },
        description: { hostname: `node-${i}`, resources: { nanoCpus: 64e9, memoryBytes: 2 ** 40 } },
        status: { state: NodeStatus_State.READY },
      });
      await b.update((tx) => tx.create("node", node));
    }
  });
  const service = Service.fromPartial({
    id: newId(),
    spec: {
      annotations: { name: "bench" },
      task: { placement: { constraints: constrained ? ["node.labels.net==yes"] : [] } },
      mode: { $case: "replicated", value: { replicas: tasks } },
    },
  });
  const scheduler = new Scheduler(store, proposer);
  let passes = 0;
  scheduler.onTick = () => passes++;
  scheduler.start();

  let assigned = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const watcher = store.watch({ kinds: ["task"], maxQueue: 10 * tasks });
  void (async () => {
    for await (const ev of watcher) {
      if (ev.type === "change" && ev.kind === "task" && ev.action === "update" && ev.object.status?.state === TaskState.ASSIGNED) {
        if (++assigned === tasks) resolveDone();
      }
    }
  })();

  // As SwarmKit's benchmark: plain transactions (here of 200 creates each),
  // objects built before the clock starts.
  const created: Task[] = [];
  for (let slot = 1; slot <= tasks; slot++) {
    created.push(
      Task.fromPartial({
        id: newId(),
        serviceId: service.id,
        slot,
        spec: service.spec!.task,
        specVersion: { index: 0 },
        serviceAnnotations: service.spec!.annotations,
        desiredState: TaskState.RUNNING,
        status: { state: TaskState.PENDING, message: "pending task scheduling" },
      }),
    );
  }
  const t0 = performance.now();
  for (let i = 0; i < created.length; i += MAX_CHANGES_PER_TRANSACTION) {
    await update(store, proposer, (tx) => {
      for (const t of created.slice(i, i + MAX_CHANGES_PER_TRANSACTION)) tx.create("task", t);
    });
  }
  const writeMs = performance.now() - t0;
  await done;
  const totalMs = performance.now() - t0;
  watcher.close();
  await scheduler.stop();
  return { totalMs, writeMs, passes };
}

const cases: Array<[number, number, boolean]> = [
  [100, 1000, false],
  [100, 10000, false],
  [1000, 1000, false],
  [1000, 10000, false],
  [1000, 1000, true],
  [1000, 10000, true],
];
// SwarmKit's own figures (1k nodes; include its 50 ms debounce) for comparison.
const swarmkitMs: Record<string, number> = { "1000x1000": 137, "1000x10000": 1060 };

await once(100, 1000, false); // warm-up: JIT, allocator
for (const [nodes, tasks, constrained] of cases) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await once(nodes, tasks, constrained));
  runs.sort((a, b) => a.totalMs - b.totalMs);
  const med = runs[Math.floor(runs.length / 2)]!;
  const key = `${nodes}x${tasks}`;
  emit(`schedule_${nodes}nodes_${tasks}tasks${constrained ? "_constrained" : ""}`, med.totalMs, "ms", {
    nodes,
    tasks,
    constraint: constrained ? "node.labels.net==yes (1/3 of nodes)" : "none",
    taskWriteMs: Math.round(med.writeMs),
    afterWritesMs: Math.round(med.totalMs - med.writeMs),
    passes: med.passes,
    nsPerTaskNode: Math.round((med.totalMs * 1e6) / (nodes * tasks) * 100) / 100,
    runs: RUNS,
    ...(constrained || swarmkitMs[key] === undefined ? {} : { swarmkitMs: swarmkitMs[key] }),
  });
}
