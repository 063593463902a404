// Rolling updates and rollback (SwarmKit's orchestrator/update). The
// orchestrators hand the updater a service and its slots (the runnable tasks
// of a slot, or of a node for global services) on every reconciliation; an
// Updater replaces the slots whose tasks are dirty, `parallelism` at a time,
// stop-first or start-first, waits `delay` between slots, counts tasks of
// this update that fail within `monitor` of starting, and past
// `maxFailureRatio` pauses the update or rolls the service back to its
// previous spec. Progress is recorded in service.updateStatus with SwarmKit's
// states and messages. One Updater per service: a spec change cancels the
// running one and starts over with the new spec.
import {
  TaskState,
  UpdateConfig_FailureAction,
  UpdateConfig_UpdateOrder,
  UpdateStatus_UpdateState,
  durationToMillis,
  type Service,
  type Task,
  type UpdateConfig,
  type UpdateStatus,
} from "../../../shared/api/index.js";
import { errorMessage } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import type { MemoryStore, Proposer, ReadTx, Tx } from "../store/index.js";
import { isTaskDirty, sameServiceSpec } from "../../../shared/task-dirty.js";
import type { RestartSupervisor } from "./restart-supervisor.js";
import { updateWithRetry } from "./retry.js";
import { ServiceTaskFeed } from "./task-feed.js";
import { isGlobalService, newTask, stateOf, withDesiredState } from "./task.js";

const log = getLogger("orchestrator/update");

/** A slot: the runnable tasks of one replica slot, or of one node (global). */
export type Slot = readonly Task[];

/** UpdateConfig with SwarmKit's defaults (api/defaults) for what is unset, times in ms. */
export interface EffectiveUpdateConfig {
  parallelism: number;
  delayMs: number;
  failureAction: UpdateConfig_FailureAction;
  monitorMs: number;
  maxFailureRatio: number;
  order: UpdateConfig_UpdateOrder;
}

/** SwarmKit's default monitor period for updates and rollbacks. */
export const DEFAULT_UPDATE_MONITOR_MS = 5000;

export function effectiveUpdateConfig(c: UpdateConfig | undefined): EffectiveUpdateConfig {
  if (c === undefined) {
    return {
      parallelism: 1,
      delayMs: 0,
      failureAction: UpdateConfig_FailureAction.PAUSE,
      monitorMs: DEFAULT_UPDATE_MONITOR_MS,
      maxFailureRatio: 0,
      order: UpdateConfig_UpdateOrder.STOP_FIRST,
    };
  }
  return {
    parallelism: c.parallelism,
    delayMs: durationToMillis(c.delay, 0),
    failureAction: c.failureAction,
    monitorMs: durationToMillis(c.monitor, DEFAULT_UPDATE_MONITOR_MS),
    maxFailureRatio: c.maxFailureRatio,
    order: c.order,
  };
}

export const UPDATE_MESSAGES = {
  started: "update in progress",
  completed: "update completed",
  rollbackCompleted: "rollback completed",
  paused: (taskId: string) => `update paused due to failure or early termination of task ${taskId}`,
  rollbackPaused: (taskId: string) => `rollback paused due to failure or early termination of task ${taskId}`,
  rolledBack: (taskId: string) => `update rolled back due to failure or early termination of task ${taskId}`,
} as const;

export interface UpdateSupervisorOptions {
  now?: () => Date;
}

/** Keeps at most one Updater per service (SwarmKit's update.Supervisor). */
export class UpdateSupervisor {
  private readonly updates = new Map<string, Updater>();
  private readonly now: () => Date;

  constructor(
    private readonly store: MemoryStore,
    private readonly proposer: Proposer,
    private readonly restarts: RestartSupervisor,
    opts: UpdateSupervisorOptions = {},
  ) {
    this.now = opts.now ?? (() => new Date());
  }

  /**
   * Bring `slots` of `service` to its spec in the background. An update
   * already working towards the same spec goes on; one towards another spec
   * is cancelled first.
   */
  update(service: Service, slots: readonly Slot[]): void {
    const id = service.id;
    const current = this.updates.get(id);
    if (current !== undefined) {
      if (sameServiceSpec(current.service.spec, service.spec)) return;
      current.cancel();
    }
    const u = new Updater(this.store, this.proposer, this.restarts, service, this.now);
    this.updates.set(id, u);
    void u
      .run(slots, current?.done)
      .catch((err) => log.warn({ service: id, err: errorMessage(err) }, "update failed"))
      .finally(() => {
        if (this.updates.get(id) === u) this.updates.delete(id);
      });
  }

  /** Whether an updater is working on the service. */
  isUpdating(serviceId: string): boolean {
    return this.updates.has(serviceId);
  }

  cancel(serviceId: string): void {
    this.updates.get(serviceId)?.cancel();
    this.updates.delete(serviceId);
  }

  async cancelAll(): Promise<void> {
    const all = [...this.updates.values()];
    this.updates.clear();
    for (const u of all) u.cancel();
    await Promise.all(all.map((u) => u.done));
  }
}

/** One update of one service towards one spec. */
export class Updater {
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  /** Settles when the update must stop: cancelled, or a failure action was taken. */
  private readonly halted: Promise<void>;
  private halt!: () => void;
  private stopped = false;
  /** Tasks created by this update → when they reached RUNNING (0: not yet). */
  private readonly updatedTasks = new Map<string, number>();
  private feed: ServiceTaskFeed | undefined;

  constructor(
    private readonly store: MemoryStore,
    private readonly proposer: Proposer,
    private readonly restarts: RestartSupervisor,
    readonly service: Service,
    private readonly now: () => Date,
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
    this.halted = new Promise((r) => (this.halt = r));
  }

  cancel(): void {
    this.stopped = true;
    this.halt();
  }

  async run(slots: readonly Slot[], previous?: Promise<void>): Promise<void> {
    try {
      await previous;
      if (!this.stopped) await this.execute(slots);
    } finally {
      this.feed?.close();
      this.resolveDone();
    }
  }

  private async execute(slots: readonly Slot[]): Promise<void> {
    const service = this.service;
    const status = service.updateStatus?.state;
    // A paused update waits for a new UpdateService (which clears the status).
    if (status === UpdateStatus_UpdateState.PAUSED || status === UpdateStatus_UpdateState.ROLLBACK_PAUSED) return;

    const dirty = slots.filter((s) => this.isSlotDirty(s));
    if (dirty.length === 0) {
      if (status === UpdateStatus_UpdateState.UPDATING || status === UpdateStatus_UpdateState.ROLLBACK_STARTED) await this.complete();
      return;
    }
    const rollingBack = status === UpdateStatus_UpdateState.ROLLBACK_STARTED;
    const cfg = effectiveUpdateConfig(rollingBack ? service.spec?.rollback : service.spec?.update);
    // Watch before the first write so that no task change is missed.
    const feed = new ServiceTaskFeed(this.store, service.id);
    this.feed = feed;
    if (service.updateStatus === undefined) await this.start();
    log.info({ service: service.id, slots: dirty.length, parallelism: cfg.parallelism, rollback: rollingBack }, "rolling update started");

    let actionTaken: Promise<void> | undefined;
    if (cfg.failureAction !== UpdateConfig_FailureAction.CONTINUE) {
      const failed = new Set<string>();
      feed.on((t) => {
        if (this.stopped || stateOf(t) <= TaskState.RUNNING || failed.has(t.id)) return;
        const startedAt = this.updatedTasks.get(t.id);
        if (startedAt === undefined) return;
        if (startedAt !== 0 && this.now().getTime() - startedAt > cfg.monitorMs) return;
        failed.add(t.id);
        if (failed.size / dirty.length <= cfg.maxFailureRatio) return;
        this.stopped = true;
        this.halt();
        actionTaken = this.onFailure(cfg, rollingBack, t.id);
      });
    }

    let next = 0;
    const worker = async (): Promise<void> => {
      while (!this.stopped && next < dirty.length) {
        const slot = dirty[next++]!;
        try {
          await this.updateSlot(slot, cfg.order);
        } catch (err) {
          log.warn({ service: service.id, err: errorMessage(err) }, "slot update failed");
        }
        if (cfg.delayMs > 0 && !this.stopped) await this.sleep(cfg.delayMs);
      }
    };
    const parallelism = cfg.parallelism === 0 ? dirty.length : Math.min(cfg.parallelism, dirty.length);
    await Promise.all(Array.from({ length: parallelism }, worker));

    // Keep watching the new tasks for one more monitoring period.
    if (!this.stopped) await this.sleep(cfg.monitorMs);
    if (actionTaken !== undefined) await actionTaken;
    else if (!this.stopped) await this.complete();
  }

  private isSlotDirty(slot: Slot): boolean {
    return slot.length > 1 || (slot.length === 1 && isTaskDirty(this.service, slot[0]!));
  }

  /**
   * Replace one slot: reuse a task that already has the new spec, else create
   * one. The slot is read again first: a restart may have replaced its task
   * since the orchestrator listed it.
   */
  private async updateSlot(listed: Slot, order: UpdateConfig_UpdateOrder): Promise<void> {
    const first = listed[0]!;
    const key: SlotKey = { serviceId: this.service.id, slot: first.slot, nodeId: first.nodeId, global: isGlobalService(this.service) };
    const slot = this.store.view((tx) => slotTasks(tx, key));
    if (slot.length === 0 || !this.isSlotDirty(slot)) return;
    let running: Task | undefined;
    let clean: Task | undefined;
    for (const t of slot) {
      if (isTaskDirty(this.service, t)) continue;
      if (t.desiredState === TaskState.RUNNING) {
        running = t;
        break;
      }
      if (t.desiredState < TaskState.RUNNING) clean = t;
    }
    const existing = running ?? clean;
    if (existing !== undefined) return this.useExistingTask(slot, existing);

    const fresh: Task = { ...newTask(this.service, key.global ? 0 : key.slot, key.global ? key.nodeId : "", this.now()), desiredState: TaskState.READY };
    this.updatedTasks.set(fresh.id, 0);
    const startFirst = order === UpdateConfig_UpdateOrder.START_FIRST;

    // Create the new task and (stop-first) shut the old ones down atomically.
    let old: Task | undefined;
    const created = await updateWithRetry(this.store, this.proposer, (tx) => {
      if (tx.get("service", this.service.id) === undefined) return false;
      if (tx.get("task", fresh.id) === undefined) tx.create("task", fresh);
      old = startFirst ? undefined : shutdownTasks(tx, slotTasks(tx, key).filter((t) => t.id !== fresh.id));
      return true;
    });
    if (!created || this.stopped) return;

    await Promise.race([this.restarts.delayStart(undefined, old, fresh.id, 0, !startFirst), this.halted]);
    if (this.stopped) return;

    const up = await this.feed!.waitFor(fresh.id, (t) => stateOf(t) >= TaskState.RUNNING, this.halted);
    if (up === undefined) return;
    this.updatedTasks.set(up.id, this.now().getTime());
    if (startFirst && stateOf(up) === TaskState.RUNNING) {
      await updateWithRetry(this.store, this.proposer, (tx) => void shutdownTasks(tx, slotTasks(tx, key).filter((t) => t.id !== up.id)));
    }
  }

  /** The slot already has a task with the new spec: keep it, shut the rest down, make sure it starts. */
  private async useExistingTask(slot: Slot, existing: Task): Promise<void> {
    const others = slot.filter((t) => t.id !== existing.id);
    if (others.length === 0 && existing.desiredState === TaskState.RUNNING) return;
    let old: Task | undefined;
    if (others.length > 0) old = await updateWithRetry(this.store, this.proposer, (tx) => shutdownTasks(tx, others));
    if (existing.desiredState !== TaskState.RUNNING && !this.stopped) {
      await Promise.race([this.restarts.delayStart(undefined, old, existing.id, 0, true), this.halted]);
    }
  }

  private sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([new Promise<void>((r) => (timer = setTimeout(r, ms))), this.halted]).finally(() => clearTimeout(timer));
  }

  // ---- update status

  private async onFailure(cfg: EffectiveUpdateConfig, rollingBack: boolean, taskId: string): Promise<void> {
    if (cfg.failureAction === UpdateConfig_FailureAction.ROLLBACK && !rollingBack) {
      log.info({ service: this.service.id, task: taskId }, "update failed; rolling back");
      return this.rollback(UPDATE_MESSAGES.rolledBack(taskId));
    }
    // Never roll back a rollback: pause it.
    log.info({ service: this.service.id, task: taskId }, "update failed; pausing");
    return this.pause(rollingBack ? UPDATE_MESSAGES.rollbackPaused(taskId) : UPDATE_MESSAGES.paused(taskId));
  }

  private async start(): Promise<void> {
    await this.writeStatus(
      (s) => s.updateStatus === undefined,
      (s) => ({ ...s, updateStatus: status(UpdateStatus_UpdateState.UPDATING, UPDATE_MESSAGES.started, this.now()) }),
    );
  }

  private async pause(message: string): Promise<void> {
    await this.writeStatus(
      (s) => s.updateStatus !== undefined,
      (s) => {
        const st = s.updateStatus!.state === UpdateStatus_UpdateState.ROLLBACK_STARTED ? UpdateStatus_UpdateState.ROLLBACK_PAUSED : UpdateStatus_UpdateState.PAUSED;
        return { ...s, updateStatus: { ...s.updateStatus!, state: st, message } };
      },
    );
  }

  private async rollback(message: string): Promise<void> {
    await this.writeStatus(
      (s) => {
        if (s.updateStatus === undefined) return false;
        if (s.previousSpec !== undefined) return true;
        log.warn({ service: s.id }, "cannot roll back service because no previous spec is available");
        return false;
      },
      (s) => ({
        ...s,
        spec: s.previousSpec,
        specVersion: s.previousSpecVersion,
        previousSpec: undefined,
        previousSpecVersion: undefined,
        updateStatus: { ...s.updateStatus!, state: UpdateStatus_UpdateState.ROLLBACK_STARTED, message },
      }),
    );
  }

  private async complete(): Promise<void> {
    await this.writeStatus(
      (s) => s.updateStatus !== undefined,
      (s) => {
        const rolledBack = s.updateStatus!.state === UpdateStatus_UpdateState.ROLLBACK_STARTED;
        return {
          ...s,
          updateStatus: {
            ...s.updateStatus!,
            state: rolledBack ? UpdateStatus_UpdateState.ROLLBACK_COMPLETED : UpdateStatus_UpdateState.COMPLETED,
            message: rolledBack ? UPDATE_MESSAGES.rollbackCompleted : UPDATE_MESSAGES.completed,
            completedAt: this.now(),
          },
        };
      },
    );
    log.info({ service: this.service.id }, "rolling update completed");
  }

  /**
   * Write the service's update status, only while it still has the spec
   * this update works towards (a new UpdateService clears the status).
   */
  private async writeStatus(applies: (s: Service) => boolean, change: (s: Service) => Service): Promise<void> {
    try {
      await updateWithRetry(this.store, this.proposer, (tx) => {
        const s = tx.get("service", this.service.id);
        if (s === undefined || s.specVersion?.index !== this.service.specVersion?.index || !applies(s)) return;
        tx.update("service", change(s));
      });
    } catch (err) {
      log.warn({ service: this.service.id, err: errorMessage(err) }, "could not record the update status");
    }
  }
}

interface SlotKey {
  serviceId: string;
  slot: number;
  nodeId: string;
  global: boolean;
}

/** The runnable tasks of a slot (replicated) or of the service on a node (global), as stored now. */
function slotTasks(tx: ReadTx, k: SlotKey): Task[] {
  const all = k.global ? tx.tasksByNode(k.nodeId).filter((t) => t.serviceId === k.serviceId && t.slot === 0) : tx.tasksBySlot(k.serviceId, k.slot);
  return all.filter((t) => t.desiredState <= TaskState.RUNNING);
}

function status(state: UpdateStatus_UpdateState, message: string, now: Date): UpdateStatus {
  return { state, message, startedAt: now, completedAt: undefined };
}

/** Shut down the tasks of a slot that still run; returns one of them (for the delayed start). */
function shutdownTasks(tx: Tx, tasks: Slot): Task | undefined {
  let removed: Task | undefined;
  for (const original of tasks) {
    const t = tx.get("task", original.id);
    if (t === undefined || t.desiredState > TaskState.RUNNING) continue;
    tx.update("task", withDesiredState(t, TaskState.SHUTDOWN));
    removed = t;
  }
  return removed;
}
