// One session with a dispatcher (SwarmKit's agent session): opens the
// Session stream with the node description and waits (bounded) for the
// first message carrying the session ID; then heartbeats at the period the
// manager returns and watches the Assignments stream, re-syncing it when a
// message does not follow on from the previous one. Any failure ends the
// session; `done` resolves with why, and the agent starts a new one.
import {
  AssignmentsMessage_Type,
  AssignmentChange_AssignmentAction,
  durationToMillis,
  type AssignmentsMessage,
  type NodeDescription,
  type SessionMessage,
  type Task,
} from "../../shared/api/index.js";
import { SwarmError, errorMessage } from "../../shared/errors.js";
import { getLogger } from "../../shared/logging.js";
import type { DispatcherConnection, StreamHandle } from "./connection/types.js";
import type { DependencyChanges } from "./dependencies.js";
import type { StatusUpdate } from "./status-reporter.js";

const log = getLogger("agent/session");

/** SwarmKit's dispatcherRPCTimeout: first session message, heartbeat, status updates. */
export const DISPATCHER_RPC_TIMEOUT_MS = 5000;

export interface SessionHandlers {
  /** The first SessionMessage arrived: the node is registered under `sessionId`. */
  onRegistered(sessionId: string, message: SessionMessage): void;
  /** Later SessionMessages (manager list, node, root CA updates). */
  onMessage(message: SessionMessage): void;
  onComplete(tasks: Task[]): void;
  onIncremental(updated: Task[], removed: string[]): void;
  /**
   * Secrets and configs of the same message, delivered before its tasks
   * (complete: they replace everything known).
   */
  onDependencies?(complete: boolean, changes: DependencyChanges): void;
}

export type SessionEnd = { reason: "closed" } | { reason: "error"; error: Error; registered: boolean };

export class Session {
  readonly connection: DispatcherConnection;
  readonly done: Promise<SessionEnd>;
  private sessionId = "";
  private ended = false;
  private resolveDone!: (end: SessionEnd) => void;
  private sessionStream: StreamHandle | undefined;
  private assignmentStream: StreamHandle | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private firstMessageTimer: NodeJS.Timeout | undefined;
  private lastResultsIn = "";
  private readonly rpcTimeoutMs: number;

  constructor(
    connection: DispatcherConnection,
    private readonly description: NodeDescription,
    private readonly handlers: SessionHandlers,
    opts: { rpcTimeoutMs?: number } = {},
  ) {
    this.connection = connection;
    this.rpcTimeoutMs = opts.rpcTimeoutMs ?? DISPATCHER_RPC_TIMEOUT_MS;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  get id(): string {
    return this.sessionId;
  }

  get registered(): boolean {
    return this.sessionId !== "" && !this.ended;
  }

  start(): void {
    this.firstMessageTimer = setTimeout(
      () => this.fail(new SwarmError("DEADLINE_EXCEEDED", `dispatcher at ${this.connection.target} did not open a session within ${this.rpcTimeoutMs} ms`)),
      this.rpcTimeoutMs,
    );
    this.sessionStream = this.connection.session(
      { description: this.description, sessionId: "" },
      {
        onMessage: (m) => this.onSessionMessage(m),
        onEnd: (err) => this.fail(err ?? new SwarmError("UNAVAILABLE", "session stream cancelled")),
      },
    );
  }

  /** Sends task statuses through this session. */
  async sendStatus(updates: StatusUpdate[]): Promise<void> {
    if (!this.registered) throw new SwarmError("UNAVAILABLE", "no registered session");
    await this.connection.updateTaskStatus({ sessionId: this.sessionId, updates }, this.rpcTimeoutMs);
  }

  /** Ends the session on our side (stop, re-describe, failed status send). */
  close(error?: Error): void {
    if (error) this.fail(error);
    else this.finish({ reason: "closed" });
  }

  private onSessionMessage(m: SessionMessage): void {
    if (this.ended) return;
    if (this.sessionId === "") {
      if (!m.sessionId) return this.fail(new SwarmError("INTERNAL", `dispatcher at ${this.connection.target} sent a session message without a session ID`));
      clearTimeout(this.firstMessageTimer);
      this.sessionId = m.sessionId;
      log.info({ manager: this.connection.target, session: m.sessionId }, "session registered");
      this.handlers.onRegistered(m.sessionId, m);
      if (this.ended) return;
      this.heartbeat();
      this.watchAssignments();
      return;
    }
    this.handlers.onMessage(m);
  }

  private heartbeat(): void {
    if (this.ended) return;
    this.connection.heartbeat({ sessionId: this.sessionId }, this.rpcTimeoutMs).then(
      (res) => {
        if (this.ended) return;
        const periodMs = Math.max(100, durationToMillis(res.period, 5000));
        this.heartbeatTimer = setTimeout(() => this.heartbeat(), periodMs);
      },
      (err: unknown) => this.fail(err instanceof Error ? err : new Error(errorMessage(err))),
    );
  }

  private watchAssignments(): void {
    if (this.ended) return;
    this.lastResultsIn = "";
    const handle = this.connection.assignments(
      { sessionId: this.sessionId },
      {
        onMessage: (m) => {
          if (this.assignmentStream === handle) this.onAssignments(m);
        },
        onEnd: (err) => {
          if (this.assignmentStream !== handle) return; // replaced by a resync
          this.fail(err ?? new SwarmError("UNAVAILABLE", "assignments stream cancelled"));
        },
      },
    );
    this.assignmentStream = handle;
  }

  private onAssignments(m: AssignmentsMessage): void {
    if (this.ended) return;
    if (m.type === AssignmentsMessage_Type.INCREMENTAL && m.appliesTo !== this.lastResultsIn) {
      log.warn({ appliesTo: m.appliesTo, expected: this.lastResultsIn }, "assignment sequence mismatch; re-syncing");
      const old = this.assignmentStream;
      this.assignmentStream = undefined;
      old?.cancel();
      this.watchAssignments();
      return;
    }
    this.lastResultsIn = m.resultsIn;
    const updated: Task[] = [];
    const removed: string[] = [];
    const deps: DependencyChanges = { secrets: [], configs: [], removedSecrets: [], removedConfigs: [] };
    for (const c of m.changes) {
      const item = c.assignment?.item;
      const remove = c.action === AssignmentChange_AssignmentAction.REMOVE;
      switch (item?.$case) {
        case "task":
          if (remove) removed.push(item.value.id);
          else updated.push(item.value);
          break;
        case "secret":
          if (remove) deps.removedSecrets.push(item.value.id);
          else deps.secrets.push(item.value);
          break;
        case "config":
          if (remove) deps.removedConfigs.push(item.value.id);
          else deps.configs.push(item.value);
          break;
        default:
          break; // volumes: not handled by this agent
      }
    }
    // Before the tasks, so a task never starts without what it references.
    this.handlers.onDependencies?.(m.type === AssignmentsMessage_Type.COMPLETE, deps);
    if (m.type === AssignmentsMessage_Type.COMPLETE) this.handlers.onComplete(updated);
    else this.handlers.onIncremental(updated, removed);
  }

  private fail(error: Error): void {
    this.finish({ reason: "error", error, registered: this.sessionId !== "" });
  }

  private finish(end: SessionEnd): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.firstMessageTimer);
    clearTimeout(this.heartbeatTimer);
    const streams = [this.sessionStream, this.assignmentStream];
    this.assignmentStream = undefined;
    this.sessionStream = undefined;
    for (const s of streams) s?.cancel();
    this.resolveDone(end);
  }
}
