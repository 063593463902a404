// Whether a node can take a task, and why not (SwarmKit's filter pipeline).
// Static checks (readiness, constraints, platform) are evaluated once per
// group of identical tasks; dynamic ones (reservations, max replicas per
// node) again for every placement, since each placement changes them.
// Explain() turns the failure counts into SwarmKit's "no suitable node (…)".
import { NodeSpec_Availability, NodeStatus_State, type Platform, type TaskSpec } from "../../../shared/api/index.js";
import { nodeMatches, parseConstraints, type Constraint } from "../../../shared/constraints.js";
import type { NodeInfo } from "./node-info.js";

export type FilterReason = "notReady" | "memory" | "cpu" | "generic" | "hostPorts" | "constraints" | "platform" | "maxReplicas";

/** Pluralised explanation for `n` nodes failing for `reason`. */
function describe(reason: FilterReason, n: number): string {
  const nodes = n === 1 ? "1 node" : `${n} nodes`;
  switch (reason) {
    case "notReady":
      return `${nodes} not available for new tasks`;
    case "memory":
      return `insufficient memory on ${nodes}`;
    case "cpu":
      return `insufficient CPU on ${nodes}`;
    case "generic":
      return `insufficient generic resources on ${nodes}`;
    case "hostPorts":
      return `host-mode port already in use on ${nodes}`;
    case "constraints":
      return `scheduling constraints not satisfied on ${nodes}`;
    case "platform":
      return `unsupported platform on ${nodes}`;
    case "maxReplicas":
      return `max replicas per node limit exceeded on ${nodes}`;
  }
}

export class TaskFilter {
  private readonly constraints: Constraint[];
  private readonly platforms: readonly Platform[];
  readonly cpu: number;
  readonly memory: number;
  readonly maxReplicas: number;
  /** Generic resource units wanted per kind (reservations). */
  readonly generic: ReadonlyMap<string, number>;
  /** Published host-mode ports ("tcp/8080") the task needs free on its node. */
  readonly hostPorts: readonly string[];
  /** Set when the spec's constraints cannot be parsed: nothing matches. */
  readonly invalidConstraint: string | undefined;

  constructor(
    readonly serviceId: string,
    spec: TaskSpec | undefined,
    hostPorts: readonly string[] = [],
  ) {
    const placement = spec?.placement;
    let constraints: Constraint[] = [];
    let invalid: string | undefined;
    try {
      constraints = parseConstraints(placement?.constraints ?? []);
    } catch (err) {
      invalid = (err as Error).message;
    }
    this.constraints = constraints;
    this.invalidConstraint = invalid;
    this.platforms = placement?.platforms ?? [];
    this.maxReplicas = placement?.maxReplicas ?? 0;
    const r = spec?.resources?.reservations;
    this.cpu = r?.nanoCpus ?? 0;
    this.memory = r?.memoryBytes ?? 0;
    const generic = new Map<string, number>();
    for (const g of r?.generic ?? []) {
      const res = g.resource;
      if (res?.$case === "discreteResourceSpec") generic.set(res.value.kind, (generic.get(res.value.kind) ?? 0) + res.value.value);
      else if (res?.$case === "namedResourceSpec") generic.set(res.value.kind, (generic.get(res.value.kind) ?? 0) + 1);
    }
    this.generic = generic;
    this.hostPorts = hostPorts;
  }

  /** Checks that do not change as tasks are placed; undefined when the node passes. */
  staticCheck(info: NodeInfo): FilterReason | undefined {
    const n = info.node;
    if (n.status?.state !== NodeStatus_State.READY || (n.spec?.availability ?? NodeSpec_Availability.ACTIVE) !== NodeSpec_Availability.ACTIVE) {
      return "notReady";
    }
    if (this.invalidConstraint !== undefined) return "constraints";
    if (this.constraints.length > 0 && !nodeMatches(this.constraints, n)) return "constraints";
    if (this.platforms.length > 0 && !platformMatches(this.platforms, n.description?.platform)) return "platform";
    return undefined;
  }

  /** Checks that depend on what is already on the node. */
  dynamicCheck(info: NodeInfo): FilterReason | undefined {
    if (this.memory > 0 && info.availableMemory < this.memory) return "memory";
    if (this.cpu > 0 && info.availableCpu < this.cpu) return "cpu";
    for (const [kind, n] of this.generic) if (info.genericAvailable(kind) < n) return "generic";
    for (const p of this.hostPorts) if (info.portInUse(p)) return "hostPorts";
    if (this.maxReplicas > 0 && info.serviceCount(this.serviceId) >= this.maxReplicas) return "maxReplicas";
    return undefined;
  }

  check(info: NodeInfo): FilterReason | undefined {
    return this.staticCheck(info) ?? this.dynamicCheck(info);
  }
}

/** Failure counts per reason, for one task. */
export class FailureTally {
  private readonly counts = new Map<FilterReason, number>();
  nodes = 0;

  add(reason: FilterReason): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  }

  /** "no suitable node (insufficient memory on 3 nodes; 2 nodes not available for new tasks)". */
  explain(): string {
    if (this.nodes === 0) return "no suitable node (no nodes in the cluster)";
    const parts = [...this.counts.entries()].sort((a, b) => b[1] - a[1]).map(([r, n]) => describe(r, n));
    return parts.length === 0 ? "no suitable node" : `no suitable node (${parts.join("; ")})`;
  }
}

const ARCH_ALIASES: Record<string, string> = { x86_64: "amd64", aarch64: "arm64" };

function normArch(a: string): string {
  const l = a.toLowerCase();
  return ARCH_ALIASES[l] ?? l;
}

function platformMatches(wanted: readonly Platform[], have: Platform | undefined): boolean {
  for (const p of wanted) {
    const archOk = p.architecture === "" || normArch(p.architecture) === normArch(have?.architecture ?? "");
    const osOk = p.os === "" || p.os.toLowerCase() === (have?.os ?? "").toLowerCase();
    if (archOk && osOk) return true;
  }
  return false;
}
