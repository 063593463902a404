// A control server on a unix socket in a temp dir, with real TLS material
// and a MemoryStore + InMemoryProposer backend whose leadership, forwarding
// and raft membership the test controls.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServiceError } from "@grpc/grpc-js";
import {
  Cluster,
  NodeRole,
  NodeSpec_Availability,
  NodeSpec_Membership,
  NodeStatus_State,
  type ControlClient,
  Node,
} from "../../src/shared/api/index.js";
import { connectControl } from "../../src/shared/control-client.js";
import { newId } from "../../src/shared/ids.js";
import { MANAGER_ROLE, createKeyAndCsr, createRootCA, generateJoinTokens, rootCertHash, signNodeCsr } from "../../src/shared/pki/index.js";
import {
  startControlServer,
  type ControlBackend,
  type RaftMemberInfo,
  type RunningControlServer,
  type WriteMethod,
  type MethodRequest,
  type MethodResponse,
} from "../../src/workers/manager/controlapi/index.js";
import type { ImplementedMethod } from "../../src/workers/manager/controlapi/methods.js";
import { InMemoryProposer, MemoryStore } from "../../src/workers/manager/store/index.js";

export interface Tls {
  caPem: string;
  caKeyPem: string;
  certPem: string;
  keyPem: string;
  clusterId: string;
  nodeId: string;
}

let tlsPromise: Promise<Tls> | undefined;

/** One CA and manager certificate per test process (RSA keygen is slow-ish). */
export function tlsMaterial(): Promise<Tls> {
  tlsPromise ??= (async () => {
    const ca = await createRootCA();
    const clusterId = newId();
    const nodeId = newId();
    const { keyPem, csrPem } = await createKeyAndCsr();
    const certPem = signNodeCsr({ csrPem, caCertPem: ca.certPem, caKeyPem: ca.keyPem, nodeId, role: MANAGER_ROLE, clusterId });
    return { caPem: ca.certPem, caKeyPem: ca.keyPem, certPem, keyPem, clusterId, nodeId };
  })();
  return tlsPromise;
}

export class TestBackend implements ControlBackend {
  readonly store = new MemoryStore();
  readonly proposer = new InMemoryProposer(this.store);
  leader = true;
  leaderKnown = true;
  members: RaftMemberInfo[] = [];
  forwarded: { method: string; request: unknown }[] = [];
  forwardImpl: ((method: WriteMethod, request: unknown) => Promise<unknown>) | undefined;
  /** Set to test the control socket's raw path (ControlBackend.forwardRaw). */
  forwardRawImpl: ((method: WriteMethod, request: Buffer) => Promise<Buffer>) | undefined;
  forwardedRaw: { method: string; request: Buffer }[] = [];

  isLeader(): boolean {
    return this.leader;
  }
  hasLeader(): boolean {
    return this.leader || this.leaderKnown;
  }
  raftMembers(): RaftMemberInfo[] {
    return this.members;
  }
  get forward(): ControlBackend["forward"] {
    const impl = this.forwardImpl;
    if (!impl) return undefined;
    const forward = async (method: WriteMethod, request: unknown): Promise<unknown> => {
      this.forwarded.push({ method, request });
      return impl(method, request);
    };
    return forward as unknown as ControlBackend["forward"];
  }
  get forwardRaw(): ControlBackend["forwardRaw"] {
    const impl = this.forwardRawImpl;
    if (!impl) return undefined;
    return async (method: WriteMethod, request: Buffer): Promise<Buffer> => {
      this.forwardedRaw.push({ method, request });
      return impl(method, request);
    };
  }
}

export interface Harness {
  dir: string;
  socketPath: string;
  tls: Tls;
  backend: TestBackend;
  server: RunningControlServer;
  client: ControlClient;
  close(): Promise<void>;
}

export async function startHarness(now?: () => Date): Promise<Harness> {
  const tls = await tlsMaterial();
  const dir = await mkdtemp(join(tmpdir(), "controlapi-"));
  const socketPath = join(dir, "swarmd.sock");
  const backend = new TestBackend();
  await seedCluster(backend, tls);
  const server = await startControlServer({
    socketPath,
    tls: { certPem: tls.certPem, keyPem: tls.keyPem, caPem: tls.caPem },
    backend,
    ...(now ? { now } : {}),
  });
  const client = connectControl(socketPath);
  return {
    dir,
    socketPath,
    tls,
    backend,
    server,
    client,
    async close() {
      client.close();
      await server.stop(500);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The default cluster object, as the first leader creates it. */
export async function seedCluster(backend: TestBackend, tls: Tls): Promise<void> {
  const prepared = backend.store.prepare((tx) =>
    tx.create(
      "cluster",
      Cluster.fromPartial({
        id: tls.clusterId,
        spec: {
          annotations: { name: "default" },
          orchestration: { taskHistoryRetentionLimit: 5 },
          dispatcher: { heartbeatPeriod: { seconds: 5, nanos: 0 } },
          caConfig: { nodeCertExpiry: { seconds: 2160 * 3600, nanos: 0 }, signingCaKey: Buffer.from("spec-signing-key") },
        },
        rootCa: {
          caKey: Buffer.from(tls.caKeyPem),
          caCert: Buffer.from(tls.caPem),
          caCertHash: rootCertHash(tls.caPem),
          joinTokens: generateJoinTokens(tls.caPem),
        },
        unlockKeys: [],
        networkBootstrapKeys: [{ subsystem: "networking:gossip", algorithm: 0, key: Buffer.from("0123456789abcdef"), lamportTime: 1 }],
      }),
    ),
  );
  await backend.proposer.propose(prepared.actions);
}

export function nodeObject(
  id: string,
  opts: { hostname?: string; role?: NodeRole; ready?: boolean; labels?: Record<string, string>; certPem?: string } = {},
): Node {
  const role = opts.role ?? NodeRole.WORKER;
  return Node.fromPartial({
    id,
    spec: {
      annotations: { name: "", labels: opts.labels ?? {} },
      desiredRole: role,
      membership: NodeSpec_Membership.ACCEPTED,
      availability: NodeSpec_Availability.ACTIVE,
    },
    description: { hostname: opts.hostname ?? id, engine: { engineVersion: "", labels: { engine: "yes" }, plugins: [] } },
    status: { state: opts.ready === false ? NodeStatus_State.DOWN : NodeStatus_State.READY, message: "", addr: "127.0.0.1" },
    ...(opts.certPem ? { certificate: { role, certificate: Buffer.from(opts.certPem), cn: id } } : {}),
    role,
  });
}

/** Write objects straight into the store (as other manager components would). */
export async function put(backend: TestBackend, fn: Parameters<MemoryStore["prepare"]>[0]): Promise<void> {
  const prepared = backend.store.prepare(fn);
  await backend.proposer.propose(prepared.actions);
}

type Callback = (err: ServiceError | null, res: unknown) => void;

/** Promise form of a unary client method, typed by method name. */
export function rpc<M extends ImplementedMethod>(
  client: ControlClient,
  method: M,
  req: MethodRequest<M>,
): Promise<MethodResponse<M>> {
  const fn = client[method] as unknown as (this: ControlClient, req: unknown, cb: Callback) => unknown;
  return new Promise((resolve, reject) => {
    fn.call(client, req, (err, res) => (err ? reject(err) : resolve(res as MethodResponse<M>)));
  });
}

/** The gRPC error of a call that must fail (any Control method, implemented or not). */
export async function rpcError(client: ControlClient, method: keyof ControlClient & string, req: unknown): Promise<ServiceError> {
  const fn = client[method] as unknown as (this: ControlClient, req: unknown, cb: Callback) => unknown;
  const result = await new Promise<{ err: ServiceError | null }>((resolve) => {
    fn.call(client, req, (err) => resolve({ err }));
  });
  if (!result.err) throw new Error(`${method} succeeded but was expected to fail`);
  return result.err;
}
