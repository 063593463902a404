// Task states with SwarmKit's numeric values (api/types.proto TaskState).
// The numbers order the states: a task only ever moves to a larger one.
// Kept here as plain numbers so the executor does not depend on generated code;
// they equal the protobuf enum values, so the agent can pass them straight on.

export const TaskState = {
  NEW: 0,
  PENDING: 64,
  ASSIGNED: 192,
  ACCEPTED: 256,
  PREPARING: 320,
  READY: 384,
  STARTING: 448,
  RUNNING: 512,
  COMPLETE: 576,
  SHUTDOWN: 640,
  FAILED: 704,
  REJECTED: 768,
  REMOVE: 800,
  ORPHANED: 832,
} as const;

export type TaskStateName = keyof typeof TaskState;
export type TaskStateValue = (typeof TaskState)[TaskStateName];

const names = new Map<number, TaskStateName>(
  (Object.entries(TaskState) as Array<[TaskStateName, number]>).map(([k, v]) => [v, k]),
);

export function taskStateName(state: number): string {
  return names.get(state) ?? `UNKNOWN(${state})`;
}

export function isTerminalState(state: number): boolean {
  return state >= TaskState.COMPLETE;
}
