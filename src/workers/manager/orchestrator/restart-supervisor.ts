// The restart supervisor (SwarmKit's orchestrator/restart): replaces a task
// that stopped or lost its node. The old task is told to shut down; if the
// restart policy allows, a new task takes the same slot (replicated) or node
// (global) with desired state READY, so the agent prepares it without
// starting it, and it is promoted to RUNNING after the restart delay and once
// the old task has really stopped (or its node is gone), at most a minute
// later. Restart attempts are counted per slot/node for the current spec
// version, within the policy's window.
import { NodeStatus_State, RestartPolicy_RestartCondition, TaskState, type Node, type Service, type Task } from "../../../shared/api/index.js";
import { errorMessage } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import type { MemoryStore, Proposer, ReadTx, Tx } from "../store/index.js";
import { NodeSpec_Availability } from "../../../shared/api/index.js";
import { newTask, restartPolicyOf, stateOf, withDesiredState, DEFAULT_RESTART_DELAY_MS } from "./task.js";
import { updateWithRetry } from "./retry.js";
import { WatchLoop } from "./watch-loop.js";

const log = getLogger("restart");

/** How long a replacement waits for its predecessor to stop (SwarmKit's defaultOldTaskTimeout). */
export const OLD_TASK_TIMEOUT_MS = 60_000;
const MISSING_TASK_RETRIES = 50;
const MISSING_TASK_RETRY_MS = 20;

export interface RestartSupervisorOptions {
  /** Delay used when a task's restart policy sets none (default 5 s). */
  defaultDelayMs?: number;
  /** Longest wait for the old task to stop before starting anyway (default 1 min). */
  oldTaskTimeoutMs?: number;
  now?: () => Date;
}

interface DelayedStart {
  newTaskId: string;
  oldTaskId: string | undefined;
  oldNodeId: string;
  timer: NodeJS.Timeout | undefined;
  /** Set while waiting for the old task to stop. */
  release: (() => void) | undefined;
  done: boolean;
  /** Settles the promise delayStart returned (started, or cancelled). */
  settle: () => void;
}

interface RestartHistory {
  specVersion: number;
  /** Restart times (ms), oldest first. */
  times: number[];
}

export class RestartSupervisor {
  readonly name = "restart-supervisor";
  private readonly delays = new Map<string, DelayedStart>();
  private readonly history = new Map<string, RestartHistory>();
  private readonly loop: WatchLoop;
  private readonly defaultDelayMs: number;
  private readonly oldTaskTimeoutMs: number;
  private readonly now: () => Date;
  private running = false;

  constructor(
    private readonly store: MemoryStore,
    private readonly proposer: Proposer,
    opts: RestartSupervisorOptions = {},
  ) {
    this.defaultDelayMs = opts.defaultDelayMs ?? DEFAULT_RESTART_DELAY_MS;
    this.oldTaskTimeoutMs = opts.oldTaskTimeoutMs ?? OLD_TASK_TIMEOUT_MS;
    this.now = opts.now ?? (() => new Date());
    this.loop = new WatchLoop(
      store,
      { init: () => undefined, onEvent: (ev) => this.observe(ev.kind, ev.action, ev.object) },
      { kinds: ["task", "node"], log },
    );
  }

  start(): void {
    this.running = true;
    this.loop.start();
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const d of this.delays.values()) this.cancel(d);
    this.delays.clear();
    this.history.clear();
    await this.loop.stop();
  }

  /** Forget restart counts of a removed service. */
  clearServiceHistory(serviceId: string): void {
    const prefix = serviceId + "/";
    for (const k of this.history.keys()) if (k.startsWith(prefix)) this.history.delete(k);
  }

  /** Whether `taskId` is a replacement still waiting for its start. */
  isDelayed(taskId: string): boolean {
    return this.delays.has(taskId);
  }

  /**
   * Within a transaction: shut `t` down and, if its policy allows, create its
   * replacement. Returns the replacement, if any. Nothing is written when `t`
   * is already on its way out.
   */
  restart(tx: Tx, service: Service, t: Task): Task | undefined {
    if (t.desiredState > TaskState.RUNNING) return undefined;
    // A replacement that fails while still in its own restart delay waits for
    // that delay first: no tight loops when, say, the image does not exist.
    const pending = this.delays.get(t.id);
    if (pending !== undefined && !pending.done) return undefined;

    tx.update("task", withDesiredState(t, TaskState.SHUTDOWN));
    if (!this.shouldRestart(t, service)) return undefined;

    const global = service.spec?.mode?.$case === "global";
    const replacement = {
      ...newTask(service, global ? 0 : t.slot, global ? t.nodeId : "", this.now()),
      desiredState: TaskState.READY,
    };
    tx.create("task", replacement);
    this.recordRestart(t, service);

    const policy = restartPolicyOf(t, this.defaultDelayMs);
    const oldNode = t.nodeId ? tx.get("node", t.nodeId) : undefined;
    const drained = oldNode?.spec?.availability === NodeSpec_Availability.DRAIN;
    this.delayStart(tx, t, replacement.id, drained ? 0 : policy.delayMs, true);
    return replacement;
  }

  /**
   * Promote `newTaskId` to RUNNING after `delayMs` and, with waitStop, once
   * `oldTask` has stopped or its node is gone (at most oldTaskTimeoutMs).
   * The promise settles once the task was promoted, or the start was
   * cancelled (another delayStart for the task, or stop()). `view` must see
   * the committed new task: call it after the transaction that created it.
   */
  delayStart(view: ReadTx | undefined, oldTask: Task | undefined, newTaskId: string, delayMs: number, waitStop: boolean): Promise<void> {
    const existing = this.delays.get(newTaskId);
    if (existing) this.cancel(existing);
    let settle!: () => void;
    const settled = new Promise<void>((r) => (settle = r));
    const d: DelayedStart = {
      newTaskId,
      oldTaskId: oldTask?.id,
      oldNodeId: oldTask?.nodeId ?? "",
      timer: undefined,
      release: undefined,
      done: false,
      settle,
    };
    this.delays.set(newTaskId, d);
    const mustWait = waitStop && oldTask !== undefined && !oldTaskGone(view, oldTask, view === undefined ? this.store.get("node", oldTask.nodeId) : undefined);
    d.timer = setTimeout(() => {
      d.timer = undefined;
      if (!mustWait) return void this.startNow(d);
      d.release = () => this.startNow(d);
      // The old task may have stopped during the delay.
      const current = this.store.get("task", d.oldTaskId!);
      if (current === undefined || oldTaskGone(undefined, current, this.store.get("node", d.oldNodeId))) return void this.startNow(d);
      d.timer = setTimeout(() => {
        log.debug({ task: newTaskId, old: d.oldTaskId }, "old task did not stop in time; starting its replacement anyway");
        this.startNow(d);
      }, this.oldTaskTimeoutMs);
    }, Math.max(0, delayMs));
    return settled;
  }

  private cancel(d: DelayedStart): void {
    this.disarm(d);
    d.settle();
  }

  private disarm(d: DelayedStart): void {
    d.done = true;
    if (d.timer) clearTimeout(d.timer);
    d.timer = undefined;
    d.release = undefined;
  }

  private startNow(d: DelayedStart, attempt = 0): void {
    if (d.done && attempt === 0) return;
    this.disarm(d);
    if (!this.running) return void d.settle();
    let missing = false;
    void updateWithRetry(this.store, this.proposer, (tx) => {
      const t = tx.get("task", d.newTaskId);
      missing = t === undefined;
      if (t === undefined || t.desiredState >= TaskState.RUNNING) return;
      tx.update("task", withDesiredState(t, TaskState.RUNNING));
    })
      .catch((err) => log.warn({ task: d.newTaskId, err: errorMessage(err) }, "could not start the replacement task"))
      .finally(() => {
        // A short delay armed inside the creating transaction may fire before
        // that transaction commits: look again a few times.
        if (missing && attempt < MISSING_TASK_RETRIES && this.running && this.delays.get(d.newTaskId) === d) {
          d.timer = setTimeout(() => this.startNow(d, attempt + 1), MISSING_TASK_RETRY_MS);
          return;
        }
        if (this.delays.get(d.newTaskId) === d) this.delays.delete(d.newTaskId);
        d.settle();
      });
  }

  /** Watch events: release replacements whose old task stopped or lost its node. */
  private observe(kind: string, action: string, obj: unknown): void {
    let waiting = false;
    for (const d of this.delays.values()) if (d.release) waiting = true;
    if (!waiting) return;
    if (kind === "task") {
      const t = obj as Task;
      if (action !== "remove" && stateOf(t) <= TaskState.RUNNING) return;
      for (const d of this.delays.values()) if (d.release && d.oldTaskId === t.id) d.release();
    } else if (kind === "node") {
      const n = obj as Node;
      if (action !== "remove" && n.status?.state !== NodeStatus_State.DOWN) return;
      for (const d of this.delays.values()) if (d.release && d.oldNodeId === n.id) d.release();
    }
  }

  private instanceKey(t: Task, service: Service): string {
    return service.spec?.mode?.$case === "global" ? `${t.serviceId}/node/${t.nodeId}` : `${t.serviceId}/slot/${t.slot}`;
  }

  private shouldRestart(t: Task, service: Service): boolean {
    const policy = restartPolicyOf(t, this.defaultDelayMs);
    switch (policy.condition) {
      case RestartPolicy_RestartCondition.NONE:
        return false;
      case RestartPolicy_RestartCondition.ON_FAILURE:
        if (stateOf(t) === TaskState.COMPLETE) return false;
        break;
      default:
        break;
    }
    if (policy.maxAttempts <= 0) return true;
    const h = this.history.get(this.instanceKey(t, service));
    const version = t.specVersion?.index ?? 0;
    if (h === undefined || h.specVersion !== version) return true;
    const since = policy.windowMs > 0 ? this.now().getTime() - policy.windowMs : -Infinity;
    const recent = h.times.filter((x) => x > since).length;
    return recent < policy.maxAttempts;
  }

  private recordRestart(t: Task, service: Service): void {
    const key = this.instanceKey(t, service);
    const version = t.specVersion?.index ?? 0;
    let h = this.history.get(key);
    if (h === undefined || h.specVersion !== version) {
      h = { specVersion: version, times: [] };
      this.history.set(key, h);
    }
    h.times.push(this.now().getTime());
    // Only as many entries as any policy could look at.
    const max = Math.max(1, restartPolicyOf(t, this.defaultDelayMs).maxAttempts);
    if (h.times.length > max) h.times.splice(0, h.times.length - max);
  }
}

/** The old task no longer holds its place: stopped, or its node is down or gone. */
function oldTaskGone(view: ReadTx | undefined, t: Task, node?: Node): boolean {
  if (stateOf(t) > TaskState.RUNNING) return true;
  if (!t.nodeId) return true;
  const n = node ?? view?.get("node", t.nodeId);
  return n === undefined || n.status?.state === NodeStatus_State.DOWN;
}
