// Orchestration: the leader-only components that turn services into tasks
// and keep them placed. See docs/orchestration.md.
import type { MemoryStore, Proposer } from "../store/index.js";
import { Scheduler, type SchedulerOptions } from "../scheduler/index.js";
import { TaskAllocator } from "./allocator.js";
import { GlobalOrchestrator } from "./global.js";
import { ReplicatedOrchestrator } from "./replicated.js";
import { RestartSupervisor, type RestartSupervisorOptions } from "./restart-supervisor.js";
import { TaskReaper, type TaskReaperOptions } from "./task-reaper.js";

export { TaskAllocator, PENDING_MESSAGE } from "./allocator.js";
export { ReplicatedOrchestrator, planReconcile, setServiceTasksRemove } from "./replicated.js";
export { GlobalOrchestrator, type GlobalOrchestratorOptions } from "./global.js";
export {
  UpdateSupervisor,
  Updater,
  effectiveUpdateConfig,
  DEFAULT_UPDATE_MONITOR_MS,
  UPDATE_MESSAGES,
  type EffectiveUpdateConfig,
  type Slot,
} from "./updater.js";
export { isTaskDirty } from "../../../shared/task-dirty.js";
export { RestartSupervisor, OLD_TASK_TIMEOUT_MS, type RestartSupervisorOptions } from "./restart-supervisor.js";
export { TaskReaper, REAPER_BATCHING_INTERVAL_MS, type TaskReaperOptions } from "./task-reaper.js";
export { WatchLoop, type WatchLoopHandlers, type WatchLoopOptions } from "./watch-loop.js";
export * from "./task.js";

/** What the manager assembly needs of a leader-only component. */
export interface LeaderOnly {
  readonly name: string;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

export interface OrchestrationOptions {
  restart?: RestartSupervisorOptions;
  reaper?: TaskReaperOptions;
  scheduler?: SchedulerOptions;
  now?: () => Date;
}

/**
 * Every orchestration component, in start order (the restart supervisor
 * before the orchestrators that use it; stop in reverse).
 */
export function createOrchestration(store: MemoryStore, proposer: Proposer, opts: OrchestrationOptions = {}): LeaderOnly[] {
  const now = opts.now;
  const restarts = new RestartSupervisor(store, proposer, { ...(now ? { now } : {}), ...opts.restart });
  return [
    restarts,
    new TaskAllocator(store, proposer, now),
    new ReplicatedOrchestrator(store, proposer, restarts, now ? { now } : {}),
    new GlobalOrchestrator(store, proposer, restarts, now ? { now } : {}),
    new TaskReaper(store, proposer, opts.reaper),
    new Scheduler(store, proposer, { ...(now ? { now } : {}), ...opts.scheduler }),
  ];
}
