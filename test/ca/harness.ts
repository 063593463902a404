// A manager's remote API in one process: MemoryStore + InMemoryProposer with
// the default cluster object, the CA services behind RemoteApiServer on
// 127.0.0.1:0 with real TLS, and the signing loop on a real SignerPool.
import { credentials, Metadata, type ChannelCredentials, type ServiceError } from "@grpc/grpc-js";
import {
  CAClient,
  NodeCAClient,
  NodeSpec_Availability,
  RaftMembershipClient,
  RaftMembershipService,
  type RaftMembershipServer,
  type IssueNodeCertificateResponse,
  type NodeCertificateStatusResponse,
} from "../../src/shared/api/index.js";
import type { IdentityData } from "../../src/shared/contracts/index.js";
import { newId } from "../../src/shared/ids.js";
import {
  CA_ROLE,
  MANAGER_ROLE,
  createKeyAndCsr,
  createRootCA,
  signNodeCsr,
  type NodeRole,
} from "../../src/shared/pki/index.js";
import { bootstrapClusterObjects } from "../../src/workers/manager/bootstrap.js";
import { CaServer, SignerPool, SigningLoop } from "../../src/workers/manager/ca/index.js";
import {
  RAFT_MEMBERSHIP_POLICIES,
  RemoteApiServer,
  policyFromTable,
  storeClusterView,
} from "../../src/workers/manager/remoteapi/index.js";
import { InMemoryProposer, MemoryStore } from "../../src/workers/manager/store/index.js";

export interface Cluster {
  caPem: string;
  caKeyPem: string;
  clusterId: string;
  manager: { nodeId: string; certPem: string; keyPem: string };
}

export async function newCluster(): Promise<Cluster> {
  const ca = await createRootCA();
  const clusterId = newId();
  const nodeId = newId();
  const { keyPem, csrPem } = await createKeyAndCsr();
  const certPem = signNodeCsr({ csrPem, caCertPem: ca.certPem, caKeyPem: ca.keyPem, nodeId, role: MANAGER_ROLE, clusterId });
  return { caPem: ca.certPem, caKeyPem: ca.keyPem, clusterId, manager: { nodeId, certPem, keyPem } };
}

/** A node certificate signed directly (for callers that are "already joined"). */
export async function nodeCert(c: Cluster, role: NodeRole, nodeId = newId()): Promise<{ nodeId: string; certPem: string; keyPem: string }> {
  const { keyPem, csrPem } = await createKeyAndCsr();
  return { nodeId, keyPem, certPem: signNodeCsr({ csrPem, caCertPem: c.caPem, caKeyPem: c.caKeyPem, nodeId, role, clusterId: c.clusterId }) };
}

export class CaHarness {
  readonly store = new MemoryStore();
  readonly proposer = new InMemoryProposer(this.store);
  readonly signer: SignerPool;
  readonly loop: SigningLoop;
  readonly server: RemoteApiServer;
  readonly ca: CaServer;
  addr = "";
  raftJoins = 0;

  private constructor(readonly cluster: Cluster) {
    this.signer = new SignerPool({ threads: 2 });
    this.loop = new SigningLoop({ store: this.store, proposer: this.proposer, clusterId: cluster.clusterId, signer: this.signer });
    this.server = new RemoteApiServer({
      listen: { host: "127.0.0.1", port: 0 },
      tls: { caPem: cluster.caPem, certPem: cluster.manager.certPem, keyPem: cluster.manager.keyPem },
      cluster: storeClusterView(this.store, cluster.clusterId),
    });
    this.ca = new CaServer({
      store: this.store,
      proposer: this.proposer,
      clusterId: cluster.clusterId,
      rootCaPem: cluster.caPem,
      isLeader: () => true,
      statusWaitMs: 5000,
    });
    this.ca.register(this.server);
    // A manager-only service to test authorization against (answers with an empty member list).
    this.server.addService(
      RaftMembershipService,
      {
        join: (_call, cb) => {
          this.raftJoins++;
          cb(null, { raftId: 1, members: [], removedMembers: [] });
        },
        leave: (_call, cb) => cb(null, {}),
      } satisfies RaftMembershipServer,
      policyFromTable(RAFT_MEMBERSHIP_POLICIES, "RaftMembership"),
    );
  }

  static async start(cluster?: Cluster): Promise<CaHarness> {
    const h = new CaHarness(cluster ?? (await newCluster()));
    const identity: IdentityData = {
      nodeId: h.cluster.manager.nodeId,
      role: "manager",
      clusterId: h.cluster.clusterId,
      tls: { caPem: h.cluster.caPem, certPem: h.cluster.manager.certPem, keyPem: h.cluster.manager.keyPem },
      rootCaKeyPem: h.cluster.caKeyPem,
    };
    await bootstrapClusterObjects(h.store, h.proposer, identity, "manager-host", { heartbeatTick: 1, electionTick: 10 });
    await h.signer.start();
    h.loop.start();
    const bound = await h.server.start();
    h.addr = `127.0.0.1:${bound.port}`;
    return h;
  }

  tokens(): { worker: string; manager: string } {
    const t = this.store.get("cluster", this.cluster.clusterId)!.rootCa!.joinTokens!;
    return { worker: t.worker, manager: t.manager };
  }

  async stop(): Promise<void> {
    await this.server.stop();
    await this.loop.stop();
    await this.signer.stop();
  }

  // ---- clients

  /** Credentials that verify the server against the cluster root, with an optional client certificate. */
  creds(client?: { certPem: string; keyPem: string }, caPem = this.cluster.caPem): ChannelCredentials {
    return client
      ? credentials.createSsl(Buffer.from(caPem), Buffer.from(client.keyPem), Buffer.from(client.certPem))
      : credentials.createSsl(Buffer.from(caPem));
  }

  nodeCa(creds = this.creds()): NodeCAClient {
    return new NodeCAClient(this.addr, creds, { "grpc.ssl_target_name_override": CA_ROLE });
  }

  caClient(creds = this.creds()): CAClient {
    return new CAClient(this.addr, creds, { "grpc.ssl_target_name_override": CA_ROLE });
  }

  raftMembership(creds = this.creds()): RaftMembershipClient {
    return new RaftMembershipClient(this.addr, creds, { "grpc.ssl_target_name_override": MANAGER_ROLE });
  }
}

const opts = (ms = 10_000) => ({ deadline: new Date(Date.now() + ms) });

export function call<Res>(fn: (md: Metadata, o: { deadline: Date }, cb: (err: ServiceError | null, res: Res) => void) => void, ms?: number): Promise<Res> {
  return new Promise((resolve, reject) => fn(new Metadata(), opts(ms), (err, res) => (err ? reject(err) : resolve(res))));
}

export async function issue(client: NodeCAClient, csrPem: string, token: string): Promise<IssueNodeCertificateResponse> {
  return call((md, o, cb) =>
    client.issueNodeCertificate({ role: 0, csr: Buffer.from(csrPem), token, availability: NodeSpec_Availability.ACTIVE }, md, o, cb),
  );
}

export async function status(client: NodeCAClient, nodeId: string): Promise<NodeCertificateStatusResponse> {
  return call((md, o, cb) => client.nodeCertificateStatus({ nodeId }, md, o, cb));
}
