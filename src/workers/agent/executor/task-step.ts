// Moves a task one step through its states with a controller, like
// SwarmKit's exec.Do: ACCEPTED → PREPARING → READY → STARTING → RUNNING →
// COMPLETE/FAILED, or SHUTDOWN when asked. The caller reports each returned
// status and calls again until the state is terminal.
import { errorMessage } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import type { ContainerController } from "./container-controller.js";
import { exitErrorMessage } from "./container-controller.js";
import { EngineError, isEngineError } from "./engine-errors.js";
import { TaskState, taskStateName } from "./task-state.js";
import type { ContainerStatus } from "./types.js";

const log = getLogger("agent/executor/task-step");

export interface TaskStepStatus {
  state: number;
  message: string;
  /** Error text for FAILED / REJECTED, as SwarmKit's TaskStatus.Err. */
  err?: string;
  /** SwarmKit's ContainerStatus (id, pid, exit code), once a container exists. */
  container?: Pick<ContainerStatus, "containerId" | "pid" | "exitCode">;
}

export interface TaskStepResult {
  status: TaskStepStatus;
  /** False when nothing changed (desired state not above the current one, or the step was cancelled). */
  changed: boolean;
}

/**
 * One step. `signal` cancels a blocking step (wait); a cancelled step leaves
 * the status unchanged so it can be retried, e.g. with a new desired state.
 */
export async function advanceTask(
  ctl: ContainerController,
  current: TaskStepStatus,
  desiredState: number,
  signal?: AbortSignal,
): Promise<TaskStepResult> {
  const status: TaskStepStatus = { ...current };
  const noop = (): TaskStepResult => ({ status: current, changed: false });
  const to = (state: number, message: string): TaskStepResult => {
    status.state = state;
    status.message = message;
    return { status, changed: true };
  };
  const fatal = (err: unknown): TaskStepResult => {
    if (isEngineError(err, "CANCELLED") || (signal?.aborted ?? false)) return noop();
    status.err = errorMessage(err);
    log.error({ task: ctl.task.taskId, state: taskStateName(current.state), err: status.err }, "fatal task error");
    // Before STARTING nothing ran: the task is rejected; afterwards it failed.
    return to(current.state < TaskState.STARTING ? TaskState.REJECTED : TaskState.FAILED, current.state < TaskState.STARTING ? "rejected" : "failed");
  };
  const withContainer = async (r: TaskStepResult): Promise<TaskStepResult> => {
    if (!r.changed || r.status.state < TaskState.STARTING) return r;
    try {
      const c = await ctl.inspect();
      if (c) r.status.container = { containerId: c.containerId, pid: c.pid, exitCode: c.exitCode };
    } catch (err) {
      log.warn({ task: ctl.task.taskId, err: errorMessage(err) }, "container status unavailable");
    }
    return r;
  };

  if (current.state >= TaskState.COMPLETE) return noop();

  if (desiredState >= TaskState.SHUTDOWN) {
    try {
      await ctl.shutdown();
    } catch (err) {
      return withContainer(fatal(err));
    }
    return withContainer(to(TaskState.SHUTDOWN, "shutdown"));
  }
  if (desiredState < current.state) return noop();

  switch (current.state) {
    case TaskState.NEW:
    case TaskState.PENDING:
    case TaskState.ASSIGNED:
      return to(TaskState.ACCEPTED, "accepted");
    case TaskState.ACCEPTED:
      return to(TaskState.PREPARING, "preparing");
    case TaskState.PREPARING:
      try {
        await ctl.prepare();
      } catch (err) {
        return fatal(err);
      }
      return to(TaskState.READY, "prepared");
    case TaskState.READY:
      return desiredState >= TaskState.STARTING ? to(TaskState.STARTING, "starting") : noop();
    case TaskState.STARTING:
      try {
        await ctl.start();
      } catch (err) {
        return withContainer(fatal(err));
      }
      return withContainer(to(TaskState.RUNNING, "started"));
    case TaskState.RUNNING: {
      let exit;
      try {
        exit = await ctl.wait(signal);
      } catch (err) {
        return withContainer(fatal(err));
      }
      if (exit.exitCode !== 0) {
        status.err = exitErrorMessage(exit);
        return withContainer(to(TaskState.FAILED, "failed"));
      }
      return withContainer(to(TaskState.COMPLETE, "finished"));
    }
    default:
      throw new EngineError("INTERNAL", "ENGINE_ERROR", `task ${ctl.task.taskId}: cannot advance from state ${taskStateName(current.state)}`, ctl.engineAddr);
  }
}

/**
 * Drives a task from its current state until it is terminal (or until the
 * desired state stops it), reporting every change. For a simple agent loop
 * and for tests; the agent's task manager calls advanceTask itself.
 */
export async function runTask(
  ctl: ContainerController,
  report: (s: TaskStepStatus) => void | Promise<void>,
  opts: { from?: TaskStepStatus; desiredState?: number; signal?: AbortSignal } = {},
): Promise<TaskStepStatus> {
  let status: TaskStepStatus = opts.from ?? { state: TaskState.ASSIGNED, message: "assigned" };
  const desired = opts.desiredState ?? TaskState.RUNNING;
  for (;;) {
    const r = await advanceTask(ctl, status, desired, opts.signal);
    if (!r.changed) return status;
    status = r.status;
    await report(status);
    if (status.state >= TaskState.COMPLETE) return status;
  }
}
