// The scheduler's cache of one node: the tasks placed on it that still hold
// resources (ASSIGNED..RUNNING), how many of them each service has (only
// tasks still desired running count, as SwarmKit's ActiveTasksCount), and the
// CPU and memory left after their reservations.
import { TaskState, type Node, type Task } from "../../../shared/api/index.js";

export class NodeInfo {
  readonly tasks = new Map<string, Task>();
  readonly activeByService = new Map<string, number>();
  activeTotal = 0;
  availableCpu = 0;
  availableMemory = 0;

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

  private resetResources(): void {
    const r = this.node.description?.resources;
    this.availableCpu = r?.nanoCpus ?? 0;
    this.availableMemory = r?.memoryBytes ?? 0;
  }

  private account(t: Task, sign: 1 | -1): void {
    this.reserve(t, sign === 1 ? -1 : 1);
    if (t.desiredState > TaskState.RUNNING) return;
    this.activeTotal += sign;
    const n = (this.activeByService.get(t.serviceId) ?? 0) + sign;
    if (n === 0) this.activeByService.delete(t.serviceId);
    else this.activeByService.set(t.serviceId, n);
  }

  private reserve(t: Task, sign: 1 | -1): void {
    const r = t.spec?.resources?.reservations;
    if (r === undefined) return;
    this.availableCpu += sign * r.nanoCpus;
    this.availableMemory += sign * r.memoryBytes;
  }
}
