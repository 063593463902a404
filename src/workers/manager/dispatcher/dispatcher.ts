// SwarmKit's Dispatcher (manager/dispatcher), run by the leader only: agents
// open a Session (registration, then node/manager updates), send Heartbeats,
// follow their Assignments (one COMPLETE set, then INCREMENTAL changes) and
// report task status, which is written to the store in batches.
//
// Transport-independent: every call names the caller's node ID; adapters for
// gRPC, the local MessageChannel and follower forwarding live beside it.
import {
  AssignmentsMessage_Type,
  NodeStatus_State,
  TaskState,
  type AssignmentsMessage,
  type AssignmentsRequest,
  type Cluster,
  type EncryptionKey,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type Node,
  type NodeDescription,
  type Peer,
  type SessionMessage,
  type SessionRequest,
  type Task,
  type UpdateTaskStatusRequest,
  type UpdateTaskStatusResponse,
  type WeightedPeer,
} from "../../../shared/api/index.js";
import { SwarmError, errorMessage } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import { batch, cloneObject, DEFAULT_CLUSTER_NAME, WatchOverflowError, type MemoryStore, type Proposer, type WatchEvent, type Watcher } from "../store/index.js";
import { AssignmentSet } from "./assignment-set.js";
import { systemClock, type Clock, type Timer } from "./clock.js";
import {
  BATCHING_WAIT_TIME_MS,
  DEFAULT_GRACE_PERIOD_MULTIPLIER,
  DEFAULT_HEARTBEAT_EPSILON_MS,
  DEFAULT_HEARTBEAT_PERIOD_MS,
  DEFAULT_NODE_DOWN_PERIOD_MS,
  DEFAULT_RATE_LIMIT_PERIOD_MS,
  errMustDisconnect,
  errNodeNotFound,
  errNotAssigned,
  errStopped,
  MANAGER_WEIGHT,
  MODIFICATION_BATCH_LIMIT,
  MSG_HEARTBEAT_FAILURE,
  MSG_UNKNOWN_AFTER_LEADER_CHANGE,
  MSG_UNKNOWN_HEARTBEAT_FAILURE,
} from "./constants.js";
import { DownNodes, NodeRegistry } from "./node-registry.js";
import { ServerStream, type StreamSink } from "./streams.js";
import { UpdateQueue } from "./update-queue.js";

const log = getLogger("dispatcher");


export interface DispatcherOptions {
  /** This manager's node ID (written as appliedBy of task statuses). */
  nodeId: string;
  /** The raft members: node IDs and addresses agents can reach managers at. */
  managers: () => Peer[];
  clock?: Clock;
  /** Uniform in [0, 1): heartbeat period jitter. */
  random?: () => number;
  heartbeatEpsilonMs?: number;
  gracePeriodMultiplier?: number;
  rateLimitPeriodMs?: number;
  nodeDownPeriodMs?: number;
}

/** Used when the store has no cluster object (yet). */
export interface DispatcherClusterConfig {
  heartbeatPeriodMs?: number;
}

export interface SessionCallOptions {
  /** host:port the call came from; its host becomes Node.status.addr. */
  remoteAddr?: string;
}

interface SessionStream {
  kind: "session";
  nodeId: string;
  sessionId: string;
  stream: ServerStream<SessionMessage>;
  node: Node | undefined;
  /** Store index of the view the stream started from: older events are already reflected. */
  startIndex: number;
}

interface AssignmentStream {
  kind: "assignments";
  nodeId: string;
  sessionId: string;
  stream: ServerStream<AssignmentsMessage>;
  set: AssignmentSet;
  startIndex: number;
  sequence: number;
  modifications: number;
  debounce: Timer | undefined;
}

/** Everything that lives from start() to stop(). */
interface Running {
  store: MemoryStore;
  proposer: Proposer;
  registry: NodeRegistry;
  downNodes: DownNodes;
  queue: UpdateQueue;
  watcher: Watcher;
  heartbeatPeriodMs: number;
  rootCA: Buffer;
  networkBootstrapKeys: EncryptionKey[];
  managers: WeightedPeer[];
  sessions: Set<SessionStream>;
  assignments: Map<string, Set<AssignmentStream>>;
  unsubscribe: () => void;
}

/** The host part of "host:port", "[v6]:port" or grpc-js "ipv4:host:port" forms; "" when there is none. */
export function hostOf(remoteAddr: string | undefined): string {
  if (!remoteAddr) return "";
  let a = remoteAddr.replace(/^ipv[46]:/, "");
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(a);
  if (bracket) return bracket[1]!;
  const colons = a.split(":").length - 1;
  if (colons === 1) a = a.slice(0, a.lastIndexOf(":"));
  else if (colons > 1) return ""; // bare IPv6 without port brackets: ambiguous
  return a === "unknown" ? "" : a;
}

function durationMs(d: { seconds: number; nanos: number } | undefined): number {
  if (!d) return 0;
  return Number(d.seconds) * 1000 + Math.round(d.nanos / 1e6);
}

function toDuration(ms: number): { seconds: number; nanos: number } {
  const total = Math.round(ms * 1e6); // ns
  return { seconds: Math.floor(total / 1e9), nanos: total % 1e9 };
}

export class Dispatcher {
  private running: Running | undefined;
  private starting: Promise<void> | undefined;
  private readonly clock: Clock;
  private readonly random: () => number;

  constructor(private readonly opts: DispatcherOptions) {
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
  }

  get isRunning(): boolean {
    return this.running !== undefined;
  }

  /** Counters of the status writer, for tests and benchmarks. */
  get writeStats(): { flushes: number; transactions: number; taskWrites: number; ignored: number } | undefined {
    return this.running ? { ...this.running.queue.stats } : undefined;
  }

  /** Number of nodes with a registry entry (sessions plus nodes marked UNKNOWN). */
  get registeredNodes(): number {
    return this.running?.registry.size ?? 0;
  }

  // ---- lifecycle

  /** Start serving (on becoming leader). Marks every node not DOWN as UNKNOWN first. */
  async start(store: MemoryStore, proposer: Proposer, clusterConfig: DispatcherClusterConfig = {}): Promise<void> {
    if (this.running || this.starting) throw new SwarmError("FAILED_PRECONDITION", "dispatcher is already running");
    this.starting = this.startInternal(store, proposer, clusterConfig);
    try {
      await this.starting;
    } finally {
      this.starting = undefined;
    }
  }

  private async startInternal(store: MemoryStore, proposer: Proposer, clusterConfig: DispatcherClusterConfig): Promise<void> {
    log.info("dispatcher starting");
    const registry = new NodeRegistry(this.clock, this.random, {
      heartbeatPeriodMs: clusterConfig.heartbeatPeriodMs ?? DEFAULT_HEARTBEAT_PERIOD_MS,
      heartbeatEpsilonMs: this.opts.heartbeatEpsilonMs ?? DEFAULT_HEARTBEAT_EPSILON_MS,
      gracePeriodMultiplier: this.opts.gracePeriodMultiplier ?? DEFAULT_GRACE_PERIOD_MULTIPLIER,
      rateLimitPeriodMs: this.opts.rateLimitPeriodMs ?? DEFAULT_RATE_LIMIT_PERIOD_MS,
    });
    const r: Running = {
      store,
      proposer,
      registry,
      downNodes: new DownNodes(this.clock, this.opts.nodeDownPeriodMs ?? DEFAULT_NODE_DOWN_PERIOD_MS),
      queue: new UpdateQueue(store, proposer, this.clock, this.opts.nodeId),
      watcher: undefined as unknown as Watcher,
      heartbeatPeriodMs: clusterConfig.heartbeatPeriodMs ?? DEFAULT_HEARTBEAT_PERIOD_MS,
      rootCA: Buffer.alloc(0),
      networkBootstrapKeys: [],
      managers: this.weightedManagers(),
      sessions: new Set(),
      assignments: new Map(),
      unsubscribe: () => undefined,
    };
    try {
      await this.markNodesUnknown(r);
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'failed to move all nodes to "unknown" state');
    }
    const { result: cluster, watcher } = store.viewAndWatch((tx) => tx.byName("cluster", DEFAULT_CLUSTER_NAME), {
      kinds: ["task", "node", "cluster"],
    });
    r.watcher = watcher;
    if (cluster) this.applyCluster(r, cluster);
    r.unsubscribe = registry.onInvalidate((nodeId) => this.sessionInvalidated(r, nodeId));
    this.running = r;
    void this.pump(r);
  }

  /** Stop serving (on losing leadership): every stream ends, every session is forgotten. */
  async stop(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    const r = this.running;
    if (!r) return;
    log.info("dispatcher stopping");
    this.running = undefined;
    r.unsubscribe();
    r.watcher.close();
    const ended: Promise<void>[] = [];
    for (const s of r.sessions) {
      // SwarmKit sends a last message, then tells the agent to find another manager.
      s.stream.send(this.sessionMessage(r, s));
      s.stream.end(errMustDisconnect());
      ended.push(s.stream.done.catch(() => undefined));
    }
    for (const set of r.assignments.values()) {
      for (const a of set) {
        a.stream.end(errStopped());
        ended.push(a.stream.done.catch(() => undefined));
      }
    }
    r.sessions.clear();
    r.assignments.clear();
    r.registry.clean();
    r.downNodes.clean();
    r.queue.stop();
    await Promise.all(ended);
  }

  private requireRunning(): Running {
    if (!this.running) throw errStopped();
    return this.running;
  }

  private stillRunning(r: Running): void {
    if (this.running !== r) throw errStopped();
  }

  // ---- Session

  /**
   * A node's session stream. Resolves when the receiver goes away; rejects when
   * the dispatcher ends it (registration refused, session replaced or expired,
   * dispatcher stopped).
   */
  async session(nodeId: string, req: SessionRequest, sink: StreamSink<SessionMessage>, opts: SessionCallOptions = {}): Promise<void> {
    const r = this.requireRunning();
    const addr = hostOf(opts.remoteAddr);
    let sessionId: string;
    let known = false;
    try {
      r.registry.getWithSession(nodeId, req.sessionId);
      known = true;
    } catch {
      // not registered, or a stale session: register anew
    }
    if (known) {
      sessionId = req.sessionId;
      await this.markNodeReady(r, nodeId, req.description, addr);
      this.stillRunning(r);
    } else {
      sessionId = await this.register(r, nodeId, req.description, addr);
    }
    // The session may have been replaced while the registration was written.
    r.registry.getWithSession(nodeId, sessionId);
    const s: SessionStream = {
      kind: "session",
      nodeId,
      sessionId,
      stream: new ServerStream(sink),
      node: r.store.get("node", nodeId),
      startIndex: r.store.index,
    };
    r.sessions.add(s);
    s.stream.onEnd(() => r.sessions.delete(s));
    s.stream.send(this.sessionMessage(r, s));
    log.debug({ node: nodeId, session: sessionId }, "session open");
    return s.stream.done;
  }

  private async register(r: Running, nodeId: string, description: NodeDescription | undefined, addr: string): Promise<string> {
    r.registry.checkRateLimit(nodeId);
    if (!r.store.get("node", nodeId)) throw errNodeNotFound();
    await this.markNodeReady(r, nodeId, description, addr);
    this.stillRunning(r);
    const rn = r.registry.add(nodeId, () => this.markNodeNotReady(r, nodeId, NodeStatus_State.DOWN, MSG_HEARTBEAT_FAILURE));
    log.info({ node: nodeId }, `worker ${nodeId} was successfully registered`);
    return rn.sessionId;
  }

  /** READY with the caller's address and description; waits until that is written. */
  private async markNodeReady(r: Running, nodeId: string, description: NodeDescription | undefined, addr: string): Promise<void> {
    r.queue.queueNodeUpdate(nodeId, { status: { state: NodeStatus_State.READY, message: "", addr }, description });
    r.downNodes.delete(nodeId);
    await r.queue.nextFlush();
  }

  /** The node lost its session (heartbeat expiry): write its state, forget the session. */
  private markNodeNotReady(r: Running, nodeId: string, state: NodeStatus_State, message: string): void {
    if (this.running !== r) return;
    log.info({ node: nodeId, state: NodeStatus_State[state], message }, "node not ready");
    if (r.store.get("node", nodeId)) {
      r.downNodes.add(nodeId, () => void this.moveTasksToOrphaned(r, nodeId));
      r.queue.queueNodeUpdate(nodeId, { status: { state, message, addr: "" }, description: r.queue.pendingDescription(nodeId) });
    } else {
      log.warn({ node: nodeId }, `could not find node ${nodeId} while trying to add to down nodes store`);
    }
    r.registry.delete(nodeId);
  }

  /** After a long time DOWN, tasks that might have progressed are ORPHANED. */
  private async moveTasksToOrphaned(r: Running, nodeId: string): Promise<void> {
    if (this.running !== r) return;
    log.info({ node: nodeId }, `moving tasks to orphaned state for node: ${nodeId}`);
    try {
      const tasks = r.store.view((tx) => tx.tasksByNode(nodeId));
      await batch(r.store, r.proposer, async (b) => {
        for (const t of tasks) {
          const state = t.status?.state ?? TaskState.NEW;
          if (state < TaskState.ASSIGNED || state > TaskState.RUNNING) continue;
          await b.update((tx) => {
            const cur = tx.get("task", t.id);
            const s = cur?.status?.state ?? TaskState.NEW;
            if (!cur || s < TaskState.ASSIGNED || s > TaskState.RUNNING) return;
            const copy: Task = cloneObject(cur);
            copy.status = { ...copy.status!, state: TaskState.ORPHANED };
            tx.update("task", copy);
          });
        }
      });
    } catch (err) {
      log.error({ node: nodeId, err: errorMessage(err) }, 'failed to move all tasks to "ORPHANED" state');
    }
  }

  /** On becoming leader nobody has a session yet: give every live node 2× the usual grace to come back. */
  private async markNodesUnknown(r: Running): Promise<void> {
    const nodes = r.store.find("node");
    await batch(r.store, r.proposer, async (b) => {
      for (const n of nodes) {
        try {
          await b.update((tx) => {
            const node = tx.get("node", n.id);
            if (!node) return;
            if (node.status?.state === NodeStatus_State.DOWN) {
              r.downNodes.add(node.id, () => void this.moveTasksToOrphaned(r, node.id));
              return;
            }
            const copy: Node = cloneObject(node);
            copy.status = { state: NodeStatus_State.UNKNOWN, message: MSG_UNKNOWN_AFTER_LEADER_CHANGE, addr: node.status?.addr ?? "" };
            r.registry.addUnknown(node.id, () =>
              this.markNodeNotReady(r, node.id, NodeStatus_State.DOWN, MSG_UNKNOWN_HEARTBEAT_FAILURE),
            );
            tx.update("node", copy);
          });
        } catch (err) {
          log.error({ node: n.id, err: errorMessage(err) }, 'failed to move node to "unknown" state');
        }
      }
    });
  }

  private sessionMessage(r: Running, s: SessionStream): SessionMessage {
    return {
      sessionId: s.sessionId,
      node: s.node,
      managers: r.managers,
      networkBootstrapKeys: r.networkBootstrapKeys,
      RootCA: r.rootCA,
    };
  }

  // ---- Heartbeat

  async heartbeat(nodeId: string, req: HeartbeatRequest): Promise<HeartbeatResponse> {
    const r = this.requireRunning();
    const periodMs = r.registry.heartbeat(nodeId, req.sessionId);
    return { period: toDuration(periodMs) };
  }

  // ---- Assignments

  /** The node's assignments: one COMPLETE message, then INCREMENTAL ones. Settles like session(). */
  async assignments(nodeId: string, req: AssignmentsRequest, sink: StreamSink<AssignmentsMessage>): Promise<void> {
    const r = this.requireRunning();
    r.registry.getWithSession(nodeId, req.sessionId);
    const a: AssignmentStream = {
      kind: "assignments",
      nodeId,
      sessionId: req.sessionId,
      stream: new ServerStream(sink),
      set: new AssignmentSet(nodeId),
      startIndex: 0,
      sequence: 0,
      modifications: 0,
      debounce: undefined,
    };
    a.startIndex = r.store.view((tx) => {
      for (const t of tx.tasksByNode(nodeId)) a.set.addOrUpdateTask(tx, t);
      return tx.index;
    });
    let set = r.assignments.get(nodeId);
    if (!set) r.assignments.set(nodeId, (set = new Set()));
    set.add(a);
    a.stream.onEnd(() => {
      a.debounce?.cancel();
      const s = r.assignments.get(nodeId);
      s?.delete(a);
      if (s?.size === 0) r.assignments.delete(nodeId);
    });
    this.sendAssignments(a, AssignmentsMessage_Type.COMPLETE);
    return a.stream.done;
  }

  private sendAssignments(a: AssignmentStream, type: AssignmentsMessage_Type): void {
    const appliesTo = a.sequence === 0 ? "" : String(a.sequence);
    a.sequence++;
    a.stream.send({ type, appliesTo, resultsIn: String(a.sequence), changes: a.set.takeChanges() });
  }

  /** One change for the stream: send after a quiet BATCHING_WAIT_TIME_MS, or at once after MODIFICATION_BATCH_LIMIT. */
  private modified(r: Running, a: AssignmentStream): void {
    a.modifications++;
    a.debounce?.cancel();
    a.debounce = undefined;
    if (a.modifications >= MODIFICATION_BATCH_LIMIT) {
      this.flushAssignments(r, a);
      return;
    }
    a.debounce = this.clock.setTimeout(() => {
      a.debounce = undefined;
      this.flushAssignments(r, a);
    }, BATCHING_WAIT_TIME_MS);
  }

  private flushAssignments(r: Running, a: AssignmentStream): void {
    a.debounce?.cancel();
    a.debounce = undefined;
    if (a.modifications === 0 || a.stream.isEnded) return;
    a.modifications = 0;
    try {
      r.registry.getWithSession(a.nodeId, a.sessionId);
    } catch (err) {
      a.stream.end(err as Error);
      return;
    }
    this.sendAssignments(a, AssignmentsMessage_Type.INCREMENTAL);
  }

  // ---- UpdateTaskStatus

  async updateTaskStatus(nodeId: string, req: UpdateTaskStatusRequest): Promise<UpdateTaskStatusResponse> {
    const r = this.requireRunning();
    r.registry.getWithSession(nodeId, req.sessionId);
    const valid: Array<{ taskId: string; status: NonNullable<UpdateTaskStatusRequest["updates"][number]["status"]> }> = [];
    for (const u of req.updates) {
      if (!u.status) {
        log.warn({ node: nodeId, task: u.taskId }, "task report has nil status");
        continue;
      }
      const t = r.store.get("task", u.taskId);
      if (!t) {
        log.debug({ node: nodeId, task: u.taskId }, "cannot find target task in store");
        continue;
      }
      if (t.nodeId !== nodeId) {
        log.error({ node: nodeId, task: u.taskId }, "cannot update a task not assigned this node");
        throw errNotAssigned();
      }
      valid.push({ taskId: u.taskId, status: u.status });
    }
    for (const u of valid) r.queue.queueTaskStatus(u.taskId, u.status);
    return {};
  }

  /** Write queued statuses now (tests, shutdown). */
  async flushUpdates(): Promise<void> {
    await this.running?.queue.flush();
  }

  // ---- managers and cluster changes

  private weightedManagers(): WeightedPeer[] {
    let peers: Peer[] = [];
    try {
      peers = this.opts.managers();
    } catch (err) {
      log.warn({ err: errorMessage(err) }, "could not list managers");
    }
    return peers.map((p) => ({ peer: { nodeId: p.nodeId, addr: p.addr }, weight: MANAGER_WEIGHT }));
  }

  /** Re-read the manager list; sessions get a new message when it changed. The lead calls this on raft membership changes. */
  managersChanged(): void {
    const r = this.running;
    if (!r) return;
    const next = this.weightedManagers();
    if (JSON.stringify(next) === JSON.stringify(r.managers)) return;
    r.managers = next;
    for (const s of r.sessions) s.stream.send(this.sessionMessage(r, s));
  }

  private applyCluster(r: Running, c: Cluster): void {
    const period = durationMs(c.spec?.dispatcher?.heartbeatPeriod);
    if (period > 0 && period !== r.heartbeatPeriodMs) {
      r.heartbeatPeriodMs = period;
      r.registry.updatePeriod(period);
    }
    r.networkBootstrapKeys = c.networkBootstrapKeys;
    r.rootCA = Buffer.from(c.rootCa?.caCert ?? new Uint8Array());
  }

  // ---- store events

  private async pump(r: Running): Promise<void> {
    for (;;) {
      try {
        for await (const ev of r.watcher) {
          if (this.running !== r) return;
          this.handle(r, ev);
        }
        return;
      } catch (err) {
        if (this.running !== r) return;
        if (!(err instanceof WatchOverflowError)) {
          log.error({ err: errorMessage(err) }, "dispatcher store watch failed");
          return;
        }
        // Fell behind the store: assignment streams cannot be patched up, agents re-open them.
        log.warn("dispatcher fell behind the store; restarting assignment streams");
        r.watcher = r.store.watch({ kinds: ["task", "node", "cluster"] });
        for (const set of [...r.assignments.values()]) {
          for (const a of [...set]) a.stream.end(new SwarmError("UNAVAILABLE", "dispatcher fell behind the store; re-open the assignments stream"));
        }
        for (const s of r.sessions) {
          s.node = r.store.get("node", s.nodeId);
          s.startIndex = r.store.index;
          s.stream.send(this.sessionMessage(r, s));
        }
      }
    }
  }

  private handle(r: Running, ev: WatchEvent): void {
    if (ev.type !== "change") return;
    switch (ev.kind) {
      case "task":
        this.handleTask(r, ev.index, ev.action, ev.object, ev.oldObject);
        break;
      case "node":
        if (ev.action === "update") {
          for (const s of r.sessions) {
            if (s.nodeId !== ev.object.id || ev.index <= s.startIndex) continue;
            s.node = ev.object;
            s.stream.send(this.sessionMessage(r, s));
          }
        }
        // Promotions and demotions change the manager list.
        this.managersChanged();
        break;
      case "cluster":
        if (ev.action === "remove" || ev.object.spec?.annotations?.name !== DEFAULT_CLUSTER_NAME) break;
        this.applyCluster(r, ev.object);
        for (const s of r.sessions) if (ev.index > s.startIndex) s.stream.send(this.sessionMessage(r, s));
        break;
      default:
        break;
    }
  }

  private handleTask(r: Running, index: number, action: string, task: Task, old: Task | undefined): void {
    const streamsOf = (nodeId: string) => (nodeId ? [...(r.assignments.get(nodeId) ?? [])].filter((a) => index > a.startIndex) : []);
    if (action === "remove") {
      for (const a of streamsOf(task.nodeId)) if (a.set.removeTask(task)) this.modified(r, a);
      return;
    }
    if (old && old.nodeId && old.nodeId !== task.nodeId) {
      for (const a of streamsOf(old.nodeId)) if (a.set.removeTask(old)) this.modified(r, a);
    }
    const streams = streamsOf(task.nodeId);
    if (streams.length === 0) return;
    r.store.view((tx) => {
      for (const a of streams) if (a.set.addOrUpdateTask(tx, task)) this.modified(r, a);
    });
  }

  /** A node's registry entry was replaced or dropped: streams of a session that is no longer valid end. */
  private sessionInvalidated(r: Running, nodeId: string): void {
    const check = (sessionId: string): Error | undefined => {
      try {
        r.registry.getWithSession(nodeId, sessionId);
        return undefined;
      } catch (err) {
        return err as Error;
      }
    };
    for (const s of [...r.sessions]) {
      if (s.nodeId !== nodeId) continue;
      const err = check(s.sessionId);
      if (err) s.stream.end(err);
    }
    for (const a of [...(r.assignments.get(nodeId) ?? [])]) {
      const err = check(a.sessionId);
      if (err) a.stream.end(err);
    }
  }
}
