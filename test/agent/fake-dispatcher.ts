// A scripted Dispatcher for agent tests: a grpc-js server implementing the
// generated Dispatcher service on 127.0.0.1:0 with mutual TLS from the
// project's PKI. It keeps a task set per node, sends it as COMPLETE on each
// Assignments stream and pushes INCREMENTAL changes, and records sessions,
// heartbeats and status updates for assertions.
import * as grpc from "@grpc/grpc-js";
import {
  AssignmentChange_AssignmentAction,
  AssignmentsMessage_Type,
  DispatcherService,
  Task,
  TaskState,
  type AssignmentChange,
  type AssignmentsMessage,
  type AssignmentsRequest,
  type DispatcherServer,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type NodeDescription,
  type SessionMessage,
  type SessionRequest,
  type TaskStatus,
  type UpdateTaskStatusRequest,
  type UpdateTaskStatusResponse,
  type WeightedPeer,
} from "../../src/shared/api/index.js";
import { newId } from "../../src/shared/ids.js";
import { MANAGER_ROLE, WORKER_ROLE, createKeyAndCsr, createRootCA, signNodeCsr, type RootCA } from "../../src/shared/pki/index.js";

export interface Tls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export interface Pki {
  ca: RootCA;
  clusterId: string;
  issue(nodeId: string, role: typeof MANAGER_ROLE | typeof WORKER_ROLE): Promise<Tls>;
}

export async function makePki(): Promise<Pki> {
  const ca = await createRootCA();
  const clusterId = newId();
  return {
    ca,
    clusterId,
    async issue(nodeId, role) {
      const { keyPem, csrPem } = await createKeyAndCsr();
      const certPem = signNodeCsr({ csrPem, caCertPem: ca.certPem, caKeyPem: ca.keyPem, nodeId, role, clusterId });
      return { caPem: ca.certPem, certPem, keyPem };
    },
  };
}

export interface RecordedStatus {
  taskId: string;
  state: number;
  message: string;
  err: string;
  containerId: string;
  exitCode: number;
}

export class FakeDispatcher {
  readonly nodeId: string;
  port = 0;
  readonly sessions: Array<{ nodeId: string; description: NodeDescription | undefined; sessionId: string }> = [];
  readonly statuses: RecordedStatus[] = [];
  heartbeats = 0;
  assignmentStreamsOpened = 0;
  heartbeatPeriodMs = 1000;
  /** Managers announced in session messages. */
  managers: WeightedPeer[] = [];
  readonly tasks = new Map<string, Task>();
  private server: grpc.Server | undefined;
  private readonly streams = new Set<{ call: grpc.ServerWritableStream<AssignmentsRequest, AssignmentsMessage>; seq: number }>();
  private readonly sessionCalls = new Set<grpc.ServerWritableStream<SessionRequest, SessionMessage>>();

  private constructor(nodeId: string) {
    this.nodeId = nodeId;
  }

  static async start(pki: Pki, port = 0): Promise<FakeDispatcher> {
    const d = new FakeDispatcher(newId());
    await d.listen(pki, port);
    return d;
  }

  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }

  private async listen(pki: Pki, port: number): Promise<void> {
    const tls = await pki.issue(this.nodeId, MANAGER_ROLE);
    const server = new grpc.Server();
    const impl: DispatcherServer = {
      session: (call) => this.onSession(call),
      heartbeat: (call, cb) => this.onHeartbeat(call, cb),
      updateTaskStatus: (call, cb) => this.onUpdateTaskStatus(call, cb),
      updateVolumeStatus: (_call, cb) => cb(null, {}),
      tasks: (call) => call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: "use Assignments" }),
      assignments: (call) => this.onAssignments(call),
    };
    server.addService(DispatcherService, impl);
    const creds = grpc.ServerCredentials.createSsl(
      Buffer.from(pki.ca.certPem),
      [{ private_key: Buffer.from(tls.keyPem), cert_chain: Buffer.from(tls.certPem) }],
      true,
    );
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.server = server;
  }

  /** Drops every connection and stops listening. */
  stop(): void {
    for (const s of this.streams) s.call.destroy();
    for (const c of this.sessionCalls) c.destroy();
    this.streams.clear();
    this.sessionCalls.clear();
    this.server?.forceShutdown();
    this.server = undefined;
  }

  /** Assigns (or updates) a task: INCREMENTAL UPDATE to open streams. */
  putTask(task: Task): void {
    this.tasks.set(task.id, task);
    this.push([{ assignment: { item: { $case: "task", value: task } }, action: AssignmentChange_AssignmentAction.UPDATE }]);
  }

  /** Unassigns a task: INCREMENTAL REMOVE. */
  removeTask(id: string): void {
    const t = this.tasks.get(id);
    this.tasks.delete(id);
    if (t) this.push([{ assignment: { item: { $case: "task", value: t } }, action: AssignmentChange_AssignmentAction.REMOVE }]);
  }

  /** Sends a COMPLETE set on the open streams (as after a manager-side resync). */
  sendComplete(): void {
    for (const s of this.streams) this.sendOn(s, AssignmentsMessage_Type.COMPLETE, this.completeChanges());
  }

  /** An INCREMENTAL message that does not follow on from the last one (the agent must re-sync). */
  sendOutOfSequence(): void {
    for (const s of this.streams) s.call.write({ type: AssignmentsMessage_Type.INCREMENTAL, appliesTo: "bogus", resultsIn: "bogus2", changes: [] });
  }

  statesOf(taskId: string): number[] {
    return this.statuses.filter((s) => s.taskId === taskId).map((s) => s.state);
  }

  lastStatus(taskId: string): RecordedStatus | undefined {
    return this.statuses.filter((s) => s.taskId === taskId).pop();
  }

  get openAssignmentStreams(): number {
    return this.streams.size;
  }

  private completeChanges(): AssignmentChange[] {
    return [...this.tasks.values()].map((t) => ({ assignment: { item: { $case: "task", value: t } }, action: AssignmentChange_AssignmentAction.UPDATE }));
  }

  private push(changes: AssignmentChange[]): void {
    for (const s of this.streams) this.sendOn(s, AssignmentsMessage_Type.INCREMENTAL, changes);
  }

  private sendOn(s: { call: grpc.ServerWritableStream<AssignmentsRequest, AssignmentsMessage>; seq: number }, type: AssignmentsMessage_Type, changes: AssignmentChange[]): void {
    const appliesTo = type === AssignmentsMessage_Type.COMPLETE ? "" : String(s.seq);
    s.seq++;
    s.call.write({ type, appliesTo, resultsIn: String(s.seq), changes });
  }

  private callerId(call: grpc.ServerWritableStream<SessionRequest, SessionMessage>): string {
    const subject = (call.getAuthContext().sslPeerCertificate?.subject ?? {}) as { CN?: string };
    return subject.CN ?? "";
  }

  private onSession(call: grpc.ServerWritableStream<SessionRequest, SessionMessage>): void {
    const sessionId = newId();
    this.sessions.push({ nodeId: this.callerId(call), description: call.request.description, sessionId });
    this.sessionCalls.add(call);
    call.on("cancelled", () => this.sessionCalls.delete(call));
    call.on("close", () => this.sessionCalls.delete(call));
    call.write({ sessionId, node: undefined, managers: this.managers, networkBootstrapKeys: [], RootCA: Buffer.alloc(0) });
  }

  private onHeartbeat(_call: grpc.ServerUnaryCall<HeartbeatRequest, HeartbeatResponse>, cb: grpc.sendUnaryData<HeartbeatResponse>): void {
    this.heartbeats++;
    const ms = this.heartbeatPeriodMs;
    cb(null, { period: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 } });
  }

  private onUpdateTaskStatus(
    call: grpc.ServerUnaryCall<UpdateTaskStatusRequest, UpdateTaskStatusResponse>,
    cb: grpc.sendUnaryData<UpdateTaskStatusResponse>,
  ): void {
    for (const u of call.request.updates) {
      const s: TaskStatus | undefined = u.status;
      if (!s) continue;
      const c = s.runtimeStatus?.$case === "container" ? s.runtimeStatus.value : undefined;
      this.statuses.push({ taskId: u.taskId, state: s.state, message: s.message, err: s.err, containerId: c?.containerId ?? "", exitCode: c?.exitCode ?? 0 });
    }
    cb(null, {});
  }

  private onAssignments(call: grpc.ServerWritableStream<AssignmentsRequest, AssignmentsMessage>): void {
    const s = { call, seq: 0 };
    this.assignmentStreamsOpened++;
    this.streams.add(s);
    const drop = () => this.streams.delete(s);
    call.on("cancelled", drop);
    call.on("close", drop);
    this.sendOn(s, AssignmentsMessage_Type.COMPLETE, this.completeChanges());
  }
}

/** A busybox task for `nodeId` running `cmd` (sh -c), desired RUNNING, grace 1 s. */
export function containerTask(nodeId: string, serviceName: string, slot: number, cmd: string, labels: Record<string, string> = {}): Task {
  return Task.fromPartial({
    id: newId(),
    serviceId: newId(),
    slot,
    nodeId,
    serviceAnnotations: { name: serviceName },
    annotations: { labels },
    spec: {
      runtime: {
        $case: "container",
        value: { image: "busybox:local", command: ["sh", "-c"], args: [cmd], stopGracePeriod: { seconds: 1, nanos: 0 } },
      },
    },
    desiredState: TaskState.RUNNING,
    status: { state: TaskState.ASSIGNED, message: "assigned" },
  });
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 30_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
