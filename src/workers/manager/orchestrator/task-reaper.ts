// The task reaper (SwarmKit's orchestrator/taskreaper): keeps task history
// bounded. Each slot (replicated) or service+node (global) keeps at most the
// cluster's task history retention limit of tasks (default 5); the oldest
// finished or never-run ones go first. Tasks desired REMOVE are deleted as
// soon as they are stopped or were never assigned, and tasks of removed
// services once orphaned. Deletions are batched: every 250 ms, or at once
// when more than 1000 are waiting.
import { TaskState, type Cluster, type Task } from "../../../shared/api/index.js";
import { getLogger } from "../../../shared/logging.js";
import type { ChangeEvent, MemoryStore, Proposer, ReadTx } from "../store/index.js";
import { writeChunked } from "./batch-writer.js";
import { DEFAULT_CLUSTER_NAME } from "../store/index.js";
import { restartPolicyOf, retentionLimit, stateOf } from "./task.js";
import { WatchLoop } from "./watch-loop.js";

const log = getLogger("taskreaper");

export const REAPER_BATCHING_INTERVAL_MS = 250;
export const REAPER_MAX_DIRTY = 1000;

export interface TaskReaperOptions {
  batchingIntervalMs?: number;
}

export class TaskReaper {
  readonly name = "task-reaper";
  private readonly loop: WatchLoop;
  private readonly intervalMs: number;
  private cluster: Cluster | undefined;
  /** `service/slot/N` or `service/node/ID` keys whose history may be too long. */
  private readonly dirty = new Set<string>();
  private readonly cleanup = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: MemoryStore,
    private readonly proposer: Proposer,
    opts: TaskReaperOptions = {},
  ) {
    this.intervalMs = opts.batchingIntervalMs ?? REAPER_BATCHING_INTERVAL_MS;
    this.loop = new WatchLoop(
      store,
      {
        init: (tx) => this.init(tx),
        afterInit: () => this.tick(),
        onEvent: (ev) => this.onEvent(ev),
        onCommit: () => this.onCommit(),
        onWake: () => this.tick(),
      },
      { kinds: ["task", "cluster"], log },
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

  private init(tx: ReadTx): void {
    this.dirty.clear();
    this.cleanup.clear();
    this.cluster = tx.byName("cluster", DEFAULT_CLUSTER_NAME);
    for (const t of tx.find("task")) {
      if (removableNow(t, tx.get("service", t.serviceId) !== undefined)) this.cleanup.add(t.id);
      else this.dirty.add(instanceKey(t));
    }
  }

  private onEvent(ev: ChangeEvent): void {
    if (ev.kind === "cluster") {
      if (ev.action !== "remove" && ev.object.spec?.annotations?.name === DEFAULT_CLUSTER_NAME) this.cluster = ev.object;
      return;
    }
    if (ev.kind !== "task" || ev.action === "remove") return;
    const t = ev.object;
    if (ev.action === "create") this.dirty.add(instanceKey(t));
    if (removableNow(t, this.store.get("service", t.serviceId) !== undefined)) this.cleanup.add(t.id);
  }

  private async onCommit(): Promise<void> {
    if (this.dirty.size + this.cleanup.size > REAPER_MAX_DIRTY) return this.tick();
    if ((this.dirty.size > 0 || this.cleanup.size > 0) && this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.loop.wake();
      }, this.intervalMs);
    }
  }

  private async tick(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.dirty.size === 0 && this.cleanup.size === 0) return;
    const limit = retentionLimit(this.cluster);
    const doomed = new Set(this.cleanup);
    this.cleanup.clear();
    const keys = [...this.dirty];
    this.dirty.clear();
    if (limit >= 0) {
      this.store.view((tx) => {
        for (const key of keys) {
          const { deletable, running } = overRetention(tx, key, limit);
          for (const id of deletable) doomed.add(id);
          // Two tasks meant to run in one slot (a replacement and the task it
          // replaces): look again on a later commit, once one of them stopped.
          if (running > 1) this.dirty.add(key);
        }
      });
    }
    if (doomed.size === 0) return;
    await writeChunked(this.store, this.proposer, log, "deleting old tasks", [...doomed], (tx, id) => {
      if (tx.get("task", id) !== undefined) tx.delete("task", id);
    });
    log.debug({ deleted: doomed.size }, "task history trimmed");
  }
}

/** Deleted without waiting for retention: stopped REMOVE tasks, orphans of removed services. */
function removableNow(t: Task, serviceExists: boolean): boolean {
  const state = stateOf(t);
  if (t.desiredState === TaskState.REMOVE && (state < TaskState.ASSIGNED || state >= TaskState.COMPLETE)) return true;
  return !serviceExists && state >= TaskState.ORPHANED;
}

function instanceKey(t: Task): string {
  return t.slot === 0 ? `${t.serviceId}/node/${t.nodeId}` : `${t.serviceId}/slot/${t.slot}`;
}

/**
 * The oldest tasks of one slot/node beyond the limit that are not meant to
 * run, and how many are. As SwarmKit, a task told to shut down counts as
 * deletable even before it stopped (say, on a node that is down: its agent
 * removes the container when it learns the task is gone); unlike SwarmKit a
 * replacement waiting for its restart delay (desired READY) is kept.
 */
function overRetention(tx: ReadTx, key: string, limit: number): { deletable: string[]; running: number } {
  const [serviceId, kind, which] = key.split("/") as [string, string, string];
  const tasks =
    kind === "slot"
      ? tx.tasksBySlot(serviceId, Number(which))
      : tx.tasksByNode(which).filter((t) => t.serviceId === serviceId && t.slot === 0);
  let keep = limit;
  // Restart accounting needs the last MaxAttempts tasks.
  const maxAttempts = tasks.length === 0 ? 0 : Math.max(...tasks.map((t) => restartPolicyOf(t).maxAttempts));
  if (maxAttempts > 0) keep = Math.max(keep, maxAttempts + 1);
  if (tasks.length <= keep) return { deletable: [], running: 0 };
  const sorted = [...tasks].sort((a, b) => timestampOf(a) - timestampOf(b));
  const deletable: string[] = [];
  let running = 0;
  let left = tasks.length;
  for (const t of sorted) {
    if (t.desiredState <= TaskState.RUNNING && stateOf(t) <= TaskState.RUNNING) {
      running++;
      continue;
    }
    deletable.push(t.id);
    if (--left <= keep) break;
  }
  return { deletable, running };
}

function timestampOf(t: Task): number {
  return t.status?.timestamp?.getTime() ?? t.meta?.createdAt?.getTime() ?? 0;
}
