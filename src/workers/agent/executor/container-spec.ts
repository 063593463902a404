// Pure translation of a ContainerTask into Docker's container-create body,
// following SwarmKit's swarmd/dockerexec container config rules.
import type Dockerode from "dockerode";
import type { ContainerTask, TaskMount } from "./types.js";

/** SwarmKit's reserved label namespace; system labels override user labels. */
export const SYSTEM_LABEL_PREFIX = "com.docker.swarm";
export const LABEL_TASK = `${SYSTEM_LABEL_PREFIX}.task`;
export const LABEL_TASK_ID = `${SYSTEM_LABEL_PREFIX}.task.id`;
export const LABEL_TASK_NAME = `${SYSTEM_LABEL_PREFIX}.task.name`;
export const LABEL_NODE_ID = `${SYSTEM_LABEL_PREFIX}.node.id`;
export const LABEL_SERVICE_ID = `${SYSTEM_LABEL_PREFIX}.service.id`;
export const LABEL_SERVICE_NAME = `${SYSTEM_LABEL_PREFIX}.service.name`;

export const DEFAULT_STOP_GRACE_MS = 10_000;
/** The kernel's default CFS period (100 ms), in microseconds, as SwarmKit uses. */
export const CPU_PERIOD_US = 100_000;

/**
 * SwarmKit's task name (api/naming): the annotation name when set, else
 * `<service>.<slot>.<task id>`, with the node ID in place of the slot for
 * global services (slot 0). It is also the container name.
 */
export function taskName(t: Pick<ContainerTask, "annotationsName" | "serviceName" | "slot" | "nodeId" | "taskId">): string {
  if (t.annotationsName) return t.annotationsName;
  const slot = t.slot > 0 ? String(t.slot) : t.nodeId;
  return `${t.serviceName}.${slot}.${t.taskId}`;
}

/** Spec labels, then task labels, then the system labels (which always win). */
export function containerLabels(t: ContainerTask): Record<string, string> {
  return {
    ...(t.labels ?? {}),
    ...(t.taskLabels ?? {}),
    [LABEL_TASK]: "",
    [LABEL_TASK_ID]: t.taskId,
    [LABEL_TASK_NAME]: taskName(t),
    [LABEL_NODE_ID]: t.nodeId,
    [LABEL_SERVICE_ID]: t.serviceId,
    [LABEL_SERVICE_NAME]: t.serviceName,
  };
}

/** Docker's mount list (bind and volume); tmpfs mounts go to HostConfig.Tmpfs as in SwarmKit. */
function engineMounts(mounts: TaskMount[]): Dockerode.MountSettings[] {
  return mounts
    .filter((m) => m.type !== "tmpfs")
    .map((m) => ({
      Type: m.type,
      Source: m.source ?? "",
      Target: m.target,
      ReadOnly: m.readOnly === true,
    }));
}

/** tmpfs option string: ro, mode=<octal>, size=<n>[kmg]. */
export function tmpfsOptions(m: TaskMount): string {
  const opts: string[] = [];
  if (m.readOnly) opts.push("ro");
  if (m.tmpfsMode) opts.push(`mode=${m.tmpfsMode.toString(8)}`);
  if (m.tmpfsSizeBytes) {
    let size = m.tmpfsSizeBytes;
    let suffix = "";
    for (const [s, d] of [["g", 1 << 30], ["m", 1 << 20], ["k", 1 << 10]] as const) {
      if (size % d === 0) {
        size /= d;
        suffix = s;
        break;
      }
    }
    opts.push(`size=${size}${suffix}`);
  }
  return opts.join(",");
}

/** "IP host [aliases…]" → "host:IP" (aliases dropped, as SwarmKit does). */
function extraHosts(hosts: string[]): string[] {
  const out: string[] = [];
  for (const line of hosts) {
    const parts = line.trim().split(/\s+/);
    if (parts.length > 1) out.push(`${parts[1]}:${parts[0]}`);
  }
  return out;
}

/** The full POST /containers/create body, including the container name. */
export function containerCreateOptions(t: ContainerTask): Dockerode.ContainerCreateOptions {
  const mounts = t.mounts ?? [];
  const tmpfs: Record<string, string> = {};
  for (const m of mounts) if (m.type === "tmpfs") tmpfs[m.target] = tmpfsOptions(m);

  const hostConfig: Dockerode.HostConfig = {
    NetworkMode: t.networkMode ?? "none",
    Mounts: engineMounts(mounts),
  };
  if (Object.keys(tmpfs).length > 0) hostConfig.Tmpfs = tmpfs;
  if (t.init !== undefined) hostConfig.Init = t.init;
  if (t.groups?.length) hostConfig.GroupAdd = t.groups;
  if (t.capAdd?.length) hostConfig.CapAdd = t.capAdd;
  if (t.capDrop?.length) hostConfig.CapDrop = t.capDrop;
  if (t.hosts?.length) hostConfig.ExtraHosts = extraHosts(t.hosts);
  const limits = t.limits ?? {};
  if (limits.memoryBytes && limits.memoryBytes > 0) hostConfig.Memory = limits.memoryBytes;
  if (limits.nanoCpus && limits.nanoCpus > 0) {
    hostConfig.CpuPeriod = CPU_PERIOD_US;
    hostConfig.CpuQuota = Math.floor((limits.nanoCpus * CPU_PERIOD_US) / 1e9);
  }
  if (limits.pids && limits.pids > 0) hostConfig.PidsLimit = limits.pids;

  const opts: Dockerode.ContainerCreateOptions = {
    name: taskName(t),
    Image: t.image,
    Labels: containerLabels(t),
    Env: t.env ?? [],
    HostConfig: hostConfig,
  };
  // Command replaces the whole invocation (entrypoint + args); args alone feed
  // the image's entrypoint.
  if (t.command?.length) {
    opts.Entrypoint = [...t.command];
    opts.Cmd = [...(t.args ?? [])];
  } else if (t.args?.length) {
    opts.Cmd = [...t.args];
  }
  if (t.hostname) opts.Hostname = t.hostname;
  if (t.user) opts.User = t.user;
  if (t.dir) opts.WorkingDir = t.dir;
  if (t.tty) opts.Tty = true;
  if (t.openStdin) opts.OpenStdin = true;
  if (t.stopSignal) opts.StopSignal = t.stopSignal;
  return opts;
}

/** Stop timeout in whole seconds for Docker's stop API; never shorter than asked. */
export function stopTimeoutSeconds(t: Pick<ContainerTask, "stopGracePeriodMs">): number {
  const ms = t.stopGracePeriodMs ?? DEFAULT_STOP_GRACE_MS;
  return Math.max(0, Math.ceil(ms / 1000));
}
