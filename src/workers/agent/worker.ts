// The reconciler (SwarmKit's worker): applies assignment sets to task
// managers and the task DB. A COMPLETE set replaces everything (tasks not in
// it are stopped, removed and forgotten); INCREMENTAL changes update or remove
// single tasks. After a restart, init() resumes the stored tasks so their
// containers are adopted as they are; once the first COMPLETE set is known,
// containers of this node whose task is no longer assigned are removed.
// Operations run one at a time, in arrival order.
import type { Task, TaskStatus } from "../../shared/api/index.js";
import { errorMessage } from "../../shared/errors.js";
import { getLogger } from "../../shared/logging.js";
import type { DockerExecutor, TaskFiles } from "./executor/index.js";
import type { StatusReporter } from "./status-reporter.js";
import type { TaskDb } from "./task-db.js";
import { TaskManager } from "./task-manager.js";
import { initialStatus, type DependencyLookup } from "./task-mapping.js";

const log = getLogger("agent/worker");

export interface WorkerDeps {
  nodeId: string;
  executor: Pick<DockerExecutor, "controller" | "ping" | "listTaskContainers"> & { readonly files?: TaskFiles | undefined };
  db: TaskDb;
  reporter: StatusReporter;
  taskRetryMs?: number;
  dependencies?: DependencyLookup;
}

export class Worker {
  private readonly deps: WorkerDeps;
  private readonly managers = new Map<string, TaskManager>();
  private queue: Promise<void> = Promise.resolve();
  private swept = false;
  private closed = false;
  /** Removals that failed (engine down): retried on the next reconcile. */
  private readonly pendingRemovals = new Map<string, TaskManager>();

  constructor(deps: WorkerDeps) {
    this.deps = deps;
  }

  /** Resumes the tasks stored by an earlier run, from their stored status. */
  init(): Promise<void> {
    return this.serial(async () => {
      const stored = await this.deps.db.load();
      for (const { task, status } of stored) this.startManager(task, status);
      if (stored.length > 0) log.info({ tasks: stored.map((s) => s.task.id) }, "resuming tasks from the task DB");
    });
  }

  /** A COMPLETE assignment set. */
  assign(tasks: Task[]): Promise<void> {
    return this.serial(async () => {
      const wanted = new Set(tasks.map((t) => t.id));
      for (const t of tasks) await this.upsert(t);
      // Concurrently: each stop may wait out its task's grace period.
      await Promise.all([...this.managers.keys()].filter((id) => !wanted.has(id)).map((id) => this.removeTask(id)));
      await this.retryRemovals();
      if (!this.swept) {
        this.swept = true;
        void this.sweepOrphans(wanted);
      }
    });
  }

  /** INCREMENTAL changes. */
  update(updated: Task[], removed: string[]): Promise<void> {
    return this.serial(async () => {
      for (const t of updated) await this.upsert(t);
      await Promise.all(removed.map((id) => this.removeTask(id)));
      await this.retryRemovals();
    });
  }

  /** Re-reports every task's current status (after a (re)registration). */
  reportAll(): void {
    for (const m of this.managers.values()) {
      const { task, status } = m.current;
      this.deps.reporter.report(task.id, status);
    }
  }

  /** Assigned task IDs with their current state. */
  tasks(): Array<{ id: string; state: number; desiredState: number }> {
    return [...this.managers.values()].map((m) => ({ id: m.id, state: m.current.status.state, desiredState: m.current.task.desiredState }));
  }

  /** Stops every task manager; containers keep running (a restarted agent adopts them). */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue.catch(() => undefined);
    await Promise.all([...this.managers.values()].map((m) => m.close()));
    this.managers.clear();
  }

  private serial(op: () => Promise<void>): Promise<void> {
    const next = this.queue.then(() => (this.closed ? undefined : op()));
    this.queue = next.catch((err: unknown) => log.error({ err: errorMessage(err) }, "reconcile step failed"));
    return next;
  }

  private async upsert(task: Task): Promise<void> {
    if (task.nodeId && task.nodeId !== this.deps.nodeId) {
      log.warn({ task: task.id, node: task.nodeId }, "ignoring a task assigned to another node");
      return;
    }
    const existing = this.managers.get(task.id);
    if (existing) {
      existing.update(task);
      const cur = existing.current;
      await this.persist(cur.task, cur.status);
      return;
    }
    const status = initialStatus(task);
    await this.persist(task, status);
    this.startManager(task, status);
  }

  private startManager(task: Task, status: TaskStatus): void {
    const m = new TaskManager(task, status, {
      executor: this.deps.executor,
      retryMs: this.deps.taskRetryMs,
      ...(this.deps.dependencies ? { dependencies: this.deps.dependencies } : {}),
      onStatus: async (t, s) => {
        if (this.managers.get(t.id) !== m) return; // removed meanwhile
        await this.persist(t, s);
        this.deps.reporter.report(t.id, s);
      },
    });
    this.managers.set(task.id, m);
    m.start();
  }

  private async persist(task: Task, status: TaskStatus): Promise<void> {
    try {
      await this.deps.db.put(task, status);
    } catch (err) {
      log.error({ task: task.id, err: errorMessage(err) }, "could not write the task DB");
    }
  }

  private async removeTask(id: string): Promise<void> {
    const m = this.managers.get(id);
    this.managers.delete(id);
    this.deps.reporter.forget(id);
    await this.deps.db.delete(id).catch((err: unknown) => log.error({ task: id, err: errorMessage(err) }, "could not delete from the task DB"));
    if (!m) return;
    try {
      await m.remove();
      log.info({ task: id }, "task removed");
    } catch (err) {
      log.warn({ task: id, err: errorMessage(err) }, "could not remove the task's container; will retry");
      this.pendingRemovals.set(id, m);
    }
  }

  private async retryRemovals(): Promise<void> {
    for (const [id, m] of [...this.pendingRemovals]) {
      try {
        await m.remove();
        this.pendingRemovals.delete(id);
      } catch {
        // still failing; the next reconcile or the orphan sweep of a later run tries again
      }
    }
  }

  /** Removes this node's task containers that belong to no assigned task. */
  private async sweepOrphans(assigned: Set<string>): Promise<void> {
    let containers;
    try {
      containers = await this.deps.executor.listTaskContainers(this.deps.nodeId);
    } catch (err) {
      log.warn({ err: errorMessage(err) }, "cannot list task containers; orphans stay for now");
      this.swept = false;
      return;
    }
    // Secret/config directories of tasks gone while this agent was down.
    const keep = new Set([...assigned, ...this.managers.keys()]);
    await this.deps.executor.files?.sweep(keep).catch((err: unknown) => log.warn({ err: errorMessage(err) }, "cannot sweep task file directories"));
    for (const c of containers) {
      if (assigned.has(c.taskId) || this.managers.has(c.taskId) || this.closed) continue;
      log.info({ task: c.taskId, container: c.containerId }, "removing the container of a task no longer assigned");
      try {
        const ctl = this.deps.executor.controller({
          taskId: c.taskId,
          serviceId: c.serviceId,
          serviceName: c.serviceName,
          nodeId: c.nodeId,
          slot: 0,
          annotationsName: c.name,
          image: c.image || "unknown",
        });
        await ctl.remove();
      } catch (err) {
        log.warn({ task: c.taskId, err: errorMessage(err) }, "could not remove an orphaned container");
      }
    }
  }
}
