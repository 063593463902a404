// SwarmKit's swarmctl output: ls tables and inspect layouts, byte for byte
// where the reference output is known. Pure functions of the objects, a name
// resolver and the current time, so they can be tested on fixed data.
import {
  NodeRole,
  NodeStatus_State,
  TaskState,
  UpdateStatus_UpdateState,
  externalCA_CAProtocolToJSON,
  mount_TypeToJSON,
  nodeSpec_AvailabilityToJSON,
  nodeSpec_MembershipToJSON,
  nodeStatus_StateToJSON,
  portConfig_ProtocolToJSON,
  raftMemberStatus_ReachabilityToJSON,
  taskStateToJSON,
  updateStatus_UpdateStateToJSON,
  type Cluster,
  type Config,
  type Duration,
  type GenericResource,
  type Node,
  type Resources,
  type Secret,
  type Service,
  type Task,
} from "../shared/api/index.js";
import { goDuration, iBytes, rfc3339, timeAgo } from "./humanize.js";
import type { NameResolver } from "./resolve.js";
import { nodeName } from "./resolve.js";
import { INSPECT, TABLE, TASKS, WIDE_TABLE, table, tabwrite } from "./tabwriter.js";

// ---------- ls tables ----------

/** `Manager Status`: reachability, `*` on the leader, UNKNOWN for a manager-to-be without status. */
export function managerStatusText(n: Node): string {
  let text = "";
  if (n.managerStatus) {
    text = raftMemberStatus_ReachabilityToJSON(n.managerStatus.reachability);
    if (n.managerStatus.leader) text += " *";
  }
  if (text === "" && n.spec?.desiredRole === NodeRole.MANAGER) text = "UNKNOWN";
  return text;
}

export function nodeTable(nodes: readonly Node[]): string {
  return table(
    ["ID", "Name", "Membership", "Status", "Availability", "Manager Status"],
    nodes.map((n) => [
      n.id,
      nodeName(n),
      nodeSpec_MembershipToJSON(n.spec?.membership ?? 0),
      nodeStatus_StateToJSON(n.status?.state ?? 0),
      nodeSpec_AvailabilityToJSON(n.spec?.availability ?? 0),
      managerStatusText(n),
    ]),
  );
}

/** `Replicas`: running/desired for replicated services, "global" for global ones. */
export function replicasText(s: Service, running: number): string {
  switch (s.spec?.mode?.$case) {
    case "global":
      return "global";
    case "replicated":
      return `${running}/${s.spec.mode.value.replicas}`;
    default:
      return "";
  }
}

/** Running tasks per service, counting only tasks on nodes that are not DOWN (as SwarmKit's service ls). */
export function runningByService(tasks: readonly Task[], nodes: readonly Node[]): Map<string, number> {
  const live = new Set(nodes.filter((n) => (n.status?.state ?? 0) !== NodeStatus_State.DOWN).map((n) => n.id));
  const running = new Map<string, number>();
  for (const t of tasks) {
    if (live.has(t.nodeId) && t.status?.state === TaskState.RUNNING) {
      running.set(t.serviceId, (running.get(t.serviceId) ?? 0) + 1);
    }
  }
  return running;
}

export function serviceTable(services: readonly Service[], running: ReadonlyMap<string, number>): string {
  return table(
    ["ID", "Name", "Image", "Replicas"],
    services.map((s) => [
      s.id,
      s.spec?.annotations?.name ?? "",
      s.spec?.task?.runtime?.$case === "container" ? s.spec.task.runtime.value.image : "",
      replicasText(s, running.get(s.id) ?? 0),
    ]),
  );
}

/** "RUNNING 2 seconds ago" */
export function lastStateText(t: Task, now: Date): string {
  const ts = t.status?.timestamp;
  return `${taskStateToJSON(t.status?.state ?? 0)} ${ts ? timeAgo(ts, now) : ""}`;
}

/** task ls hides tasks whose desired state is past RUNNING unless `all`. */
export function visibleTasks(tasks: readonly Task[], all: boolean): Task[] {
  return tasks.filter((t) => all || t.desiredState <= TaskState.RUNNING);
}

export async function taskTable(tasks: readonly Task[], res: NameResolver, now: Date): Promise<string> {
  const rows: string[][] = [];
  for (const t of tasks) {
    rows.push([
      t.id,
      `${await res.service(t.serviceId)}.${t.slot}`,
      taskStateToJSON(t.desiredState),
      lastStateText(t, now),
      await res.node(t.nodeId),
    ]);
  }
  return table(["ID", "Service", "Desired State", "Last State", "Node"], rows);
}

export function clusterTable(clusters: readonly Cluster[]): string {
  return table(["ID", "Name"], clusters.map((c) => [c.id, c.spec?.annotations?.name ?? ""]));
}

function newestFirst<T extends { meta?: { createdAt?: Date | undefined } | undefined }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (b.meta?.createdAt?.getTime() ?? 0) - (a.meta?.createdAt?.getTime() ?? 0));
}

export function secretTable(secrets: readonly Secret[], now: Date): string {
  return table(
    ["ID", "Name", "Driver", "Created"],
    newestFirst(secrets).map((s) => [
      s.id,
      s.spec?.annotations?.name ?? "",
      s.spec?.driver?.name ?? "",
      s.meta?.createdAt ? timeAgo(s.meta.createdAt, now) : "",
    ]),
    WIDE_TABLE,
  );
}

export function configTable(configs: readonly Config[], now: Date): string {
  return table(
    ["ID", "Name", "Created"],
    newestFirst(configs).map((c) => [c.id, c.spec?.annotations?.name ?? "", c.meta?.createdAt ? timeAgo(c.meta.createdAt, now) : ""]),
    WIDE_TABLE,
  );
}

/** The order secret/config ls print in (newest first), for -q to match the table. */
export const sortNewestFirst = newestFirst;

/** -q: one ID per line. */
export function idLines(items: readonly { id: string }[]): string {
  return items.map((i) => `${i.id}\n`).join("");
}

// ---------- inspect layouts ----------

/** FprintfIfNotEmpty: the line only when the value is non-empty. */
function ifNotEmpty(key: string, value: string, sep = ": "): string {
  return value === "" ? "" : `${key}\t${sep}${value}\n`;
}

function sortedEntries(m: { [k: string]: string } | undefined): [string, string][] {
  return Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function goQuote(s: string): string {
  return JSON.stringify(s);
}

function genericKindValue(r: GenericResource): [string, string] {
  const res = r.resource;
  if (res?.$case === "discreteResourceSpec") return [res.value.kind, String(res.value.value)];
  if (res?.$case === "namedResourceSpec") return [res.value.kind, res.value.value];
  return ["", ""];
}

function durationNanos(d: Duration): number {
  return d.seconds * 1e9 + d.nanos;
}

/** Tasks as printed under service/node/task inspect: by slot, newest first within a slot. */
export async function taskInspectTable(tasks: readonly Task[], all: boolean, res: NameResolver, now: Date): Promise<string> {
  const sorted = tasks
    .map((t, i) => ({ t, i }))
    .sort((a, b) => {
      if (a.t.slot !== b.t.slot) return a.t.slot - b.t.slot;
      const d = (b.t.meta?.createdAt?.getTime() ?? 0) - (a.t.meta?.createdAt?.getTime() ?? 0);
      return d !== 0 ? d : a.i - b.i;
    })
    .map((x) => x.t);
  let text = "Task ID\tService\tSlot\tImage\tDesired State\tLast State\tNode\n";
  text += "-------\t-------\t----\t-----\t-------------\t----------\t----\n";
  for (const t of sorted) {
    if (!all && t.desiredState > TaskState.RUNNING) continue;
    const image = t.spec?.runtime?.$case === "container" ? t.spec.runtime.value.image : "";
    text += `${t.id}\t${t.serviceAnnotations?.name ?? ""}\t${t.slot}\t${image}\t${taskStateToJSON(t.desiredState)}\t${lastStateText(t, now)}\t${await res.node(t.nodeId)}\n`;
  }
  return tabwrite(text, TASKS);
}

export function serviceSummary(s: Service, running: number, now: Date): string {
  const spec = s.spec;
  const task = spec?.task;
  const ctr = task?.runtime?.$case === "container" ? task.runtime.value : undefined;
  let w = "";
  w += ifNotEmpty("ID", s.id);
  w += ifNotEmpty("Name", spec?.annotations?.name ?? "");
  const labels = sortedEntries(spec?.annotations?.labels);
  if (labels.length > 0) {
    w += "Labels\t\n";
    for (const [k, v] of labels) w += `  ${k}\t: ${v}\n`;
  }
  w += ifNotEmpty("Replicas", replicasText(s, running));
  const us = s.updateStatus;
  if (us) {
    w += "Update Status\t\n";
    w += ` State\t: ${updateStatus_UpdateStateToJSON(us.state)}\n`;
    if (us.startedAt) w += ` Started\t: ${timeAgo(us.startedAt, now)}\n`;
    if (us.state === UpdateStatus_UpdateState.COMPLETED && us.completedAt) w += ` Completed\t: ${timeAgo(us.completedAt, now)}\n`;
    w += ` Message\t: ${us.message}\n`;
  }
  w += "Template\t\n";
  w += " Container\t\n";
  if (ctr) {
    w += ifNotEmpty("  Image", ctr.image);
    w += ifNotEmpty("  Command", ctr.command.length ? goQuote(ctr.command.join(" ")) : "");
    w += ifNotEmpty("  Args", ctr.args.length ? `[${ctr.args.join(", ")}]` : "");
    w += ifNotEmpty("  Env", ctr.env.length ? `[${ctr.env.join(", ")}]` : "");
  }
  if (task?.placement) w += ifNotEmpty("  Constraints", task.placement.constraints.join(", "));
  if (task?.resources) {
    w += "  Resources\t\n";
    const printResources = (r: Resources): void => {
      if (r.nanoCpus !== 0) w += `      CPU\t: ${r.nanoCpus / 1e9}\n`;
      if (r.memoryBytes !== 0) w += `      Memory\t: ${iBytes(r.memoryBytes)}\n`;
      if (r.generic.length !== 0) w += "      Generic Resources\t\n";
      for (const g of r.generic) {
        const [k, v] = genericKindValue(g);
        w += `        ${k}\t: ${v}\n`;
      }
    };
    if (task.resources.reservations) {
      w += "    Reservations:\t\n";
      printResources(task.resources.reservations);
    }
    if (task.resources.limits) {
      w += "    Limits:\t\n";
      printResources(task.resources.limits);
    }
  }
  if (task && task.networks.length > 0) {
    w += `  Networks:${task.networks.map((n) => ` ${n.target}`).join("")}\n`;
  }
  const ports = s.endpoint?.ports ?? [];
  if (ports.length > 0) {
    w += "\nPorts:\n";
    for (const p of ports) {
      w += `    - Name\t= ${p.name}\n`;
      w += `      Protocol\t= ${portConfig_ProtocolToJSON(p.protocol)}\n`;
      w += `      Port\t= ${p.targetPort}\n`;
      w += `      SwarmPort\t= ${p.publishedPort}\n`;
    }
  }
  if (ctr && ctr.mounts.length > 0) {
    w += "  Mounts:\n";
    for (const m of ctr.mounts) {
      w += `    - target = ${m.target}\n`;
      w += `      source = ${m.source}\n`;
      w += `      readonly = ${m.readonly}\n`;
      w += `      type = ${mount_TypeToJSON(m.type).toLowerCase()}\n`;
    }
  }
  if (ctr && ctr.secrets.length > 0) {
    w += "  Secrets:\n";
    for (const r of ctr.secrets) {
      const file = r.target?.$case === "file" ? r.target.value : undefined;
      w += `    [${file ? "FILE" : ""}] ${r.secretName}@${r.secretId}:${file?.name ?? ""}\n`;
    }
  }
  if (ctr && ctr.configs.length > 0) {
    w += "  Configs:\n";
    for (const r of ctr.configs) {
      const file = r.target?.$case === "file" ? r.target.value : undefined;
      w += `    [${file ? "FILE" : ""}] ${r.configName}@${r.configId}:${file?.name ?? ""}\n`;
    }
  }
  if (task?.logDriver) {
    w += `  LogDriver\t: ${task.logDriver.name}\n`;
    for (const [k, v] of sortedEntries(task.logDriver.options)) w += v !== "" ? `    ${k}\t: ${v}\n` : `    ${k}\t\n`;
  }
  return tabwrite(w, INSPECT);
}

/** service inspect: the summary, then (if any) a blank line and the task table. */
export async function serviceInspect(s: Service, tasks: readonly Task[], all: boolean, res: NameResolver, now: Date): Promise<string> {
  const running = tasks.filter((t) => t.status?.state === TaskState.RUNNING).length;
  let out = serviceSummary(s, running, now);
  if (tasks.length > 0) out += "\n" + (await taskInspectTable(tasks, all, res, now));
  return out;
}

export function nodeSummary(n: Node): string {
  const desc = n.description;
  let w = "";
  w += ifNotEmpty("ID", n.id);
  if (desc) w += ifNotEmpty("Hostname", desc.hostname);
  const labels = sortedEntries(n.spec?.annotations?.labels);
  if (labels.length > 0) w += `Node Labels\t:${labels.map(([k, v]) => ` ${k}=${v}`).join("")}\n`;
  w += "Status:\t\n";
  w += ifNotEmpty("  State", nodeStatus_StateToJSON(n.status?.state ?? 0));
  w += ifNotEmpty("  Message", n.status?.message ?? "");
  w += ifNotEmpty("  Availability", nodeSpec_AvailabilityToJSON(n.spec?.availability ?? 0));
  w += ifNotEmpty("  Address", n.status?.addr ?? "");
  if (n.managerStatus) {
    w += "Manager status:\t\n";
    w += ifNotEmpty("  Address", n.managerStatus.addr);
    w += ifNotEmpty("  Raft status", raftMemberStatus_ReachabilityToJSON(n.managerStatus.reachability));
    w += ifNotEmpty("  Leader", n.managerStatus.leader ? "yes" : "no");
  }
  if (desc?.platform) {
    w += "Platform:\t\n";
    w += ifNotEmpty("  Operating System", desc.platform.os);
    w += ifNotEmpty("  Architecture", desc.platform.architecture);
  }
  if (desc?.resources) {
    w += "Resources:\t\n";
    w += `  CPUs\t: ${Math.trunc(desc.resources.nanoCpus / 1e9)}\n`;
    w += `  Memory\t: ${iBytes(desc.resources.memoryBytes)}\n`;
    w += "  Generic Resources:\t\n";
    for (const g of desc.resources.generic) {
      const [k, v] = genericKindValue(g);
      w += `    ${k}\t: ${v}\n`;
    }
  }
  if (desc?.engine) {
    w += "Plugins:\t\n";
    const byType = new Map<string, string[]>();
    for (const p of desc.engine.plugins) byType.set(p.type, [...(byType.get(p.type) ?? []), p.name]);
    for (const type of [...byType.keys()].sort()) w += `  ${type}\t: [${byType.get(type)!.join(" ")}]\n`;
    w += ifNotEmpty("Engine Version", desc.engine.engineVersion);
    const engineLabels = sortedEntries(desc.engine.labels);
    if (engineLabels.length > 0) w += `Engine Labels\t:${engineLabels.map(([k, v]) => ` ${k}=${v}`).join("")}\n`;
  }
  return tabwrite(w, INSPECT);
}

export async function nodeInspect(n: Node, tasks: readonly Task[], all: boolean, res: NameResolver, now: Date): Promise<string> {
  let out = nodeSummary(n);
  if (tasks.length > 0) out += "\n" + (await taskInspectTable(tasks, all, res, now));
  return out;
}

export async function taskSummary(t: Task, res: NameResolver): Promise<string> {
  let w = "";
  w += `ID\t: ${t.id}\n`;
  w += `Slot\t: ${t.slot}\n`;
  w += `Service\t: ${await res.service(t.serviceId)}\n`;
  const st = t.status;
  w += "Status\t\n";
  w += `  Desired State\t: ${taskStateToJSON(t.desiredState)}\n`;
  w += `  Last State\t: ${taskStateToJSON(st?.state ?? 0)}\n`;
  if (st?.timestamp) w += `  Timestamp\t: ${rfc3339(st.timestamp)}\n`;
  if (st?.message) w += `  Message\t: ${st.message}\n`;
  if (st?.err) w += `  Error\t: ${st.err}\n`;
  const cs = st?.runtimeStatus?.$case === "container" ? st.runtimeStatus.value : undefined;
  if (cs) {
    if (cs.containerId !== "") w += `  ContainerID:\t: ${cs.containerId}\n`;
    if (cs.pid !== 0) w += `  Pid\t: ${cs.pid}\n`;
    if ((st?.state ?? 0) > TaskState.RUNNING) w += `  ExitCode\t: ${cs.exitCode}\n`;
    const ports = st?.portStatus?.ports ?? [];
    if (ports.length > 0) {
      const list = ports.map((p) => `0.0.0.0:${p.publishedPort}->${p.targetPort}/${portConfig_ProtocolToJSON(p.protocol).toLowerCase()}`);
      w += `Ports\t: ${list.join(", ")}\n`;
    }
  }
  w += `Node\t: ${await res.node(t.nodeId)}\n`;
  w += "Spec\t\n";
  const ctr = t.spec?.runtime?.$case === "container" ? t.spec.runtime.value : undefined;
  if (ctr) {
    w += ifNotEmpty("  Image", ctr.image);
    w += ifNotEmpty("  Command", ctr.command.length ? goQuote(ctr.command.join(" ")) : "");
    w += ifNotEmpty("  Args", ctr.args.length ? `[${ctr.args.join(", ")}]` : "");
    w += ifNotEmpty("  Env", ctr.env.length ? `[${ctr.env.join(", ")}]` : "");
    if (ctr.secrets.length > 0) {
      w += "  Secrets:\n";
      for (const r of ctr.secrets) {
        const file = r.target?.$case === "file" ? r.target.value : undefined;
        w += `    [${file ? "FILE" : ""}] ${r.secretName}:${file?.name ?? ""}\n`;
      }
    }
    if (ctr.configs.length > 0) {
      w += "  Configs:\n";
      for (const r of ctr.configs) {
        const file = r.target?.$case === "file" ? r.target.value : undefined;
        w += `    [${file ? "FILE" : ""}] ${r.configName}:${file?.name ?? ""}\n`;
      }
    }
  }
  return tabwrite(w, INSPECT);
}

/** task inspect: the summary, then the tasks of the same slot ("Task Parents"), all states. */
export async function taskInspect(t: Task, sameService: readonly Task[], res: NameResolver, now: Date): Promise<string> {
  let out = await taskSummary(t, res);
  const previous = sameService.filter((x) => x.slot === t.slot);
  if (previous.length > 0) out += "\n===> Task Parents\n" + (await taskInspectTable(previous, true, res, now));
  return out;
}

export function clusterInspect(c: Cluster): string {
  const spec = c.spec;
  let w = "";
  w += ifNotEmpty("ID", c.id);
  w += ifNotEmpty("Name", spec?.annotations?.name ?? "");
  w += "Orchestration settings:\n";
  w += `  Task history entries: ${spec?.orchestration?.taskHistoryRetentionLimit ?? 0}\n`;
  const hb = spec?.dispatcher?.heartbeatPeriod;
  if (hb) {
    w += "Dispatcher settings:\n";
    w += `  Dispatcher heartbeat period: ${goDuration(durationNanos(hb))}\n`;
  }
  w += "Certificate Authority settings:\n";
  const expiry = spec?.caConfig?.nodeCertExpiry;
  if (expiry) w += `  Certificate Validity Duration: ${goDuration(durationNanos(expiry))}\n`;
  const ext = spec?.caConfig?.externalCas ?? [];
  if (ext.length > 0) {
    w += "  External CAs:\n";
    for (const e of ext) w += `    ${externalCA_CAProtocolToJSON(e.protocol).toLowerCase()}: ${e.url}\n`;
  }
  w += "  Join Tokens:\n";
  w += `    Worker: ${c.rootCa?.joinTokens?.worker ?? ""}\n`;
  w += `    Manager: ${c.rootCa?.joinTokens?.manager ?? ""}\n`;
  const ld = spec?.taskDefaults?.logDriver;
  if (ld) {
    w += `Default Log Driver\t: ${ld.name}\n`;
    for (const [k, v] of sortedEntries(ld.options)) w += v !== "" ? `  ${k}\t: ${v}\n` : `  ${k}\t\n`;
  }
  return tabwrite(w, INSPECT);
}

export function secretInspect(s: Secret): string {
  let w = "";
  w += ifNotEmpty("ID", s.id);
  w += ifNotEmpty("Name", s.spec?.annotations?.name ?? "");
  const labels = sortedEntries(s.spec?.annotations?.labels);
  if (labels.length > 0) {
    w += "Labels\t\n";
    for (const [k, v] of labels) w += `  ${k}\t: ${v}\n`;
  }
  if (s.spec?.driver) w += ifNotEmpty("Driver", s.spec.driver.name);
  if (s.meta?.createdAt) w += ifNotEmpty("Created", rfc3339(s.meta.createdAt));
  return tabwrite(w, INSPECT);
}

export function configInspect(c: Config): string {
  let w = "";
  w += ifNotEmpty("ID", c.id);
  w += ifNotEmpty("Name", c.spec?.annotations?.name ?? "");
  const labels = sortedEntries(c.spec?.annotations?.labels);
  if (labels.length > 0) {
    w += "Labels\t\n";
    for (const [k, v] of labels) w += `  ${k}\t: ${v}\n`;
  }
  if (c.meta?.createdAt) w += ifNotEmpty("Created", rfc3339(c.meta.createdAt));
  // SwarmKit's own config inspect prints a Go writer value here (a bug); we print the payload.
  const data = Buffer.from(c.spec?.data ?? Buffer.alloc(0)).toString("utf8");
  return tabwrite(w, INSPECT) + `Payload:\n\n${data}${data.endsWith("\n") || data === "" ? "" : "\n"}`;
}
