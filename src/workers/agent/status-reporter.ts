// Sends task status changes to the dispatcher. Keeps only the newest status
// per task (a lower state than one already queued or reported is dropped:
// task states only move forward), batches what is pending into one
// UpdateTaskStatus call, and re-queues a batch whose send failed. Sends only
// while a session is registered; after each registration the agent re-reports
// every task (SwarmKit's worker.Report), equal states included.
import type { TaskStatus, UpdateTaskStatusRequest_TaskStatusUpdate } from "../../shared/api/index.js";
import { errorCode, errorMessage } from "../../shared/errors.js";
import { getLogger } from "../../shared/logging.js";

const log = getLogger("agent/status-reporter");

export type StatusUpdate = UpdateTaskStatusRequest_TaskStatusUpdate;

/** The current session's UpdateTaskStatus; rejects on failure. */
export type StatusSender = (updates: StatusUpdate[]) => Promise<void>;

export interface StatusReporterOptions {
  /** Gather changes this long before sending (coalescing). */
  batchDelayMs?: number;
  /** Wait before retrying a failed send. */
  retryDelayMs?: number;
  /** Told about every failed send (the agent restarts the session on session errors). */
  onSendError?: (err: unknown) => void;
}

export class StatusReporter {
  private readonly pending = new Map<string, TaskStatus>();
  /** Highest state sent per task. */
  private readonly sent = new Map<string, number>();
  private sender: StatusSender | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sending = false;
  private closed = false;
  private readonly batchDelayMs: number;
  private readonly retryDelayMs: number;
  private readonly onSendError: ((err: unknown) => void) | undefined;

  constructor(opts: StatusReporterOptions = {}) {
    this.batchDelayMs = opts.batchDelayMs ?? 10;
    this.retryDelayMs = opts.retryDelayMs ?? 1000;
    this.onSendError = opts.onSendError;
  }

  /** Queues a status; dropped if a higher state is already queued or sent. */
  report(taskId: string, status: TaskStatus): void {
    const floor = Math.max(this.pending.get(taskId)?.state ?? -1, this.sent.get(taskId) ?? -1);
    if (status.state < floor) {
      log.debug({ task: taskId, state: status.state, floor }, "dropping status below one already reported");
      return;
    }
    this.pending.set(taskId, status);
    this.schedule(this.batchDelayMs);
  }

  /** The task is gone: stop reporting it. */
  forget(taskId: string): void {
    this.pending.delete(taskId);
    this.sent.delete(taskId);
  }

  /** A registered session to send through, or undefined while there is none. */
  setSender(sender: StatusSender | undefined): void {
    this.sender = sender;
    if (sender) this.schedule(0);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delayMs: number): void {
    if (this.closed || this.timer || this.sending || !this.sender || this.pending.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delayMs);
  }

  private async flush(): Promise<void> {
    const sender = this.sender;
    if (!sender || this.closed || this.pending.size === 0) return;
    const batch = [...this.pending.entries()].map(([taskId, status]) => ({ taskId, status }));
    this.pending.clear();
    this.sending = true;
    let retryIn = 0;
    try {
      await sender(batch);
      for (const u of batch) this.sent.set(u.taskId, Math.max(this.sent.get(u.taskId) ?? -1, u.status!.state));
    } catch (err) {
      // Put back what no newer status has replaced meanwhile.
      for (const u of batch) if (!this.pending.has(u.taskId)) this.pending.set(u.taskId, u.status!);
      log.warn({ updates: batch.length, code: errorCode(err), err: errorMessage(err) }, "task status update failed; will retry");
      this.onSendError?.(err);
      retryIn = this.retryDelayMs;
    } finally {
      this.sending = false;
    }
    this.schedule(retryIn);
  }
}
