// The scheduler (SwarmKit's manager/scheduler), leader only: assigns
// PENDING tasks to nodes. It keeps a cache of every node with the tasks
// placed on it, queues pending tasks as their events arrive and, after
// committed changes settle (50 ms without a commit, at most 1 s after the
// first), places every queued task in one pass: tasks are grouped by
// service and spec version, nodes are filtered once per group, and each task
// goes to the node with the fewest tasks of its service, then the fewest
// tasks overall (a heap, so a pass costs O(nodes + tasks·log nodes) per
// group). Decisions are written back in batches; a task that fits nowhere
// stays PENDING with Status.Err saying why.
import { TaskState, type Node, type Task } from "../../../shared/api/index.js";
import { getLogger } from "../../../shared/logging.js";
import type { ChangeEvent, MemoryStore, Proposer, ReadTx } from "../store/index.js";
import { writeChunked } from "../orchestrator/batch-writer.js";
import { WatchLoop } from "../orchestrator/watch-loop.js";
import { FailureTally, TaskFilter, type FilterReason } from "./filters.js";
import { NodeHeap } from "./node-heap.js";
import { hostPorts, MAX_RECENT_FAILURES, NodeInfo, versionKey } from "./node-info.js";
import { SpreadTree } from "./spread.js";

const log = getLogger("scheduler");

export const ASSIGNED_MESSAGE = "scheduler assigned task to node";
export const PREASSIGNED_MESSAGE = "scheduler confirmed task can run on preassigned node";
/** SwarmKit's commit debounce: 50 ms quiet, 1 s at most. */
export const SCHEDULER_DEBOUNCE_MS = 50;
export const SCHEDULER_MAX_LATENCY_MS = 1000;
/** The shortest quiet period once a burst's cadence is known. */
export const SCHEDULER_MIN_DEBOUNCE_MS = 10;
const DEBOUNCE_GAP_FACTOR = 4;

export interface SchedulerOptions {
  debounceMs?: number;
  maxLatencyMs?: number;
  /** Lower bound of the adaptive quiet period (default 10 ms). */
  minDebounceMs?: number;
  now?: () => Date;
}

export interface TickStats {
  assigned: number;
  unschedulable: number;
  /** Time spent deciding and writing, ms. */
  ms: number;
}

/** Hands out nodes for the tasks of one group, best first. */
interface Picker {
  pick(check: (n: NodeInfo) => FilterReason | undefined, rejected: (r: FilterReason) => void): NodeInfo | undefined;
  placed(n: NodeInfo): void;
}

interface Decision {
  task: Task;
  next: Task;
}

export class Scheduler {
  readonly name = "scheduler";
  private readonly loop: WatchLoop;
  private readonly debounceMs: number;
  private readonly maxLatencyMs: number;
  private readonly now: () => Date;
  private readonly nodes = new Map<string, NodeInfo>();
  private readonly unassigned = new Map<string, Task>();
  private readonly preassigned = new Map<string, Task>();
  /** Task ID → the node whose cache counts it. */
  private readonly placedOn = new Map<string, string>();
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private firstPendingAt = 0;
  private lastCommitAt = 0;
  /** Widest gap between commits of the current burst, ms (0 until the second). */
  private burstGap = 0;
  private readonly minDebounceMs: number;
  private needsRelist = false;
  /** Called after every scheduling pass (tests, benchmarks, metrics). */
  onTick: ((stats: TickStats) => void) | undefined;

  constructor(
    private readonly store: MemoryStore,
    private readonly proposer: Proposer,
    opts: SchedulerOptions = {},
  ) {
    this.debounceMs = opts.debounceMs ?? SCHEDULER_DEBOUNCE_MS;
    this.maxLatencyMs = opts.maxLatencyMs ?? SCHEDULER_MAX_LATENCY_MS;
    this.minDebounceMs = Math.min(this.debounceMs, opts.minDebounceMs ?? SCHEDULER_MIN_DEBOUNCE_MS);
    this.now = opts.now ?? (() => new Date());
    this.loop = new WatchLoop(
      store,
      {
        init: (tx) => this.init(tx),
        afterInit: () => this.tick(),
        onEvent: (ev) => this.onEvent(ev),
        onCommit: () => this.onCommit(),
        onWake: () => this.tick(),
      },
      { kinds: ["task", "node"], log },
    );
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.loop.stop();
  }

  /** Pending tasks waiting for a node (for tests and diagnostics). */
  get queued(): number {
    return this.unassigned.size + this.preassigned.size;
  }

  // ---- cache maintenance

  private init(tx: ReadTx): void {
    this.nodes.clear();
    this.unassigned.clear();
    this.preassigned.clear();
    this.placedOn.clear();
    for (const n of tx.find("node")) this.nodes.set(n.id, new NodeInfo(n));
    for (const t of tx.find("task")) this.track(t);
    this.dirty = true;
  }

  private onEvent(ev: ChangeEvent): void {
    if (ev.kind === "node") {
      if (ev.action === "remove") this.nodes.delete(ev.object.id);
      else this.upsertNode(ev.object);
      this.dirty = true;
    } else if (ev.kind === "task") {
      if (ev.action === "remove") this.untrack(ev.object.id);
      else {
        this.noteFailure(ev.object, ev.oldObject);
        this.track(ev.object);
      }
      this.dirty = true;
    }
  }

  /** A task that just became FAILED or REJECTED counts against its node (SwarmKit's taskFailed). */
  private noteFailure(t: Task, old: Task | undefined): void {
    const state = t.status?.state ?? TaskState.NEW;
    if ((state !== TaskState.FAILED && state !== TaskState.REJECTED) || t.nodeId === "") return;
    if (old?.status?.state === state) return;
    this.nodes.get(t.nodeId)?.taskFailed(versionKey(t), this.now().getTime());
  }

  private upsertNode(n: Node): void {
    const info = this.nodes.get(n.id);
    if (info) info.setNode(n);
    else this.nodes.set(n.id, new NodeInfo(n));
  }

  private untrack(id: string): void {
    this.unassigned.delete(id);
    this.preassigned.delete(id);
    const on = this.placedOn.get(id);
    if (on !== undefined) {
      this.nodes.get(on)?.removeTask(id);
      this.placedOn.delete(id);
    }
  }

  private track(t: Task): void {
    this.untrack(t.id);
    const state = t.status?.state ?? TaskState.NEW;
    if (state === TaskState.PENDING) {
      // Tasks already told to stop are not worth a node.
      if (t.desiredState > TaskState.RUNNING) return;
      if (t.nodeId === "") this.unassigned.set(t.id, t);
      else this.preassigned.set(t.id, t);
    } else if (state >= TaskState.ASSIGNED && state <= TaskState.RUNNING && t.nodeId !== "") {
      this.place(t);
    }
  }

  private place(t: Task): void {
    const info = this.nodes.get(t.nodeId);
    if (info === undefined) return;
    info.addTask(t);
    this.placedOn.set(t.id, t.nodeId);
  }

  private async onCommit(): Promise<void> {
    if (!this.dirty || this.queued === 0) return;
    const now = performance.now();
    if (this.timer === undefined) {
      this.firstPendingAt = now;
      this.burstGap = 0;
    } else {
      clearTimeout(this.timer);
      this.burstGap = Math.max(this.burstGap, now - this.lastCommitAt);
    }
    this.lastCommitAt = now;
    const wait = Math.max(0, Math.min(this.quietMs(), this.firstPendingAt + this.maxLatencyMs - now));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.loop.wake();
    }, wait);
  }

  /**
   * How long to wait for the next commit of a burst. SwarmKit always waits
   * 50 ms; once a burst shows its cadence (the widest gap between its
   * commits so far), waiting DEBOUNCE_GAP_FACTOR times that gap is enough to
   * tell it has ended, so a fast writer's burst is scheduled sooner. Never
   * below minDebounceMs nor above debounceMs.
   */
  private quietMs(): number {
    if (this.burstGap === 0) return this.debounceMs;
    return Math.min(this.debounceMs, Math.max(this.minDebounceMs, DEBOUNCE_GAP_FACTOR * this.burstGap));
  }

  // ---- a scheduling pass

  private async tick(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.needsRelist) {
      this.needsRelist = false;
      this.store.view((tx) => this.init(tx));
    }
    this.dirty = false;
    if (this.queued === 0) return;
    const started = performance.now();
    const now = this.now();
    const decisions: Decision[] = [];
    const failures = new Map<string, { task: Task; err: string }>();

    this.decidePreassigned(now, decisions, failures);
    this.decideUnassigned(now, decisions, failures);

    const stale = failures.size > 0 ? [...failures.values()].filter((f) => f.task.status?.err !== f.err) : [];
    if (decisions.length > 0 || stale.length > 0) {
      const okDecisions = await writeChunked(this.store, this.proposer, log, "writing scheduling decisions", decisions, (tx, d) => {
        const cur = tx.get("task", d.task.id);
        if (cur === undefined || cur.meta?.version?.index !== d.task.meta?.version?.index) return;
        tx.update("task", d.next);
      });
      const okErrors = await writeChunked(this.store, this.proposer, log, "explaining unschedulable tasks", stale, (tx, f) => {
        const cur = tx.get("task", f.task.id);
        if (cur === undefined || cur.meta?.version?.index !== f.task.meta?.version?.index) return;
        tx.update("task", { ...cur, status: { ...cur.status!, err: f.err, timestamp: now } });
      });
      const wrote = okDecisions && okErrors;
      // A batch that never went through leaves the cache ahead of the store.
      if (!wrote) this.needsRelist = true;
    }
    const stats = { assigned: decisions.length, unschedulable: failures.size, ms: performance.now() - started };
    if (decisions.length > 0 || failures.size > 0) log.debug(stats, "scheduling pass");
    this.onTick?.(stats);
  }

  private assign(t: Task, info: NodeInfo, message: string, now: Date, filter: TaskFilter): Task {
    const next: Task = {
      ...t,
      nodeId: info.node.id,
      status: { ...t.status!, state: TaskState.ASSIGNED, message, err: "", timestamp: now },
    };
    if (filter.generic.size > 0) {
      next.assignedGenericResources = [...filter.generic].flatMap(([kind, n]) => info.claimGeneric(kind, n));
    }
    return next;
  }

  /** Spread preferences: a decision tree over labels; else one heap. */
  private picker(first: Task, eligible: NodeInfo[], penalty: ReadonlyMap<NodeInfo, number>): Picker {
    const prefs = first.spec?.placement?.preferences ?? [];
    if (prefs.length > 0) return new SpreadTree(first.serviceId, prefs, eligible, penalty);
    const heap = NodeHeap.from(first.serviceId, eligible, penalty);
    return {
      pick(check, rejected) {
        let info: NodeInfo | undefined;
        while ((info = heap.pop()) !== undefined) {
          const reason = check(info);
          if (reason === undefined) return info;
          rejected(reason);
        }
        return undefined;
      },
      placed: (info) => heap.push(info),
    };
  }

  /** Global tasks come with their node: only check that it fits. */
  private decidePreassigned(now: Date, decisions: Decision[], failures: Map<string, { task: Task; err: string }>): void {
    for (const t of this.preassigned.values()) {
      const info = this.nodes.get(t.nodeId);
      const tally = new FailureTally();
      if (info !== undefined) {
        tally.nodes = 1;
        const filter = new TaskFilter(t.serviceId, t.spec, hostPorts(t));
        const reason = filter.check(info);
        if (reason === undefined) {
          const next = this.assign(t, info, PREASSIGNED_MESSAGE, now, filter);
          this.preassigned.delete(t.id);
          this.place(next);
          decisions.push({ task: t, next });
          continue;
        }
        tally.add(reason);
      }
      failures.set(t.id, { task: t, err: tally.explain() });
    }
  }

  private decideUnassigned(now: Date, decisions: Decision[], failures: Map<string, { task: Task; err: string }>): void {
    // Group by service and spec version: identical specs, one filter pass.
    const groups = new Map<string, Task[]>();
    for (const t of this.unassigned.values()) {
      const key = `${t.serviceId}\u0000${t.specVersion?.index ?? 0}`;
      const g = groups.get(key);
      if (g) g.push(t);
      else groups.set(key, [t]);
    }
    for (const tasks of groups.values()) {
      tasks.sort((a, b) => a.slot - b.slot || (a.id < b.id ? -1 : 1));
      const first = tasks[0]!;
      const filter = new TaskFilter(first.serviceId, first.spec, hostPorts(first));
      const tally = new FailureTally();
      tally.nodes = this.nodes.size;
      const eligible: NodeInfo[] = [];
      const penalty = new Map<NodeInfo, number>();
      const version = versionKey(first);
      const nowMs = now.getTime();
      for (const info of this.nodes.values()) {
        const reason = filter.staticCheck(info);
        if (reason !== undefined) {
          tally.add(reason);
          continue;
        }
        eligible.push(info);
        const failed = info.recentFailures(version, nowMs);
        if (failed >= MAX_RECENT_FAILURES) penalty.set(info, failed);
      }
      const picker = this.picker(first, eligible, penalty);
      const check = (info: NodeInfo) => filter.dynamicCheck(info);
      // A node that fails is full for this group: it stays out for the rest of the pass.
      const rejected = (reason: FilterReason) => tally.add(reason);
      let i = 0;
      for (; i < tasks.length; i++) {
        const t = tasks[i]!;
        const info = picker.pick(check, rejected);
        if (info === undefined) break;
        const next = this.assign(t, info, ASSIGNED_MESSAGE, now, filter);
        this.unassigned.delete(t.id);
        info.addTask(next);
        this.placedOn.set(next.id, info.node.id);
        picker.placed(info);
        decisions.push({ task: t, next });
      }
      if (i < tasks.length) {
        const err = tally.explain();
        for (; i < tasks.length; i++) failures.set(tasks[i]!.id, { task: tasks[i]!, err });
      }
    }
  }
}
