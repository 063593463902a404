// The scheduler: see docs/orchestration.md.
export { Scheduler, ASSIGNED_MESSAGE, PREASSIGNED_MESSAGE, SCHEDULER_DEBOUNCE_MS, SCHEDULER_MAX_LATENCY_MS } from "./scheduler.js";
export type { SchedulerOptions, TickStats } from "./scheduler.js";
export { parseConstraints, nodeMatches, type Constraint } from "../../../shared/constraints.js";
export { TaskFilter, FailureTally, type FilterReason } from "./filters.js";
export { NodeInfo } from "./node-info.js";
