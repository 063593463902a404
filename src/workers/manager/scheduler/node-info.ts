// The scheduler's cache of one node: the tasks placed on it that still hold
// resources (ASSIGNED..RUNNING), how many of them each service has (only
// tasks still desired running count, as SwarmKit's ActiveTasksCount), the
// CPU, memory and generic resources left after their reservations, the
// host-mode ports they publish, and recent task failures per service
// version (SwarmKit's failure penalty).
import { PortConfig_PublishMode, TaskState, type Node, type Task } from "../../../shared/api/index.js";

/** SwarmKit: a node with this many failures of a service version in the window is tried last. */
export const MAX_RECENT_FAILURES = 5;
export const FAILURE_WINDOW_MS = 5 * 60_000;

/** "tcp/8080" keys of a task's published host-mode ports. */
export function hostPorts(t: Task): string[] {
  const ports = t.endpoint?.ports.length ? t.endpoint.ports : (t.endpoint?.spec?.ports ?? []);
  const out: string[] = [];
  for (const p of ports) {
    if (p.publishMode === PortConfig_PublishMode.HOST && p.publishedPort > 0) out.push(`${p.protocol === 1 ? "udp" : p.protocol === 2 ? "sctp" : "tcp"}/${p.publishedPort}`);
  }
  return out;
}

/** The service version whose failures count against a node. */
export function versionKey(t: Pick<Task, "serviceId" | "specVersion">): string {
  return `${t.serviceId}\u0000${t.specVersion?.index ?? 0}`;
}

export class NodeInfo {
  readonly tasks = new Map<string, Task>();
  readonly activeByService = new Map<string, number>();
  activeTotal = 0;
  availableCpu = 0;
  availableMemory = 0;
  /** Generic resources left: discrete counts per kind. */
  readonly availableDiscrete = new Map<string, number>();
  /** Generic resources left: named values per kind (e.g. GPU UUIDs). */
  readonly availableNamed = new Map<string, Set<string>>();
  /** Published host-mode ports in use, with how many tasks use each. */
  readonly usedHostPorts = new Map<string, number>();
  /** Failure times (ms) per service version, newest last. */
  private readonly failures = new Map<string, number[]>();

  constructor(public node: Node) {
    this.resetResources();
  }

  /** A new version of the node object: keep the tasks, recompute what is free. */
  setNode(node: Node): void {
    this.node = node;
    this.resetResources();
    for (const t of this.tasks.values()) this.reserve(t, -1);
  }

  /** Add or replace a task on this node. */
  addTask(t: Task): void {
    const old = this.tasks.get(t.id);
    if (old !== undefined) this.account(old, -1);
    this.tasks.set(t.id, t);
    this.account(t, 1);
  }

  removeTask(id: string): void {
    const old = this.tasks.get(id);
    if (old === undefined) return;
    this.tasks.delete(id);
    this.account(old, -1);
  }

  serviceCount(serviceId: string): number {
    return this.activeByService.get(serviceId) ?? 0;
  }

  /** Units of a generic resource kind still free. */
  genericAvailable(kind: string): number {
    return (this.availableDiscrete.get(kind) ?? 0) + (this.availableNamed.get(kind)?.size ?? 0);
  }

  portInUse(key: string): boolean {
    return (this.usedHostPorts.get(key) ?? 0) > 0;
  }

  /** Records a failed task of a service version (SwarmKit's taskFailed). */
  taskFailed(key: string, at: number): void {
    const list = this.failures.get(key) ?? [];
    list.push(at);
    // Only the last MAX_RECENT_FAILURES matter for the penalty.
    if (list.length > MAX_RECENT_FAILURES) list.splice(0, list.length - MAX_RECENT_FAILURES);
    this.failures.set(key, list);
  }

  /** Failures of the service version within the window before `now`. */
  recentFailures(key: string, now: number): number {
    const list = this.failures.get(key);
    if (list === undefined) return 0;
    let n = 0;
    for (const at of list) if (now - at <= FAILURE_WINDOW_MS) n++;
    return n;
  }

  private resetResources(): void {
    const r = this.node.description?.resources;
    this.availableCpu = r?.nanoCpus ?? 0;
    this.availableMemory = r?.memoryBytes ?? 0;
    this.availableDiscrete.clear();
    this.availableNamed.clear();
    for (const g of r?.generic ?? []) {
      const res = g.resource;
      if (res?.$case === "discreteResourceSpec") {
        this.availableDiscrete.set(res.value.kind, (this.availableDiscrete.get(res.value.kind) ?? 0) + res.value.value);
      } else if (res?.$case === "namedResourceSpec") {
        let set = this.availableNamed.get(res.value.kind);
        if (!set) this.availableNamed.set(res.value.kind, (set = new Set()));
        set.add(res.value.value);
      }
    }
  }

  private account(t: Task, sign: 1 | -1): void {
    this.reserve(t, sign === 1 ? -1 : 1);
    for (const key of hostPorts(t)) {
      const n = (this.usedHostPorts.get(key) ?? 0) + sign;
      if (n <= 0) this.usedHostPorts.delete(key);
      else this.usedHostPorts.set(key, n);
    }
    if (t.desiredState > TaskState.RUNNING) return;
    this.activeTotal += sign;
    const n = (this.activeByService.get(t.serviceId) ?? 0) + sign;
    if (n === 0) this.activeByService.delete(t.serviceId);
    else this.activeByService.set(t.serviceId, n);
  }

  /** sign -1 takes the task's reservations from what is free, +1 gives them back. */
  private reserve(t: Task, sign: 1 | -1): void {
    const r = t.spec?.resources?.reservations;
    if (r !== undefined) {
      this.availableCpu += sign * r.nanoCpus;
      this.availableMemory += sign * r.memoryBytes;
    }
    for (const g of t.assignedGenericResources) {
      const res = g.resource;
      if (res?.$case === "discreteResourceSpec") {
        this.availableDiscrete.set(res.value.kind, (this.availableDiscrete.get(res.value.kind) ?? 0) + sign * res.value.value);
      } else if (res?.$case === "namedResourceSpec") {
        let set = this.availableNamed.get(res.value.kind);
        if (!set) this.availableNamed.set(res.value.kind, (set = new Set()));
        if (sign < 0) set.delete(res.value.value);
        else set.add(res.value.value);
      }
    }
  }

  /**
   * Claims `n` units of a generic resource kind for a task: named values
   * first (lowest first, deterministic), then discrete units. Returns the
   * assignment to record in Task.assignedGenericResources; the caller adds
   * the task afterwards, which takes them from what is free.
   */
  claimGeneric(kind: string, n: number): Task["assignedGenericResources"] {
    const out: Task["assignedGenericResources"] = [];
    const named = [...(this.availableNamed.get(kind) ?? [])].sort();
    let left = n;
    for (const v of named) {
      if (left === 0) break;
      out.push({ resource: { $case: "namedResourceSpec", value: { kind, value: v } } });
      left--;
    }
    if (left > 0) out.push({ resource: { $case: "discreteResourceSpec", value: { kind, value: left } } });
    return out;
  }
}
