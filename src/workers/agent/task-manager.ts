// Drives one assigned task through the executor (SwarmKit's taskManager):
// repeatedly takes one step with advanceTask, persists and reports every
// status change, and waits for an update when there is nothing to do. A
// higher desired state interrupts a blocking step (e.g. the wait on a running
// container) so shutdown takes effect at once. The agent's own status is
// canonical: incoming task statuses are ignored after the start.
import { TaskState, type Task, type TaskStatus } from "../../shared/api/index.js";
import { errorMessage } from "../../shared/errors.js";
import { getLogger } from "../../shared/logging.js";
import { advanceTask, type ContainerController, type DockerExecutor } from "./executor/index.js";
import { sleep } from "./backoff.js";
import { toApiStatus, toContainerTask, toStepStatus, type DependencyLookup } from "./task-mapping.js";

const log = getLogger("agent/task-manager");

/** SwarmKit's ErrTaskRetry delay. */
export const TASK_RETRY_MS = 1000;

export interface TaskManagerDeps {
  executor: Pick<DockerExecutor, "controller" | "ping">;
  /** Persists and reports a status change (the worker wires DB and reporter). */
  onStatus(task: Task, status: TaskStatus): Promise<void>;
  retryMs?: number;
  /** Secrets and configs received with the assignments (files resolved at container creation). */
  dependencies?: DependencyLookup;
}

export class TaskManager {
  private task: Task;
  private status: TaskStatus;
  private readonly deps: TaskManagerDeps;
  private ctl: ContainerController | undefined;
  private closed = false;
  private readonly closing = new AbortController();
  private op: AbortController | undefined;
  private wakeup: (() => void) | undefined;
  private dirty = false;
  private loop: Promise<void> | undefined;

  constructor(task: Task, status: TaskStatus, deps: TaskManagerDeps) {
    this.task = task;
    this.status = status;
    this.deps = deps;
  }

  get id(): string {
    return this.task.id;
  }

  get current(): { task: Task; status: TaskStatus } {
    return { task: this.task, status: this.status };
  }

  start(): void {
    this.loop ??= this.run().catch((err: unknown) => {
      log.error({ task: this.task.id, err: errorMessage(err) }, "task manager stopped on an unexpected error");
    });
  }

  /** A new version of the task from the dispatcher. A lower desired state is ignored. */
  update(task: Task): void {
    if (this.closed) return;
    const raised = task.desiredState > this.task.desiredState;
    this.task = { ...task, desiredState: Math.max(task.desiredState, this.task.desiredState), status: this.task.status };
    if (raised) this.op?.abort();
    this.wake();
  }

  /** Stops driving the task; the container is left as it is. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.closing.abort();
      this.op?.abort();
      this.ctl?.close();
      this.wake();
    }
    await this.loop;
  }

  /** Stops driving the task, then stops and removes its container. */
  async remove(): Promise<void> {
    await this.close();
    let ct;
    try {
      ct = toContainerTask(this.task);
    } catch {
      return; // nothing was ever created for a task we cannot run
    }
    await this.deps.executor.controller(ct).remove();
  }

  private wake(): void {
    this.dirty = true;
    const w = this.wakeup;
    this.wakeup = undefined;
    w?.();
  }

  private waitForChange(): Promise<void> {
    if (this.dirty || this.closed) {
      this.dirty = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.wakeup = () => {
        this.dirty = false;
        resolve();
      };
    });
  }

  private async setStatus(status: TaskStatus): Promise<void> {
    this.status = status;
    try {
      await this.deps.onStatus(this.task, status);
    } catch (err) {
      log.error({ task: this.task.id, err: errorMessage(err) }, "could not record task status");
    }
  }

  private async run(): Promise<void> {
    const retryMs = this.deps.retryMs ?? TASK_RETRY_MS;
    while (!this.closed) {
      this.dirty = false;
      if (this.status.state >= TaskState.COMPLETE) {
        await this.waitForChange();
        continue;
      }
      if (!this.ctl) {
        try {
          this.ctl = this.deps.executor.controller(toContainerTask(this.task, this.deps.dependencies));
        } catch (err) {
          await this.setStatus(toApiStatus({ state: TaskState.REJECTED, message: "rejected", err: errorMessage(err) }));
          continue;
        }
      }
      const desired = this.task.desiredState;
      // An adopted or running container outlives an engine outage: wait for
      // the engine instead of failing a task that may still be running.
      if (this.status.state === TaskState.RUNNING && desired <= TaskState.RUNNING) {
        try {
          await this.deps.executor.ping(this.closing.signal);
        } catch (err) {
          if (this.closed) break;
          log.warn({ task: this.task.id, err: errorMessage(err) }, "engine unreachable while the task runs; retrying");
          await sleep(retryMs, this.closing.signal);
          continue;
        }
      }
      const op = new AbortController();
      this.op = op;
      let result;
      try {
        result = await advanceTask(this.ctl, toStepStatus(this.status), desired, op.signal);
      } catch (err) {
        if (this.closed) break;
        log.warn({ task: this.task.id, err: errorMessage(err) }, "task step failed; retrying");
        await sleep(retryMs, this.closing.signal);
        continue;
      } finally {
        this.op = undefined;
      }
      if (this.closed) break;
      if (result.changed) {
        await this.setStatus(toApiStatus(result.status));
        continue;
      }
      // Nothing to do (or the step was interrupted by an update): wait unless an update came meanwhile.
      if (op.signal.aborted) continue;
      await this.waitForChange();
    }
  }
}
