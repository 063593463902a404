// Task status reports and node status changes, written to the store in
// batches (SwarmKit's processUpdates): everything queued is flushed every
// MAX_BATCH_INTERVAL_MS, or at once when MAX_BATCH_ITEMS are waiting, as few
// raft transactions as the store's Batch allows. The last report per task
// wins; a report that would move a task's state backwards is dropped.
import { TaskStatus, type Node, type NodeDescription, type NodeStatus_State, type Task } from "../../../shared/api/index.js";
import { errorMessage } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import { batch, cloneObject, type MemoryStore, type Proposer, type Tx } from "../store/index.js";
import type { Clock, Timer } from "./clock.js";
import { MAX_BATCH_INTERVAL_MS, MAX_BATCH_ITEMS } from "./constants.js";

const log = getLogger("dispatcher");

/** A write that lost a race with another proposal is retried this many times. */
const MAX_ATTEMPTS = 3;

export interface NodeUpdate {
  status?: { state: NodeStatus_State; message: string; addr: string };
  description?: NodeDescription | undefined;
}

interface Queued<T> {
  value: T;
  attempts: number;
}

export interface FlushStats {
  flushes: number;
  transactions: number;
  taskWrites: number;
  ignored: number;
}

export class UpdateQueue {
  private tasks = new Map<string, Queued<TaskStatus>>();
  private nodes = new Map<string, Queued<NodeUpdate>>();
  private waiters: Array<() => void> = [];
  private timer: Timer | undefined;
  private flushing: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  readonly stats: FlushStats = { flushes: 0, transactions: 0, taskWrites: 0, ignored: 0 };

  constructor(
    private readonly store: MemoryStore,
    private readonly proposer: Proposer,
    private readonly clock: Clock,
    /** This manager's node ID: recorded as each status's appliedBy. */
    private readonly appliedBy: string,
  ) {}

  get size(): number {
    return this.tasks.size + this.nodes.size;
  }

  queueTaskStatus(taskId: string, status: TaskStatus): void {
    this.tasks.set(taskId, { value: status, attempts: 0 });
    this.scheduled();
  }

  queueNodeUpdate(nodeId: string, update: NodeUpdate): void {
    this.nodes.set(nodeId, { value: update, attempts: 0 });
    this.scheduled();
  }

  /** The description queued for a node and not yet written, if any. */
  pendingDescription(nodeId: string): NodeDescription | undefined {
    return this.nodes.get(nodeId)?.value.description;
  }

  /** Resolves after the next flush that includes everything queued now. */
  nextFlush(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.scheduled();
    });
  }

  private scheduled(): void {
    if (this.stopped) return;
    if (this.size >= MAX_BATCH_ITEMS) {
      void this.flush();
      return;
    }
    this.timer ??= this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, MAX_BATCH_INTERVAL_MS);
  }

  /** Write everything queued now; concurrent calls coalesce into one more round. */
  async flush(): Promise<void> {
    if (this.flushing) {
      this.again = true;
      return this.flushing;
    }
    this.timer?.cancel();
    this.timer = undefined;
    this.flushing = (async () => {
      do {
        this.again = false;
        await this.flushOnce();
      } while (this.again && (this.size > 0 || this.waiters.length > 0));
    })().finally(() => {
      this.flushing = undefined;
      if (this.size > 0) this.scheduled();
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    const tasks = this.tasks;
    const nodes = this.nodes;
    const waiters = this.waiters;
    this.tasks = new Map();
    this.nodes = new Map();
    this.waiters = [];
    if (tasks.size === 0 && nodes.size === 0) {
      for (const w of waiters) w();
      return;
    }
    this.stats.flushes++;
    const now = new Date(this.clock.now());
    try {
      const r = await batch(this.store, this.proposer, async (b) => {
        // The functions never throw (they log instead), so an error here is a failed proposal.
        for (const [taskId, q] of tasks) await b.update((tx) => guarded(() => this.writeTaskStatus(tx, taskId, q.value, now), "task", taskId));
        for (const [nodeId, q] of nodes) await b.update((tx) => guarded(() => writeNodeUpdate(tx, nodeId, q.value), "node", nodeId));
      });
      this.stats.transactions += r.transactions;
    } catch (err) {
      // A proposal failed (lost a race with another write, or leadership):
      // what it carried goes back in the queue unless something newer came.
      log.warn({ err: errorMessage(err) }, "dispatcher batch failed; retrying its updates");
      this.requeue(tasks, this.tasks);
      this.requeue(nodes, this.nodes);
    } finally {
      for (const w of waiters) w();
    }
  }

  private requeue<T>(from: Map<string, Queued<T>>, into: Map<string, Queued<T>>): void {
    if (this.stopped) return;
    for (const [id, q] of from) {
      if (into.has(id) || q.attempts + 1 >= MAX_ATTEMPTS) continue;
      into.set(id, { value: q.value, attempts: q.attempts + 1 });
    }
  }

  private writeTaskStatus(tx: Tx, taskId: string, status: TaskStatus, now: Date): void {
    const task = tx.get("task", taskId);
    if (!task) {
      log.debug({ task: taskId }, "cannot find target task in store");
      return;
    }
    const current = task.status ?? TaskStatus.fromPartial({});
    if (sameStatus(current, status)) {
      this.stats.ignored++;
      return;
    }
    if (current.state > status.state) {
      // A task's state never goes backwards.
      log.debug({ task: taskId, from: current.state, to: status.state }, "task status invalid transition");
      this.stats.ignored++;
      return;
    }
    const t: Task = cloneObject(task);
    t.status = { ...TaskStatus.fromPartial(status), appliedBy: this.appliedBy, appliedAt: now };
    tx.update("task", t);
    this.stats.taskWrites++;
  }

  /** Stop the timer and drop what is queued; waiters are released. */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.tasks.clear();
    this.nodes.clear();
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

function writeNodeUpdate(tx: Tx, nodeId: string, u: NodeUpdate): void {
  const stored = tx.get("node", nodeId);
  if (!stored) {
    log.error({ node: nodeId }, "node unavailable");
    return;
  }
  const node: Node = cloneObject(stored);
  if (u.status) {
    const addr = u.status.addr !== "" ? u.status.addr : (node.status?.addr ?? "");
    node.status = { state: u.status.state, message: u.status.message, addr };
  }
  if (u.description) node.description = u.description;
  tx.update("node", node);
}

function sameStatus(a: TaskStatus, b: TaskStatus): boolean {
  return Buffer.from(TaskStatus.encode(a).finish()).equals(Buffer.from(TaskStatus.encode(TaskStatus.fromPartial(b)).finish()));
}

function guarded(fn: () => void, kind: string, id: string): void {
  try {
    fn();
  } catch (err) {
    log.error({ [kind]: id, err: errorMessage(err) }, `dispatcher ${kind} status update failed`);
  }
}
