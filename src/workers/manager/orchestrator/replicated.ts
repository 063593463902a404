// The replicated orchestrator (SwarmKit's orchestrator/replicated), leader
// only: keeps `replicas` tasks of every replicated service in slots 1..N.
// Service changes mark the service for reconciliation; a task that stopped
// or whose node went down or was drained goes to the restart supervisor,
// which replaces it in its slot; a removed service's tasks are all given
// desired state REMOVE (the task reaper deletes them once they stopped).
// Work is marked by events and done once per committed transaction, tasks
// first, then services, as SwarmKit's tickTasks/tickServices.
import { TaskState, type Cluster, type Node, type Service, type Task } from "../../../shared/api/index.js";
import { getLogger } from "../../../shared/logging.js";
import { DEFAULT_CLUSTER_NAME, type Batch, type ChangeEvent, type MemoryStore, type Proposer, type ReadTx, type Tx } from "../store/index.js";
import { tryUpdate, writeInBatches } from "./batch-writer.js";
import type { RestartSupervisor } from "./restart-supervisor.js";
import { UpdateSupervisor, type Slot } from "./updater.js";
import {
  isInvalidNode,
  isReplicatedService,
  isTerminated,
  newTask,
  replicasOf,
  restartPolicyOf,
  stateOf,
  withDesiredState,
} from "./task.js";
import { ServiceOrchestrator, type OrchestratorOptions } from "./service-orchestrator.js";

const log = getLogger("orchestrator/replicated");

export class ReplicatedOrchestrator extends ServiceOrchestrator {
  readonly name = "replicated-orchestrator";
  private cluster: Cluster | undefined;
  /** Replicated services by ID, as last seen. */
  private readonly services = new Map<string, Service>();
  private readonly dirtyServices = new Set<string>();
  private readonly deletedServices = new Map<string, Service>();
  private readonly restartCandidates = new Set<string>();

  constructor(store: MemoryStore, proposer: Proposer, restarts: RestartSupervisor, opts: OrchestratorOptions = {}) {
    super(store, proposer, restarts, opts, log);
  }

  // ---- state from the store

  protected init(tx: ReadTx): void {
    this.services.clear();
    this.dirtyServices.clear();
    this.restartCandidates.clear();
    this.cluster = tx.byName("cluster", DEFAULT_CLUSTER_NAME);
    for (const s of tx.find("service")) {
      if (!isReplicatedService(s)) continue;
      this.services.set(s.id, s);
      this.dirtyServices.add(s.id);
    }
    this.checkTasks(tx);
  }

  /**
   * What a previous leader left (SwarmKit's taskinit.CheckTasks): stopped
   * tasks or tasks on lost nodes still desired running are restarted;
   * replacements still waiting for their start (desired READY) get the rest
   * of their delay.
   */
  private checkTasks(tx: ReadTx): void {
    const nowMs = this.now().getTime();
    for (const id of this.services.keys()) {
      for (const t of tx.tasksByService(id)) {
        if (t.desiredState > TaskState.RUNNING) continue;
        if (this.needsRestart(t, tx.get("node", t.nodeId))) {
          this.restartCandidates.add(t.id);
        } else if (t.desiredState === TaskState.READY && !this.restarts.isDelayed(t.id)) {
          const created = t.meta?.createdAt?.getTime() ?? nowMs;
          const left = restartPolicyOf(t).delayMs - (nowMs - created);
          this.restarts.delayStart(tx, undefined, t.id, left, false);
        }
      }
    }
  }

  private needsRestart(t: Task, node: Node | undefined): boolean {
    if (t.desiredState > TaskState.RUNNING) return false;
    if (isTerminated(t)) return true;
    return t.nodeId !== "" && isInvalidNode(node);
  }

  protected onEvent(ev: ChangeEvent): void {
    switch (ev.kind) {
      case "cluster":
        if (ev.object.spec?.annotations?.name === DEFAULT_CLUSTER_NAME) this.cluster = ev.action === "remove" ? undefined : ev.object;
        return;
      case "service": {
        const s = ev.object;
        if (!isReplicatedService(s)) return;
        if (ev.action === "remove") {
          this.services.delete(s.id);
          this.dirtyServices.delete(s.id);
          this.deletedServices.set(s.id, s);
          this.restarts.clearServiceHistory(s.id);
        } else {
          this.services.set(s.id, s);
          this.dirtyServices.add(s.id);
        }
        return;
      }
      case "task": {
        const t = ev.object;
        if (!this.services.has(t.serviceId)) return;
        if (ev.action === "remove") {
          // A slot may have lost its only runnable task.
          if (t.desiredState <= TaskState.RUNNING) this.dirtyServices.add(t.serviceId);
          return;
        }
        if (t.desiredState > TaskState.RUNNING) return;
        if (isTerminated(t) || (t.nodeId !== "" && ev.oldObject?.nodeId !== t.nodeId)) this.restartCandidates.add(t.id);
        return;
      }
      case "node": {
        const n = ev.object;
        if (ev.action !== "remove" && !isInvalidNode(n)) return;
        if (ev.action === "update" && ev.oldObject !== undefined && isInvalidNode(ev.oldObject)) return;
        for (const t of this.store.view((tx) => tx.tasksByNode(n.id))) {
          if (t.desiredState <= TaskState.RUNNING && this.services.has(t.serviceId)) this.restartCandidates.add(t.id);
        }
        return;
      }
      default:
        return;
    }
  }

  // ---- acting on what the events marked

  protected async tick(): Promise<void> {
    if (this.deletedServices.size > 0) await this.removeDeletedServiceTasks();
    if (this.restartCandidates.size > 0) await this.restartTasks();
    if (this.dirtyServices.size > 0) await this.reconcileServices();
  }

  private async removeDeletedServiceTasks(): Promise<void> {
    const ids = [...this.deletedServices.keys()];
    this.deletedServices.clear();
    for (const id of ids) this.updater.cancel(id);
    await setServiceTasksRemove(this.store, this.proposer, ids);
  }

  private async restartTasks(): Promise<void> {
    const ids = [...this.restartCandidates];
    this.restartCandidates.clear();
    await writeInBatches(this.store, this.proposer, log, "restarting tasks", async (b) => {
      for (const id of ids) {
        await tryUpdate(b, log, (tx) => {
          const t = tx.get("task", id);
          if (t === undefined) return;
          const service = tx.get("service", t.serviceId);
          if (!isReplicatedService(service)) return;
          if (!this.needsRestart(t, tx.get("node", t.nodeId))) return;
          this.restarts.restart(tx, service!, t);
        });
      }
    });
  }

  private async reconcileServices(): Promise<void> {
    const ids = [...this.dirtyServices];
    this.dirtyServices.clear();
    await writeInBatches(this.store, this.proposer, log, "reconciling services", async (b) => {
      for (const id of ids) await this.reconcile(b, id);
    });
  }

  /** Bring one service's runnable slots to its replica count. */
  private async reconcile(b: Batch, serviceId: string): Promise<void> {
    const plan = this.store.view((tx) => planReconcile(tx, serviceId));
    if (plan === undefined) return;
    const { service, freeSlots, removeTaskIds, keptSlots } = plan;
    for (const slot of freeSlots) {
      await tryUpdate(b, log, (tx) => tx.create("task", newTask(service, slot, "", this.now())));
    }
    for (const id of removeTaskIds) await tryUpdate(b, log, (tx) => markRemove(tx, id));
    if (freeSlots.length > 0 || removeTaskIds.length > 0) {
      log.debug({ service: serviceId, created: freeSlots.length, removed: removeTaskIds.length }, "service reconciled");
    }
    // Slots that stay get the service's current spec, as a rolling update.
    this.updater.update(service, keptSlots);
  }
}

interface ReconcilePlan {
  service: Service;
  /** Slot numbers to create a task in. */
  freeSlots: number[];
  /** Tasks to give desired state REMOVE. */
  removeTaskIds: string[];
  /** Runnable slots that stay (the updater brings them to the current spec). */
  keptSlots: Slot[];
}

/** What reconcile would write for a service, from one consistent view. */
export function planReconcile(tx: ReadTx, serviceId: string): ReconcilePlan | undefined {
  const service = tx.get("service", serviceId);
  if (!isReplicatedService(service)) return undefined;
  const wanted = replicasOf(service!);
  const runnable = new Map<number, Task[]>();
  const all = tx.tasksByService(serviceId);
  for (const t of all) {
    if (t.desiredState > TaskState.RUNNING) continue;
    const slot = runnable.get(t.slot);
    if (slot) slot.push(t);
    else runnable.set(t.slot, [t]);
  }
  const freeSlots: number[] = [];
  const removeTaskIds: string[] = [];
  let keptSlots: Slot[] = [...runnable.values()];

  if (wanted > runnable.size) {
    for (let slot = 1; freeSlots.length < wanted - runnable.size; slot++) {
      if (!runnable.has(slot)) freeSlots.push(slot);
    }
  } else if (wanted < runnable.size) {
    const removed = slotsToRemove(runnable, wanted);
    for (const slot of removed) for (const t of slot) removeTaskIds.push(t.id);
    const gone = new Set(removed);
    keptSlots = keptSlots.filter((s) => !gone.has(s as Task[]));
  }
  // Dead slots beyond the replica count will never be reused: let the reaper have them.
  for (const t of all) {
    if (t.desiredState < TaskState.REMOVE && t.desiredState > TaskState.RUNNING && t.slot > wanted && !runnable.has(t.slot)) {
      removeTaskIds.push(t.id);
    }
  }
  return { service: service!, freeSlots, removeTaskIds, keptSlots };
}

/**
 * Scale-down choice, as SwarmKit: prefer keeping running tasks, and remove
 * from the nodes holding the most copies of the service; unassigned slots go
 * first. Among equals the highest slot numbers go.
 */
function slotsToRemove(runnable: Map<number, Task[]>, keep: number): Task[][] {
  const slots = [...runnable.entries()].sort((a, b) => a[0] - b[0]).map(([, tasks]) => tasks);
  const isRunning = (s: Task[]): boolean => s.some((t) => stateOf(t) === TaskState.RUNNING);
  slots.sort((a, b) => Number(isRunning(b)) - Number(isRunning(a)));
  const perNode = new Map<string, number>();
  const indexed = slots.map((s) => {
    if (s.length !== 1 || s[0]!.nodeId === "") return { s, index: Infinity };
    const n = (perNode.get(s[0]!.nodeId) ?? 0) + 1;
    perNode.set(s[0]!.nodeId, n);
    return { s, index: n };
  });
  indexed.sort((a, b) => a.index - b.index);
  return indexed.slice(keep).map((x) => x.s);
}

function markRemove(tx: Tx, id: string): void {
  const t = tx.get("task", id);
  if (t === undefined || t.desiredState >= TaskState.REMOVE) return;
  tx.update("task", withDesiredState(t, TaskState.REMOVE));
}

/** Every task of these (removed) services gets desired state REMOVE (SwarmKit's SetServiceTasksRemove). */
export async function setServiceTasksRemove(store: MemoryStore, proposer: Proposer, serviceIds: readonly string[]): Promise<void> {
  const ids = store.view((tx) =>
    serviceIds.flatMap((s) => tx.tasksByService(s).filter((t) => t.desiredState < TaskState.REMOVE).map((t) => t.id)),
  );
  if (ids.length === 0) return;
  await writeInBatches(store, proposer, log, "removing a service's tasks", async (b) => {
    for (const id of ids) await tryUpdate(b, log, (tx) => markRemove(tx, id));
  });
}
