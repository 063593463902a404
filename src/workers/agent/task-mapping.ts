// Translation between SwarmKit's api.Task / api.TaskStatus and the Docker
// executor's plain types (ContainerTask, TaskStepStatus).
import { Mount_Type, TaskState, durationToMillis, type Task, type TaskStatus } from "../../shared/api/index.js";
import { SwarmError } from "../../shared/errors.js";
import { fileTarget, parseId, type ContainerTask, type TaskFile, type TaskMount, type TaskStepStatus } from "./executor/index.js";
import type { DependencyStore } from "./dependencies.js";

/** Where the agent looks up the secrets and configs a task references. */
export type DependencyLookup = Pick<DependencyStore, "secret" | "config">;

const MOUNT_TYPES: Partial<Record<Mount_Type, TaskMount["type"]>> = {
  [Mount_Type.BIND]: "bind",
  [Mount_Type.VOLUME]: "volume",
  [Mount_Type.TMPFS]: "tmpfs",
};

function nonEmpty<T>(list: T[] | undefined): T[] | undefined {
  return list && list.length > 0 ? list : undefined;
}

/** The executor's view of a task; throws INVALID_ARGUMENT for what it cannot run. */
export function toContainerTask(t: Task, deps?: DependencyLookup): ContainerTask {
  const runtime = t.spec?.runtime;
  if (runtime?.$case !== "container") {
    throw new SwarmError("INVALID_ARGUMENT", `task ${t.id}: unsupported runtime ${runtime?.$case ?? "(none)"}; only container tasks run here`);
  }
  const c = runtime.value;
  const mounts = c.mounts.map((m): TaskMount => {
    const type = MOUNT_TYPES[m.type];
    if (!type) throw new SwarmError("INVALID_ARGUMENT", `task ${t.id}: unsupported mount type ${m.type} at ${m.target}`);
    return {
      type,
      ...(m.source ? { source: m.source } : {}),
      target: m.target,
      ...(m.readonly ? { readOnly: true } : {}),
      ...(m.tmpfsOptions?.sizeBytes ? { tmpfsSizeBytes: m.tmpfsOptions.sizeBytes } : {}),
      ...(m.tmpfsOptions?.mode ? { tmpfsMode: m.tmpfsOptions.mode } : {}),
    };
  });
  const limits = t.spec?.resources?.limits;
  const out: ContainerTask = {
    taskId: t.id,
    serviceId: t.serviceId,
    serviceName: t.serviceAnnotations?.name ?? "",
    nodeId: t.nodeId,
    slot: t.slot,
    image: c.image,
  };
  if (t.annotations?.name) out.annotationsName = t.annotations.name;
  const opt = <K extends keyof ContainerTask>(k: K, v: ContainerTask[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  opt("command", nonEmpty(c.command));
  opt("args", nonEmpty(c.args));
  opt("env", nonEmpty(c.env));
  opt("labels", Object.keys(c.labels).length > 0 ? { ...c.labels } : undefined);
  opt("taskLabels", t.annotations && Object.keys(t.annotations.labels).length > 0 ? { ...t.annotations.labels } : undefined);
  opt("mounts", nonEmpty(mounts));
  if (limits?.nanoCpus || limits?.memoryBytes || c.pidsLimit) {
    out.limits = {
      ...(limits?.nanoCpus ? { nanoCpus: limits.nanoCpus } : {}),
      ...(limits?.memoryBytes ? { memoryBytes: limits.memoryBytes } : {}),
      ...(c.pidsLimit ? { pids: c.pidsLimit } : {}),
    };
  }
  if (c.stopGracePeriod) out.stopGracePeriodMs = durationToMillis(c.stopGracePeriod);
  opt("stopSignal", c.stopSignal || undefined);
  opt("hostname", c.hostname || undefined);
  opt("user", c.user || undefined);
  opt("dir", c.dir || undefined);
  opt("init", c.init);
  opt("tty", c.tty || undefined);
  opt("openStdin", c.openStdin || undefined);
  opt("groups", nonEmpty(c.groups));
  opt("capAdd", nonEmpty(c.capabilityAdd));
  opt("capDrop", nonEmpty(c.capabilityDrop));
  opt("hosts", nonEmpty(c.hosts));
  if (deps && (c.secrets.length > 0 || c.configs.length > 0)) out.resolveFiles = () => taskFiles(t, deps);
  return out;
}

/**
 * The files of a task's secret and config references (SwarmKit's
 * dependency getter): a reference whose object this node has not received
 * makes the task fail to prepare. Configs with a runtime target (credential
 * specs) have no file.
 */
export function taskFiles(t: Task, deps: DependencyLookup): TaskFile[] {
  const runtime = t.spec?.runtime;
  if (runtime?.$case !== "container") return [];
  const files: TaskFile[] = [];
  for (const ref of runtime.value.secrets) {
    if (ref.target?.$case !== "file") continue;
    const secret = deps.secret(ref.secretId);
    if (!secret) throw new SwarmError("FAILED_PRECONDITION", `secret ${ref.secretName} (${ref.secretId}) is not available on this node`);
    const f = ref.target.value;
    files.push({ kind: "secret", id: ref.secretId, target: fileTarget("secret", f.name || ref.secretName), uid: parseId(f.uid, "secret uid"), gid: parseId(f.gid, "secret gid"), mode: f.mode || 0o444, data: secret.spec?.data ?? new Uint8Array() });
  }
  for (const ref of runtime.value.configs) {
    if (ref.target?.$case !== "file") continue;
    const config = deps.config(ref.configId);
    if (!config) throw new SwarmError("FAILED_PRECONDITION", `config ${ref.configName} (${ref.configId}) is not available on this node`);
    const f = ref.target.value;
    if (f.name === "") throw new SwarmError("INVALID_ARGUMENT", `config ${ref.configName}: no target path`);
    files.push({ kind: "config", id: ref.configId, target: fileTarget("config", f.name), uid: parseId(f.uid, "config uid"), gid: parseId(f.gid, "config gid"), mode: f.mode || 0o444, data: config.spec?.data ?? new Uint8Array() });
  }
  return files;
}

/** The executor's step status from a stored/reported api status. */
export function toStepStatus(s: TaskStatus): TaskStepStatus {
  const out: TaskStepStatus = { state: s.state, message: s.message };
  if (s.err) out.err = s.err;
  if (s.runtimeStatus?.$case === "container") {
    const c = s.runtimeStatus.value;
    out.container = { containerId: c.containerId, pid: c.pid, exitCode: c.exitCode };
  }
  return out;
}

/** An api status for a step status, stamped now. */
export function toApiStatus(s: TaskStepStatus, now = new Date()): TaskStatus {
  return {
    timestamp: now,
    state: s.state as TaskState,
    message: s.message,
    err: s.err ?? "",
    runtimeStatus: s.container ? { $case: "container", value: { ...s.container } } : undefined,
    portStatus: undefined,
    appliedBy: "",
    appliedAt: undefined,
  };
}

/** The status a task starts from when the agent has none of its own: the manager's, else ASSIGNED. */
export function initialStatus(t: Task): TaskStatus {
  return t.status ?? toApiStatus({ state: TaskState.ASSIGNED, message: "assigned" });
}
