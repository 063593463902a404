// Task model helpers shared by the orchestrators (SwarmKit's orchestrator
// package): which services an orchestrator owns, how a new task is built from
// its service, the restart policy with SwarmKit's defaults, and which nodes
// can no longer keep a task.
import {
  NodeSpec_Availability,
  NodeStatus_State,
  RestartPolicy_RestartCondition,
  Task,
  TaskState,
  durationToMillis,
  type Cluster,
  type Node,
  type Service,
} from "../../../shared/api/index.js";
import { newId } from "../../../shared/ids.js";

/** SwarmKit's api/defaults: restart on any exit after 5 s, unlimited attempts. */
export const DEFAULT_RESTART_DELAY_MS = 5000;
export const DEFAULT_TASK_HISTORY_RETENTION = 5;

export function isReplicatedService(s: Service | undefined): boolean {
  return s?.spec?.mode?.$case === "replicated";
}

export function isGlobalService(s: Service | undefined): boolean {
  return s?.spec?.mode?.$case === "global";
}

export function replicasOf(s: Service): number {
  const mode = s.spec?.mode;
  return mode?.$case === "replicated" ? mode.value.replicas : 0;
}

/**
 * A fresh task for `slot` (replicated) or `nodeId` (global, slot 0): state
 * NEW, desired RUNNING, the service's task spec and spec version.
 */
export function newTask(service: Service, slot: number, nodeId = "", now: Date = new Date()): Task {
  return Task.fromPartial({
    id: newId(),
    serviceId: service.id,
    slot,
    nodeId,
    spec: service.spec?.task,
    serviceAnnotations: service.spec?.annotations,
    specVersion: service.specVersion,
    status: { state: TaskState.NEW, message: "created", timestamp: now },
    desiredState: TaskState.RUNNING,
    logDriver: service.spec?.task?.logDriver ?? undefined,
    // The scheduler's host-port filter and the executor read published ports from here.
    endpoint: service.endpoint ?? (service.spec?.endpoint ? { spec: service.spec.endpoint, ports: service.spec.endpoint.ports, virtualIps: [] } : undefined),
  });
}

export interface EffectiveRestartPolicy {
  condition: RestartPolicy_RestartCondition;
  delayMs: number;
  maxAttempts: number;
  windowMs: number;
}

/** The task's restart policy with SwarmKit's defaults for what is unset. */
export function restartPolicyOf(t: Task, defaultDelayMs = DEFAULT_RESTART_DELAY_MS): EffectiveRestartPolicy {
  const r = t.spec?.restart;
  if (r === undefined) {
    return { condition: RestartPolicy_RestartCondition.ANY, delayMs: defaultDelayMs, maxAttempts: 0, windowMs: 0 };
  }
  return {
    condition: r.condition,
    delayMs: durationToMillis(r.delay, defaultDelayMs),
    maxAttempts: r.maxAttempts,
    windowMs: durationToMillis(r.window, 0),
  };
}

/** A node a task cannot stay on: gone, DOWN, or drained (SwarmKit's InvalidNode). */
export function isInvalidNode(n: Node | undefined): boolean {
  return (
    n === undefined ||
    n.status?.state === NodeStatus_State.DOWN ||
    n.spec?.availability === NodeSpec_Availability.DRAIN
  );
}

export function stateOf(t: Task): TaskState {
  return t.status?.state ?? TaskState.NEW;
}

/** Observed past RUNNING: finished, failed, rejected, shut down… */
export function isTerminated(t: Task): boolean {
  return stateOf(t) > TaskState.RUNNING;
}

/** The cluster's task history retention limit (negative: keep everything). */
export function retentionLimit(c: Cluster | undefined): number {
  const spec = c?.spec?.orchestration;
  return spec === undefined ? DEFAULT_TASK_HISTORY_RETENTION : spec.taskHistoryRetentionLimit;
}

/** A copy of a (frozen) task with a new desired state. */
export function withDesiredState(t: Task, desired: TaskState): Task {
  return { ...t, desiredState: desired };
}

/** A copy of a (frozen) task with a new observed status. */
export function withStatus(t: Task, state: TaskState, message: string, now: Date, err = ""): Task {
  return { ...t, status: { ...(t.status ?? emptyStatus()), state, message, err, timestamp: now } };
}

function emptyStatus(): NonNullable<Task["status"]> {
  return {
    timestamp: undefined,
    state: TaskState.NEW,
    message: "",
    err: "",
    runtimeStatus: undefined,
    portStatus: undefined,
    appliedBy: "",
    appliedAt: undefined,
  };
}
