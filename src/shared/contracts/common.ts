// Shapes shared by the thread contracts. Everything crossing a port is
// structured-cloned: plain data only, no class instances, no functions.
import type { NodeRole } from "../role-flag.js";

export type { NodeRole };

/** Answer to ping(): which thread answered, and when (epoch ms). */
export interface Pong {
  thread: string;
  at: number;
}

/** What a worker thread is doing, as reported by status(). */
export type LifecycleState = "starting" | "running" | "stopping" | "stopped";
