// Beyond SwarmKit: after service create/update, wait until the service's tasks
// for the new spec are RUNNING, showing per-task progress. Polls ListTasks
// (200 ms by default); on a terminal the progress block is redrawn in place,
// otherwise one plain line is printed whenever a task changes state.
import {
  NodeSpec_Availability,
  NodeStatus_State,
  TaskState,
  taskStateToJSON,
  type Node,
  type Service,
  type Task,
} from "../shared/api/index.js";
import { isTaskDirty } from "../shared/task-dirty.js";
import type { ControlApi } from "./client.js";
import type { NameResolver } from "./resolve.js";
import { TABLE, tabwrite } from "./tabwriter.js";

export interface ConvergeSnapshot {
  name: string;
  /** Tasks of the current spec that should be running, by slot (or node for global services). */
  tasks: Task[];
  desired: number;
  running: number;
  converged: boolean;
  /** A task of the current spec that failed or was rejected. */
  failed?: Task | undefined;
}

/**
 * Does this task run the service's current spec? The orchestrator's own test
 * (SwarmKit's IsTaskDirty): a task keeps its spec version when an update does
 * not touch its spec (replicas, update config …), so a different version alone
 * does not make it stale.
 */
export function isUpToDate(t: Task, s: Service, nodes: ReadonlyMap<string, Node> = new Map()): boolean {
  return !isTaskDirty(s, t, nodes.get(t.nodeId));
}

/** Pure: where the service stands, from its tasks and the nodes. */
export function evaluateConvergence(s: Service, allTasks: readonly Task[], nodes: readonly Node[]): ConvergeSnapshot {
  const name = s.spec?.annotations?.name || s.id;
  const mine = allTasks.filter((t) => t.serviceId === s.id);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const current = mine.filter((t) => isUpToDate(t, s, byId));
  const wanted = current
    .filter((t) => t.desiredState <= TaskState.RUNNING)
    .sort((a, b) => a.slot - b.slot || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  const running = wanted.filter((t) => t.status?.state === TaskState.RUNNING).length;
  const staleRunning = mine.filter(
    (t) => !isUpToDate(t, s, byId) && t.desiredState <= TaskState.RUNNING && t.status?.state === TaskState.RUNNING,
  ).length;
  const failed = current.find((t) => t.status?.state === TaskState.FAILED || t.status?.state === TaskState.REJECTED);

  let desired: number;
  let converged: boolean;
  if (s.spec?.mode?.$case === "replicated") {
    desired = s.spec.mode.value.replicas;
    converged = running === desired && wanted.length === desired && staleRunning === 0;
  } else {
    // Global: one task per eligible node, as created by the orchestrator.
    const eligible = nodes.filter(
      (n) => n.status?.state === NodeStatus_State.READY && (n.spec?.availability ?? 0) === NodeSpec_Availability.ACTIVE,
    ).length;
    desired = wanted.length;
    converged = running === desired && (desired > 0 || eligible === 0) && staleRunning === 0;
  }
  return { name, tasks: wanted, desired, running, converged, failed };
}

/** Turns successive snapshots into terminal output (redrawn block or plain lines). */
export class ProgressView {
  private drawnLines = 0;
  private readonly lastState = new Map<string, TaskState>();

  constructor(private readonly tty: boolean) {}

  async render(snap: ConvergeSnapshot, res: NameResolver): Promise<string> {
    if (this.tty) {
      let rows = "";
      for (const t of snap.tasks) {
        const label = `${snap.name}.${t.slot === 0 ? (await res.node(t.nodeId)) || "?" : t.slot}`;
        const state = taskStateToJSON(t.status?.state ?? TaskState.NEW);
        rows += `  ${label}\t${state}\t${t.nodeId ? await res.node(t.nodeId) : ""}\n`;
      }
      const body = `${snap.name}: ${snap.running}/${snap.desired} tasks running\n` + tabwrite(rows, TABLE);
      const lines = body.split("\n").length - 1;
      // Move up over the previous block, rewrite each line, clear anything left below.
      const up = this.drawnLines > 0 ? `\x1b[${this.drawnLines}A` : "";
      this.drawnLines = lines;
      return up + body.split("\n").slice(0, lines).map((l) => `\x1b[2K${l}\n`).join("") + "\x1b[J";
    }
    let out = "";
    for (const t of snap.tasks) {
      const state = t.status?.state ?? TaskState.NEW;
      if (this.lastState.get(t.id) === state) continue;
      this.lastState.set(t.id, state);
      const where = t.nodeId ? ` on ${await res.node(t.nodeId)}` : "";
      out += `${snap.name}.${t.slot} ${t.id}: ${taskStateToJSON(state)}${where}\n`;
    }
    return out;
  }
}

export type ConvergeOutcome = "converged" | "failed" | "timeout" | "interrupted";

export interface ConvergeOptions {
  pollMs: number;
  timeoutMs: number;
  signal: AbortSignal;
  tty: boolean;
  write: (text: string) => void;
  resolver: NameResolver;
}

export interface ConvergeResult {
  outcome: ConvergeOutcome;
  message: string;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Polls until the service converges, a task fails, the timeout passes or the signal aborts. */
export async function waitForConvergence(api: ControlApi, service: Service, opts: ConvergeOptions): Promise<ConvergeResult> {
  const view = new ProgressView(opts.tty);
  const deadline = Date.now() + opts.timeoutMs;
  const isGlobal = service.spec?.mode?.$case !== "replicated";
  let snap: ConvergeSnapshot | undefined;
  for (;;) {
    if (opts.signal.aborted) {
      return { outcome: "interrupted", message: `stopped waiting; service ${snap?.name ?? service.id} keeps converging in the background` };
    }
    const [tasks, nodes] = await Promise.all([
      api.listTasks({ filters: { serviceIds: [service.id] } }).then((r) => r.tasks),
      isGlobal ? api.listNodes({}).then((r) => r.nodes) : Promise.resolve([] as Node[]),
    ]);
    snap = evaluateConvergence(service, tasks, nodes);
    opts.write(await view.render(snap, opts.resolver));
    if (snap.failed) {
      const t = snap.failed;
      const why = t.status?.err || t.status?.message || taskStateToJSON(t.status?.state ?? 0);
      return { outcome: "failed", message: `task ${snap.name}.${t.slot} (${t.id}) ${taskStateToJSON(t.status?.state ?? 0).toLowerCase()}: ${why}` };
    }
    if (snap.converged) {
      return { outcome: "converged", message: `${snap.name}: ${snap.running}/${snap.desired} tasks running, service converged` };
    }
    if (Date.now() >= deadline) {
      return { outcome: "timeout", message: `timed out waiting for service ${snap.name} to converge (${snap.running}/${snap.desired} tasks running)` };
    }
    await sleep(Math.min(opts.pollMs, Math.max(0, deadline - Date.now())), opts.signal);
  }
}
