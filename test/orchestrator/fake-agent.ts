// Plays every agent for orchestrator tests: assigned tasks desired RUNNING
// start after `startMs` (or fail, if `fails(task)`), tasks desired READY get
// prepared, tasks desired SHUTDOWN or REMOVE stop. Polls the store; each
// transition is one write.
import { TaskState, type Task } from "../../src/shared/api/index.js";
import type { Env } from "./helpers.js";

export interface FakeAgentOptions {
  /** Time between a task being told to run and its report of RUNNING. */
  startMs?: number;
  /** Tasks that exit with an error right after starting. */
  fails?: (t: Task) => boolean;
}

export class FakeAgent {
  private timer: NodeJS.Timeout | undefined;
  private readonly startAt = new Map<string, number>();
  private busy = false;

  constructor(
    private readonly env: Env,
    private readonly opts: FakeAgentOptions = {},
  ) {}

  start(): this {
    this.timer = setInterval(() => void this.step(), 2);
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async step(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const now = Date.now();
      for (const t of this.env.store.find("task")) {
        const state = t.status?.state ?? TaskState.NEW;
        if (state < TaskState.ASSIGNED || state > TaskState.RUNNING) continue;
        let next: TaskState | undefined;
        if (t.desiredState >= TaskState.SHUTDOWN) next = TaskState.SHUTDOWN;
        else if (t.desiredState === TaskState.READY && state < TaskState.READY) next = TaskState.READY;
        else if (t.desiredState === TaskState.RUNNING && state < TaskState.RUNNING) {
          const at = this.startAt.get(t.id) ?? now + (this.opts.startMs ?? 0);
          this.startAt.set(t.id, at);
          if (now >= at) next = this.opts.fails?.(t) ? TaskState.FAILED : TaskState.RUNNING;
        }
        if (next === undefined) continue;
        const to = next;
        await this.env
          .write((tx) => {
            const cur = tx.get("task", t.id);
            if (cur === undefined || cur.status?.state !== state) return;
            tx.update("task", { ...cur, status: { ...cur.status!, state: to, message: "fake agent", timestamp: new Date() } });
          })
          .catch(() => undefined);
      }
    } finally {
      this.busy = false;
    }
  }
}
