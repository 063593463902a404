// Managers in one process for transport tests: each has its own temp dir,
// certificate (manager OU, one cluster O), grpc-js server on 127.0.0.1:0
// serving Raft + RaftMembership behind a managers-only guard, a
// GrpcRaftTransport and a RaftNode with a short tick.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type ServiceError,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from "@grpc/grpc-js";
import type { ServerSurfaceCall } from "@grpc/grpc-js/build/src/server-call.js";
import { RaftMembershipService, RaftService, Service, type JoinResponse } from "../../src/shared/api/index.js";
import { newId } from "../../src/shared/ids.js";
import { createKeyAndCsr, createRootCA, signNodeCsr, type RootCA } from "../../src/shared/pki/index.js";
import { toServiceError } from "../../src/workers/manager/controlapi/errors.js";
import { MembershipService } from "../../src/workers/manager/raft/membership-service.js";
import { RaftNode, type RaftNodeOptions } from "../../src/workers/manager/raft/raft-node.js";
import { GrpcRaftTransport, dialRaftMembership, peerCredentials, raftServiceHandlers, type PeerTls } from "../../src/workers/manager/raft/transport/index.js";
import { MANAGER_ROLE, WORKER_ROLE, authorize, type Caller } from "../../src/workers/manager/remoteapi/caller.js";
import { MemoryStore, update, type Tx } from "../../src/workers/manager/store/index.js";

export const TICK_MS = 20;
export const ELECTION_TICK = 10;

export interface ClusterCa {
  ca: RootCA;
  clusterId: string;
}

export async function newClusterCa(): Promise<ClusterCa> {
  return { ca: await createRootCA(), clusterId: newId() };
}

export async function nodeTls(c: ClusterCa, role: typeof MANAGER_ROLE | typeof WORKER_ROLE = MANAGER_ROLE, nodeId = newId()): Promise<PeerTls & { nodeId: string }> {
  const { keyPem, csrPem } = await createKeyAndCsr();
  const certPem = signNodeCsr({ csrPem, caCertPem: c.ca.certPem, caKeyPem: c.ca.keyPem, nodeId, role, clusterId: c.clusterId });
  return { caPem: c.ca.certPem, certPem, keyPem, nodeId };
}

const callers = new WeakMap<ServerSurfaceCall, Caller | undefined>();

/** Wraps every handler of a unary/client-streaming service with the managers-only check. */
function guarded(def: ServiceDefinition, impl: UntypedServiceImplementation, clusterId: string, counters: Counters): UntypedServiceImplementation {
  const out: UntypedServiceImplementation = {};
  for (const [key, handler] of Object.entries(impl)) {
    const method = def[key]!.path;
    out[key] = ((call: ServerSurfaceCall, cb: sendUnaryData<unknown>) => {
      try {
        callers.set(call, authorize(call, { roles: [MANAGER_ROLE] }, { id: clusterId, isRemoved: () => false }));
      } catch (err) {
        cb(toServiceError(err, method) as ServiceError);
        return;
      }
      if (key === "streamRaftMessage") {
        call.on("data", (req: { message?: { type: number; snapshot?: { data?: Buffer } } }) => {
          if (req.message?.type === 7) {
            counters.snapshotChunks++;
            counters.snapshotBytes += req.message.snapshot?.data?.length ?? 0;
          }
        });
      }
      (handler as (call: ServerSurfaceCall, cb: sendUnaryData<unknown>) => void)(call, cb);
    }) as UntypedHandleCall;
  }
  return out;
}

export interface Counters {
  snapshotChunks: number;
  snapshotBytes: number;
}

export class TestManager {
  node: RaftNode | undefined;
  store = new MemoryStore();
  transport: GrpcRaftTransport;
  readonly counters: Counters = { snapshotChunks: 0, snapshotBytes: 0 };
  removed = false;
  private server: Server | undefined;
  addr = "";
  stopped = false;

  private constructor(
    readonly dir: string,
    readonly tls: PeerTls & { nodeId: string },
    readonly cluster: ClusterCa,
    private readonly nodeOpts: Partial<RaftNodeOptions>,
  ) {
    this.transport = new GrpcRaftTransport({ tls });
  }

  get nodeId(): string {
    return this.tls.nodeId;
  }

  get raft(): RaftNode {
    if (!this.node) throw new Error(`manager ${this.nodeId} has no raft node`);
    return this.node;
  }

  static async create(cluster: ClusterCa, nodeOpts: Partial<RaftNodeOptions> = {}): Promise<TestManager> {
    const dir = await mkdtemp(join(tmpdir(), "raft-transport-"));
    const m = new TestManager(dir, await nodeTls(cluster), cluster, nodeOpts);
    await m.listen();
    return m;
  }

  private async listen(): Promise<void> {
    const server = new Server({ "grpc.max_receive_message_length": 4 << 20 });
    const membership = new MembershipService({
      node: () => this.node,
      callerOf: (call) => callers.get(call),
      credentials: this.transport.credentials,
      healthCheckTimeoutMs: 1000,
    });
    server.addService(RaftService, guarded(RaftService, raftServiceHandlers({ node: () => this.node }) as unknown as UntypedServiceImplementation, this.cluster.clusterId, this.counters));
    server.addService(RaftMembershipService, guarded(RaftMembershipService, membership.handlers() as unknown as UntypedServiceImplementation, this.cluster.clusterId, this.counters));
    const creds = ServerCredentials.createSsl(Buffer.from(this.tls.caPem), [{ cert_chain: Buffer.from(this.tls.certPem), private_key: Buffer.from(this.tls.keyPem) }], true);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", creds, (err, p) => (err ? reject(err) : resolve(p))));
    this.server = server;
    this.addr = `127.0.0.1:${port}`;
  }

  private options(): RaftNodeOptions {
    return {
      dir: join(this.dir, "raft"),
      nodeId: this.nodeId,
      addr: this.addr,
      tickIntervalMs: TICK_MS,
      electionTick: ELECTION_TICK,
      heartbeatTick: 1,
      store: this.store,
      transport: this.transport,
      ...this.nodeOpts,
    };
  }

  private startNode(node: RaftNode): void {
    this.node = node;
    node.onRemoved(() => {
      this.removed = true;
    });
    node.start();
  }

  /** First manager: a new one-member cluster that elects itself. */
  async bootstrap(): Promise<void> {
    const node = await RaftNode.open(this.options());
    const leader = new Promise<void>((resolve) => node.onLeadership((l) => l && resolve()));
    this.startNode(node);
    await leader;
  }

  /** Calls RaftMembership.Join at `via` with this manager's certificate, then starts as a joiner. */
  async join(via: TestManager, requestAddr = this.addr): Promise<JoinResponse> {
    const res = await this.callJoin(via.addr, requestAddr);
    const node = await RaftNode.open({
      ...this.options(),
      join: { raftId: res.raftId, members: res.members.map((m) => ({ raftId: m.raftId, nodeId: m.nodeId, addr: m.addr })) },
    });
    this.startNode(node);
    return res;
  }

  callJoin(target: string, requestAddr = this.addr): Promise<JoinResponse> {
    const client = dialRaftMembership(target, peerCredentials(this.tls));
    return new Promise<JoinResponse>((resolve, reject) =>
      client.join({ addr: requestAddr }, (err, res) => {
        client.close();
        if (err) reject(err);
        else resolve(res);
      }),
    );
  }

  callLeave(target: string, raftId: number): Promise<void> {
    const client = dialRaftMembership(target, peerCredentials(this.tls));
    return new Promise<void>((resolve, reject) =>
      client.leave({ node: { raftId, nodeId: "", addr: "", status: undefined } }, (err) => {
        client.close();
        if (err) reject(err);
        else resolve();
      }),
    );
  }

  /** What a kill -9 looks like to the others: connections drop, nothing more is sent. */
  async kill(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.server?.forceShutdown();
    await this.transport.close();
    await this.node?.stop();
  }

  async close(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export function createService(name: string, labels: Record<string, string> = {}) {
  return (tx: Tx) => tx.create("service", Service.fromPartial({ id: newId(), spec: { annotations: { name, labels } } }));
}

export function serviceNames(m: TestManager): string[] {
  return m.store.view((tx) => tx.find("service", {})).map((s) => s.spec!.annotations!.name).sort();
}

export async function write(leader: TestManager, name: string, labels: Record<string, string> = {}): Promise<void> {
  await update(leader.store, leader.raft, createService(name, labels));
}

export async function waitFor(what: string, fn: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function leaderOf(managers: readonly TestManager[]): TestManager | undefined {
  return managers.find((m) => !m.stopped && m.node?.isLeader());
}
