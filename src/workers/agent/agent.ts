// The agent: keeps a session with a manager's dispatcher (the local manager
// over the MessageChannel when this host runs one, else the known managers
// over gRPC, failing over in turn with SwarmKit's backoff), registers the
// node description (re-checked every 20 s; a change restarts the session),
// and feeds assignments to the worker, whose status changes go back through
// the status reporter. stop() ends the session and the task managers but
// leaves every container running: a restarted agent adopts them.
import { NodeRole as ApiNodeRole, type NodeDescription, type SessionMessage } from "../../shared/api/index.js";
import type { AgentNodeEvent, NodeRole } from "../../shared/contracts/index.js";
import type { GenericResource } from "../../shared/config.js";
import { errorCode, errorMessage } from "../../shared/errors.js";
import { getLogger } from "../../shared/logging.js";
import { Backoff, INITIAL_SESSION_BACKOFF_MS, MAX_SESSION_BACKOFF_MS, sleep } from "./backoff.js";
import { CurrentTls, type TlsSource } from "../../shared/current-tls.js";
import { GrpcDispatcherConnection, dispatcherCredentials } from "./connection/grpc-connection.js";
import type { DispatcherConnection } from "./connection/types.js";
import { describeNode, descriptionKey } from "./describe.js";
import type { DockerExecutor } from "./executor/index.js";
import { Remotes, readStateFile, type KnownManager } from "./remotes.js";
import { Session, DISPATCHER_RPC_TIMEOUT_MS } from "./session.js";
import { StatusReporter } from "./status-reporter.js";
import { TaskDb } from "./task-db.js";
import { Worker } from "./worker.js";
import { DependencyStore } from "./dependencies.js";

const log = getLogger("agent");

/** How the remote API refuses a removed node's certificate. */
const REMOVED_NODE = /was removed from swarm/;

function roleName(role: ApiNodeRole): NodeRole {
  return role === ApiNodeRole.MANAGER ? "manager" : "worker";
}

/** SwarmKit's nodeUpdatePeriod. */
export const NODE_UPDATE_PERIOD_MS = 20_000;

export interface AgentTimings {
  initialBackoffMs: number;
  maxBackoffMs: number;
  redescribeMs: number;
  rpcTimeoutMs: number;
  taskRetryMs: number;
  /** Wait between looks for a manager while none is known. */
  noManagerRetryMs: number;
}

export const DEFAULT_TIMINGS: AgentTimings = {
  initialBackoffMs: INITIAL_SESSION_BACKOFF_MS,
  maxBackoffMs: MAX_SESSION_BACKOFF_MS,
  redescribeMs: NODE_UPDATE_PERIOD_MS,
  rpcTimeoutMs: DISPATCHER_RPC_TIMEOUT_MS,
  taskRetryMs: 1000,
  noManagerRetryMs: 1000,
};

export interface AgentOptions {
  nodeId: string;
  /** The node's TLS material; the worker's CurrentTls, so a renewal reaches the next dispatcher connection. */
  tls: TlsSource;
  stateDir: string;
  executor: DockerExecutor;
  /** Hostname to report; the engine's when absent. */
  hostname?: string;
  genericResources?: readonly GenericResource[];
  /** Managers to try besides those in state.json (e.g. --join-addr, "host:port"). */
  extraManagers?: readonly string[];
  /**
   * The local manager's dispatcher, when this host runs an active manager
   * (checked before every session); undefined otherwise.
   */
  localDispatcher?: () => Promise<DispatcherConnection | undefined>;
  timings?: Partial<AgentTimings>;
  /** This node's roles as the managers see them changed, or the cluster refused this node as removed. */
  onNodeEvent?: (e: AgentNodeEvent) => void;
}

export interface AgentSessionStatus {
  connected: boolean;
  manager?: string;
  sessionId?: string;
  lastError?: string;
}

export class Agent {
  private readonly opts: AgentOptions;
  private readonly tls: CurrentTls;
  private readonly timings: AgentTimings;
  private readonly reporter: StatusReporter;
  /** Secrets and configs from the assignments, in memory only. */
  readonly dependencies = new DependencyStore();
  private readonly stopping = new AbortController();
  private worker: Worker | undefined;
  private db: TaskDb | undefined;
  private remotes: Remotes | undefined;
  private description: NodeDescription | undefined;
  private session: Session | undefined;
  private loop: Promise<void> | undefined;
  private redescribeTimer: NodeJS.Timeout | undefined;
  private lastError: string | undefined;
  private lastWasLocal = false;
  private resolveReady!: () => void;
  /** Resolves once the first session has registered. */
  readonly ready: Promise<void> = new Promise((resolve) => (this.resolveReady = resolve));

  constructor(opts: AgentOptions) {
    this.opts = opts;
    this.tls = CurrentTls.from(opts.tls);
    this.timings = { ...DEFAULT_TIMINGS, ...opts.timings };
    this.reporter = new StatusReporter({
      retryDelayMs: this.timings.taskRetryMs,
      onSendError: (err) => {
        // The session is gone on the manager's side: register again.
        const code = errorCode(err);
        if (code === "NOT_FOUND" || code === "INVALID_ARGUMENT") this.session?.close(err instanceof Error ? err : new Error(errorMessage(err)));
      },
    });
  }

  /** Opens the task DB, resumes stored tasks and starts the session loop. */
  async start(): Promise<void> {
    this.db = await TaskDb.open(this.opts.stateDir);
    this.worker = new Worker({
      nodeId: this.opts.nodeId,
      executor: this.opts.executor,
      db: this.db,
      reporter: this.reporter,
      taskRetryMs: this.timings.taskRetryMs,
      dependencies: this.dependencies,
    });
    await this.worker.init();
    let known: KnownManager[] = [];
    try {
      known = await readStateFile(this.opts.stateDir);
    } catch (err) {
      log.warn({ err: errorMessage(err) }, "cannot read the known managers from state.json");
    }
    for (const addr of this.opts.extraManagers ?? []) if (!known.some((m) => m.addr === addr)) known.push({ node_id: "", addr });
    this.remotes = new Remotes(known, this.opts.stateDir);
    this.description = await this.describe();
    this.loop = this.run();
    this.redescribeTimer = setInterval(() => void this.redescribe(), this.timings.redescribeMs);
  }

  /** Ends the session and stops driving tasks; containers keep running. */
  async stop(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    clearInterval(this.redescribeTimer);
    this.session?.close();
    await this.loop;
    this.reporter.close();
    await this.worker?.close();
    await this.db?.flush();
    await this.remotes?.flush();
    log.info("agent stopped; task containers left running");
  }

  status(): { session: AgentSessionStatus; tasks: Array<{ id: string; state: number; desiredState: number }>; managers: KnownManager[] } {
    const s = this.session;
    return {
      session: {
        connected: s?.registered ?? false,
        ...(s ? { manager: s.connection.target } : {}),
        ...(s?.registered ? { sessionId: s.id } : {}),
        ...(this.lastError ? { lastError: this.lastError } : {}),
      },
      tasks: this.worker?.tasks() ?? [],
      managers: this.remotes?.all() ?? [],
    };
  }

  /** The description currently registered. */
  get nodeDescription(): NodeDescription | undefined {
    return this.description;
  }

  private describe(): Promise<NodeDescription> {
    return describeNode({
      executor: this.opts.executor,
      ...(this.opts.hostname ? { hostname: this.opts.hostname } : {}),
      caPem: this.tls.material.caPem,
      ...(this.opts.genericResources ? { genericResources: this.opts.genericResources } : {}),
    });
  }

  private async redescribe(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    const next = await this.describe();
    if (this.stopping.signal.aborted || !this.description) return;
    if (descriptionKey(next) === descriptionKey(this.description)) return;
    log.info("node description changed; restarting the session");
    this.description = next;
    this.session?.close();
  }

  private async connect(): Promise<DispatcherConnection | undefined> {
    const remote = this.remotes?.select();
    // Prefer the local manager, unless it just failed and a remote one is known.
    if (this.opts.localDispatcher && !(this.lastWasLocal && remote)) {
      const local = await this.opts.localDispatcher().catch(() => undefined);
      if (local) {
        this.lastWasLocal = true;
        return local;
      }
    }
    this.lastWasLocal = false;
    if (!remote) return undefined;
    return new GrpcDispatcherConnection(remote.addr, remote.node_id, dispatcherCredentials(this.tls));
  }

  private async run(): Promise<void> {
    const backoff = new Backoff(this.timings.initialBackoffMs, this.timings.maxBackoffMs);
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      const conn = await this.connect();
      if (signal.aborted) {
        conn?.close();
        break;
      }
      if (!conn) {
        log.debug("no manager known yet; waiting");
        await sleep(this.timings.noManagerRetryMs, signal);
        continue;
      }
      const end = await this.runSession(conn, backoff);
      conn.close();
      if (signal.aborted) break;
      if (end.reason === "error") {
        this.lastError = end.error.message;
        backoff.fail();
        if (conn.target !== "local") this.remotes?.failed(conn.target);
        else this.lastWasLocal = true;
        log.warn({ manager: conn.target, err: end.error.message, retryWithinMs: backoff.boundMs }, "session with the dispatcher ended");
        if (REMOVED_NODE.test(end.error.message)) this.opts.onNodeEvent?.({ kind: "removed", message: end.error.message });
      } else {
        this.lastWasLocal = false; // a deliberate restart may go back to the local manager
      }
      await sleep(backoff.delayMs(), signal);
    }
  }

  private async runSession(conn: DispatcherConnection, backoff: Backoff) {
    const worker = this.worker!;
    const session = new Session(
      conn,
      this.description!,
      {
        onRegistered: (_id, message) => {
          backoff.reset();
          this.lastError = undefined;
          if (conn.target !== "local") this.lastWasLocal = false;
          this.onSessionMessage(conn, message);
          this.reporter.setSender((updates) => session.sendStatus(updates));
          worker.reportAll();
          this.resolveReady();
        },
        onMessage: (message) => this.onSessionMessage(conn, message),
        onComplete: (tasks) => void worker.assign(tasks),
        onIncremental: (updated, removed) => void worker.update(updated, removed),
        onDependencies: (complete, changes) => this.dependencies.apply(complete, changes),
      },
      { rpcTimeoutMs: this.timings.rpcTimeoutMs },
    );
    this.session = session;
    log.debug({ manager: conn.target }, "opening a session");
    session.start();
    const end = await session.done;
    this.reporter.setSender(undefined);
    return end;
  }

  private onSessionMessage(conn: DispatcherConnection, m: SessionMessage): void {
    this.remotes?.observe(m.managers, conn.target === "local" ? undefined : conn.target);
    if (m.node) this.observeRoles(m.node.role, m.node.spec?.desiredRole ?? ApiNodeRole.WORKER);
  }

  /** The last roles seen in a session (main renews the certificate when they change). */
  lastNodeEvent: Extract<AgentNodeEvent, { kind: "node" }> | undefined;

  private observeRoles(role: ApiNodeRole, desired: ApiNodeRole): void {
    const e = { kind: "node" as const, role: roleName(role), desiredRole: roleName(desired) };
    if (this.lastNodeEvent?.role === e.role && this.lastNodeEvent.desiredRole === e.desiredRole) return;
    this.lastNodeEvent = e;
    log.info({ role: e.role, desiredRole: e.desiredRole }, "node roles changed");
    this.opts.onNodeEvent?.(e);
  }
}

