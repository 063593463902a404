// A store on an in-memory proposer plus builders for nodes, services and
// tasks, and a poll-until helper, for orchestrator and scheduler tests.
import {
  Cluster,
  ContainerSpec,
  NodeRole,
  NodeSpec_Availability,
  NodeSpec_Membership,
  NodeStatus_State,
  Node,
  RestartPolicy_RestartCondition,
  Service,
  TaskState,
  durationFromMillis,
  UpdateConfig,
  type Task,
  type TaskSpec,
} from "../../src/shared/api/index.js";
import { newId } from "../../src/shared/ids.js";
import { InMemoryProposer, MemoryStore, update, type Tx } from "../../src/workers/manager/store/index.js";

export function newEnv() {
  const store = new MemoryStore();
  const proposer = new InMemoryProposer(store);
  const write = <R>(fn: (tx: Tx) => R): Promise<R> => update(store, proposer, fn);
  return { store, proposer, write };
}
export type Env = ReturnType<typeof newEnv>;

export interface NodeOpts {
  state?: NodeStatus_State;
  availability?: NodeSpec_Availability;
  role?: NodeRole;
  labels?: Record<string, string>;
  engineLabels?: Record<string, string>;
  nanoCpus?: number;
  memoryBytes?: number;
  hostname?: string;
  os?: string;
  arch?: string;
}

export function makeNode(id: string, o: NodeOpts = {}): Node {
  return Node.fromPartial({
    id,
    role: o.role ?? NodeRole.WORKER,
    spec: {
      annotations: { name: "", labels: o.labels ?? {} },
      membership: NodeSpec_Membership.ACCEPTED,
      availability: o.availability ?? NodeSpec_Availability.ACTIVE,
    },
    description: {
      hostname: o.hostname ?? `host-${id}`,
      platform: { os: o.os ?? "linux", architecture: o.arch ?? "x86_64" },
      resources: { nanoCpus: o.nanoCpus ?? 4e9, memoryBytes: o.memoryBytes ?? 8 * 2 ** 30 },
      engine: { engineVersion: "test", labels: o.engineLabels ?? {}, plugins: [] },
    },
    status: { state: o.state ?? NodeStatus_State.READY },
  });
}

export interface ServiceOpts {
  update?: Partial<UpdateConfig>;
  rollback?: Partial<UpdateConfig>;
  replicas?: number;
  global?: boolean;
  restart?: { condition?: RestartPolicy_RestartCondition; delayMs?: number; maxAttempts?: number; windowMs?: number };
  constraints?: string[];
  maxReplicas?: number;
  reserveMemory?: number;
  reserveCpu?: number;
}

export function makeService(name: string, o: ServiceOpts = {}): Service {
  const task: Partial<TaskSpec> = {
    runtime: { $case: "container", value: ContainerSpec.fromPartial({ image: "alpine:latest", command: ["sleep"], args: ["1000"] }) },
    placement: { constraints: o.constraints ?? [], preferences: [], platforms: [], maxReplicas: o.maxReplicas ?? 0 },
  };
  if (o.restart) {
    task.restart = {
      condition: o.restart.condition ?? RestartPolicy_RestartCondition.ANY,
      delay: durationFromMillis(o.restart.delayMs ?? 0),
      maxAttempts: o.restart.maxAttempts ?? 0,
      window: o.restart.windowMs ? durationFromMillis(o.restart.windowMs) : undefined,
    };
  }
  if (o.reserveMemory !== undefined || o.reserveCpu !== undefined) {
    task.resources = {
      limits: undefined,
      reservations: { nanoCpus: o.reserveCpu ?? 0, memoryBytes: o.reserveMemory ?? 0, generic: [] },
      swapBytes: undefined,
      memorySwappiness: undefined,
    };
  }
  return Service.fromPartial({
    id: newId(),
    spec: {
      annotations: { name },
      task,
      mode: o.global ? { $case: "global", value: {} } : { $case: "replicated", value: { replicas: o.replicas ?? 1 } },
      update: o.update ? UpdateConfig.fromPartial(o.update) : undefined,
      rollback: o.rollback ? UpdateConfig.fromPartial(o.rollback) : undefined,
    },
    specVersion: { index: 0 },
  });
}

export function makeCluster(retention = 5): Cluster {
  return Cluster.fromPartial({ id: newId(), spec: { annotations: { name: "default" }, orchestration: { taskHistoryRetentionLimit: retention } } });
}

/** Poll until `fn` returns a value other than undefined/false (generous timeout: CI machines are slow). */
export async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Tasks of a service still desired to run, by slot. */
export function runnable(env: Env, serviceId: string): Task[] {
  return env.store
    .find("task", { serviceIds: [serviceId] })
    .filter((t) => t.desiredState <= TaskState.RUNNING)
    .sort((a, b) => a.slot - b.slot);
}

/** Play the agent: set a task's observed state. */
export async function report(env: Env, taskId: string, state: TaskState, message = "test"): Promise<void> {
  await env.write((tx) => {
    const t = tx.get("task", taskId)!;
    tx.update("task", { ...t, status: { ...t.status!, state, message } });
  });
}

export async function setNode(env: Env, id: string, change: (n: Node) => Node): Promise<void> {
  await env.write((tx) => tx.update("node", change(tx.get("node", id)!)));
}

export { TaskState, NodeStatus_State, NodeSpec_Availability, NodeRole, RestartPolicy_RestartCondition };

/**
 * Change a service's spec as the control API's UpdateService does: the old
 * spec becomes the previous one, the spec version becomes the service's
 * version, the update status is cleared.
 */
export async function updateServiceSpec(env: Env, id: string, change: (spec: NonNullable<Service["spec"]>) => NonNullable<Service["spec"]>): Promise<void> {
  await env.write((tx) => {
    const s = tx.get("service", id)!;
    tx.update("service", {
      ...s,
      previousSpec: s.spec,
      previousSpecVersion: s.specVersion,
      spec: change(s.spec!),
      specVersion: { index: s.meta!.version!.index },
      updateStatus: undefined,
    });
  });
}

/** A copy of a spec whose container runs with other args. */
export function withArgs(spec: NonNullable<Service["spec"]>, args: string[]): NonNullable<Service["spec"]> {
  const task = spec.task!;
  const rt = task.runtime;
  if (rt?.$case !== "container") throw new Error("not a container spec");
  return { ...spec, task: { ...task, runtime: { $case: "container", value: { ...rt.value, args } } } };
}

export function argsOf(t: Task): string[] {
  return t.spec?.runtime?.$case === "container" ? (t.spec.runtime.value.args ?? []) : [];
}
