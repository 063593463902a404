// The global orchestrator (SwarmKit's orchestrator/global), leader only: one
// task of every global service on each eligible node. Eligible: not DOWN,
// not drained, and satisfying the service's placement constraints; a paused
// node keeps what it runs but gets nothing new. Tasks carry their node from
// creation (slot 0); the scheduler only confirms them. A node that joins gets
// its tasks, a drained, DOWN or removed node loses them, a failed task is
// restarted on its node by the restart supervisor, and a spec change goes to
// the rolling updater with one slot per node.
import { NodeSpec_Availability, NodeStatus_State, TaskState, type Cluster, type Node, type Service, type Task } from "../../../shared/api/index.js";
import { getLogger } from "../../../shared/logging.js";
import { nodeMatches, parseConstraints, type Constraint } from "../scheduler/index.js";
import type { ChangeEvent, MemoryStore, Proposer, ReadTx, Tx } from "../store/index.js";
import { tryUpdate, writeInBatches } from "./batch-writer.js";
import { isTaskDirty } from "../../../shared/task-dirty.js";
import { setServiceTasksRemove } from "./replicated.js";
import type { RestartSupervisor } from "./restart-supervisor.js";
import { DEFAULT_CLUSTER_NAME } from "../store/index.js";
import { isGlobalService, isTerminated, newTask, restartPolicyOf, withDesiredState } from "./task.js";
import { UpdateSupervisor, type Slot } from "./updater.js";
import { ServiceOrchestrator, type OrchestratorOptions } from "./service-orchestrator.js";

const log = getLogger("orchestrator/global");

export type GlobalOrchestratorOptions = OrchestratorOptions;

interface GlobalService {
  service: Service;
  /** Parsed placement constraints; undefined when they do not parse (matches no node). */
  constraints: Constraint[] | undefined;
}

export class GlobalOrchestrator extends ServiceOrchestrator {
  readonly name = "global-orchestrator";
  private cluster: Cluster | undefined;
  /** Nodes that may hold tasks: not DOWN and not drained (paused ones included). */
  private readonly nodes = new Map<string, Node>();
  private readonly services = new Map<string, GlobalService>();
  private readonly dirtyServices = new Set<string>();
  private readonly dirtyNodes = new Set<string>();
  private readonly removedNodes = new Set<string>();
  private readonly deletedServices = new Set<string>();
  private readonly restartCandidates = new Set<string>();

  constructor(store: MemoryStore, proposer: Proposer, restarts: RestartSupervisor, opts: GlobalOrchestratorOptions = {}) {
    super(store, proposer, restarts, opts, log);
  }

  // ---- state from the store

  protected init(tx: ReadTx): void {
    this.nodes.clear();
    this.services.clear();
    this.dirtyServices.clear();
    this.dirtyNodes.clear();
    this.removedNodes.clear();
    this.restartCandidates.clear();
    this.cluster = tx.byName("cluster", DEFAULT_CLUSTER_NAME);
    for (const n of tx.find("node")) this.trackNode(n);
    for (const s of tx.find("service")) {
      if (!isGlobalService(s)) continue;
      this.trackService(s);
      this.dirtyServices.add(s.id);
    }
    this.checkTasks(tx);
  }

  /**
   * What a previous leader left: failed tasks are restarted (tasks on lost
   * nodes are shut down by the service reconciliation), replacements waiting
   * for their start get the rest of their delay.
   */
  private checkTasks(tx: ReadTx): void {
    const nowMs = this.now().getTime();
    for (const id of this.services.keys()) {
      for (const t of tx.tasksByService(id)) {
        if (t.desiredState > TaskState.RUNNING) continue;
        if (isTerminated(t)) {
          this.restartCandidates.add(t.id);
        } else if (t.desiredState === TaskState.READY && !this.restarts.isDelayed(t.id)) {
          const created = t.meta?.createdAt?.getTime() ?? nowMs;
          void this.restarts.delayStart(tx, undefined, t.id, restartPolicyOf(t).delayMs - (nowMs - created), false);
        }
      }
    }
  }

  private trackNode(n: Node): void {
    if (n.spec?.availability === NodeSpec_Availability.DRAIN || n.status?.state === NodeStatus_State.DOWN) this.nodes.delete(n.id);
    else this.nodes.set(n.id, n);
  }

  private trackService(s: Service): void {
    let constraints: Constraint[] | undefined;
    try {
      constraints = parseConstraints(s.spec?.task?.placement?.constraints ?? []);
    } catch {
      constraints = undefined;
    }
    this.services.set(s.id, { service: s, constraints });
  }

  protected onEvent(ev: ChangeEvent): void {
    switch (ev.kind) {
      case "cluster":
        if (ev.object.spec?.annotations?.name === DEFAULT_CLUSTER_NAME) this.cluster = ev.action === "remove" ? undefined : ev.object;
        return;
      case "service": {
        const s = ev.object;
        if (!isGlobalService(s)) return;
        if (ev.action === "remove") {
          this.services.delete(s.id);
          this.dirtyServices.delete(s.id);
          this.deletedServices.add(s.id);
          this.restarts.clearServiceHistory(s.id);
        } else {
          this.trackService(s);
          this.dirtyServices.add(s.id);
        }
        return;
      }
      case "node": {
        const n = ev.object;
        if (ev.action === "remove") {
          this.nodes.delete(n.id);
          this.dirtyNodes.delete(n.id);
          this.removedNodes.add(n.id);
          return;
        }
        this.trackNode(n);
        if (ev.action === "create" || nodeChanged(ev.oldObject, n)) this.dirtyNodes.add(n.id);
        return;
      }
      case "task": {
        const t = ev.object;
        if (ev.action === "remove" || !this.services.has(t.serviceId)) return;
        if (t.desiredState <= TaskState.RUNNING && isTerminated(t)) this.restartCandidates.add(t.id);
        return;
      }
      default:
        return;
    }
  }

  // ---- acting on what the events marked

  protected async tick(): Promise<void> {
    if (this.deletedServices.size > 0) await this.removeDeletedServiceTasks();
    if (this.removedNodes.size > 0) await this.deleteRemovedNodeTasks();
    if (this.restartCandidates.size > 0) await this.restartTasks();
    if (this.dirtyServices.size > 0) {
      const ids = [...this.dirtyServices];
      this.dirtyServices.clear();
      await this.reconcileServices(ids);
    }
    if (this.dirtyNodes.size > 0) {
      const ids = [...this.dirtyNodes];
      this.dirtyNodes.clear();
      for (const id of ids) await this.reconcileNode(id);
    }
  }

  private async removeDeletedServiceTasks(): Promise<void> {
    const ids = [...this.deletedServices];
    this.deletedServices.clear();
    for (const id of ids) this.updater.cancel(id);
    await setServiceTasksRemove(this.store, this.proposer, ids);
  }

  /** A removed node's global tasks go with it (as SwarmKit: deleted). */
  private async deleteRemovedNodeTasks(): Promise<void> {
    const nodeIds = [...this.removedNodes];
    this.removedNodes.clear();
    const ids = this.store.view((tx) =>
      nodeIds.flatMap((n) => tx.tasksByNode(n).filter((t) => this.services.has(t.serviceId)).map((t) => t.id)),
    );
    if (ids.length === 0) return;
    await writeInBatches(this.store, this.proposer, log, "deleting a removed node's tasks", async (b) => {
      for (const id of ids) await tryUpdate(b, log, (tx) => void (tx.get("task", id) && tx.delete("task", id)));
    });
  }

  private async restartTasks(): Promise<void> {
    const ids = [...this.restartCandidates];
    this.restartCandidates.clear();
    await writeInBatches(this.store, this.proposer, log, "restarting tasks", async (b) => {
      for (const id of ids) {
        await tryUpdate(b, log, (tx) => {
          const t = tx.get("task", id);
          if (t === undefined || t.desiredState > TaskState.RUNNING || !isTerminated(t)) return;
          const service = tx.get("service", t.serviceId);
          const entry = this.services.get(t.serviceId);
          const node = this.nodes.get(t.nodeId);
          // Tasks on lost nodes are shut down by reconciliation, not restarted.
          if (service === undefined || entry === undefined || node === undefined) return;
          if (node.spec?.availability === NodeSpec_Availability.PAUSE || !this.fits(entry, node)) {
            tx.update("task", withDesiredState(t, TaskState.SHUTDOWN));
            return;
          }
          this.restarts.restart(tx, service, t);
        });
      }
    });
  }

  private fits(entry: GlobalService, node: Node): boolean {
    return entry.constraints !== undefined && nodeMatches(entry.constraints, node);
  }

  /** Every eligible node runs one task of each service; others run none. */
  private async reconcileServices(serviceIds: string[]): Promise<void> {
    const byService = this.store.view((tx) => {
      const out = new Map<string, Map<string, Task[]>>();
      for (const id of serviceIds) {
        if (!this.services.has(id)) continue;
        out.set(id, runnableByNode(tx.tasksByService(id)));
      }
      return out;
    });
    const updates: Array<[Service, Slot[]]> = [];
    await writeInBatches(this.store, this.proposer, log, "reconciling global services", async (b) => {
      updates.length = 0;
      for (const [serviceId, byNode] of byService) {
        const entry = this.services.get(serviceId);
        if (entry === undefined) continue;
        const slots: Slot[] = [];
        const seen = new Set<string>();
        for (const [nodeId, node] of this.nodes) {
          const tasks = byNode.get(nodeId) ?? [];
          seen.add(nodeId);
          if (!this.fits(entry, node)) {
            await this.shutdown(b, tasks);
            continue;
          }
          // A paused node gets no new or updated tasks.
          if (node.spec?.availability === NodeSpec_Availability.PAUSE) continue;
          if (tasks.length === 0) await this.addTask(b, entry.service, nodeId);
          else slots.push(tasks);
        }
        // Drained, DOWN or removed nodes.
        for (const [nodeId, tasks] of byNode) if (!seen.has(nodeId)) await this.shutdown(b, tasks);
        updates.push([entry.service, slots]);
      }
    });
    for (const [service, slots] of updates) this.updater.update(service, slots);
  }

  /** One node changed: shut its tasks down if it can no longer hold them, else give it what it lacks. */
  private async reconcileNode(nodeId: string): Promise<void> {
    const current = this.store.get("node", nodeId);
    if (current === undefined) return;
    const tasks = this.store.view((tx) => tx.tasksByNode(nodeId).filter((t) => this.services.has(t.serviceId) && t.desiredState <= TaskState.RUNNING));
    const node = this.nodes.get(nodeId);
    await writeInBatches(this.store, this.proposer, log, "reconciling a node", async (b) => {
      if (node === undefined) {
        log.debug({ node: nodeId }, "node drained or down; shutting down its global tasks");
        await this.shutdown(b, tasks);
        return;
      }
      if (node.spec?.availability === NodeSpec_Availability.PAUSE) return;
      for (const [serviceId, entry] of this.services) {
        const mine = tasks.filter((t) => t.serviceId === serviceId);
        if (!this.fits(entry, node)) {
          await this.shutdown(b, mine);
          continue;
        }
        if (mine.length === 0) {
          await this.addTask(b, entry.service, nodeId);
          continue;
        }
        // A rolling update in progress brings this node's tasks along itself.
        if (this.updater.isUpdating(serviceId)) continue;
        // Out of date (say, the node was paused during an update): replace at once.
        const clean = mine.filter((t) => !isTaskDirty(entry.service, t, node));
        if (clean.length === 0) await this.addTask(b, entry.service, nodeId);
        const extra = [...mine.filter((t) => !clean.includes(t)), ...clean.slice(1)];
        await this.shutdown(b, extra);
      }
    });
  }

  private async addTask(b: Parameters<typeof tryUpdate>[0], service: Service, nodeId: string): Promise<void> {
    await tryUpdate(b, log, (tx) => {
      if (tx.get("service", service.id) === undefined) return;
      // Another pass may have given this node its task already.
      if (tx.tasksByNode(nodeId).some((t) => t.serviceId === service.id && t.desiredState <= TaskState.RUNNING)) return;
      tx.create("task", newTask(service, 0, nodeId, this.now()));
    });
  }

  private async shutdown(b: Parameters<typeof tryUpdate>[0], tasks: readonly Task[]): Promise<void> {
    for (const t of tasks) await tryUpdate(b, log, (tx) => shutdownTask(tx, t.id));
  }
}

function shutdownTask(tx: Tx, id: string): void {
  const t = tx.get("task", id);
  if (t === undefined || t.desiredState >= TaskState.SHUTDOWN) return;
  tx.update("task", withDesiredState(t, TaskState.SHUTDOWN));
}

/** A service's tasks still desired to run, by node. */
function runnableByNode(tasks: readonly Task[]): Map<string, Task[]> {
  const out = new Map<string, Task[]>();
  for (const t of tasks) {
    if (t.desiredState > TaskState.RUNNING) continue;
    const list = out.get(t.nodeId);
    if (list) list.push(t);
    else out.set(t.nodeId, [t]);
  }
  return out;
}

/** Whether a node update can change what it may run (not every heartbeat-driven write does). */
function nodeChanged(before: Node | undefined, after: Node): boolean {
  if (before === undefined) return true;
  if (before.status?.state !== after.status?.state) return true;
  if (before.spec?.availability !== after.spec?.availability) return true;
  if (before.role !== after.role) return true;
  return JSON.stringify(before.spec?.annotations ?? null) !== JSON.stringify(after.spec?.annotations ?? null) ||
    JSON.stringify(before.description ?? null) !== JSON.stringify(after.description ?? null);
}
