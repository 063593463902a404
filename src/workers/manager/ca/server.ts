// SwarmKit's CA and NodeCA gRPC services on a manager. Joins and renewals
// are written on the leader (a follower forwards them); status polls and the
// root certificate are served from the local store. Signing itself is the
// leader's SigningLoop (start/stop with leadership).
import type { ServerUnaryCall, sendUnaryData } from "@grpc/grpc-js";
import {
  CAService,
  NodeCAService,
  type CAServer as CAHandlers,
  type GetRootCACertificateRequest,
  type GetRootCACertificateResponse,
  type GetUnlockKeyRequest,
  type GetUnlockKeyResponse,
  type IssueNodeCertificateRequest,
  type IssueNodeCertificateResponse,
  type NodeCAServer as NodeCAHandlers,
  type NodeCertificateStatusRequest,
  type NodeCertificateStatusResponse,
} from "../../../shared/api/index.js";
import { SwarmError } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import { toServiceError } from "../controlapi/errors.js";
import { removedFromSwarm } from "../remoteapi/caller.js";
import { CA_POLICIES, NODE_CA_POLICIES, policyFromTable } from "../remoteapi/policies.js";
import { requestCaller, type RemoteApiServer } from "../remoteapi/server.js";
import type { MemoryStore, Proposer } from "../store/index.js";
import { issueNodeCertificate, nodeCertificateStatus } from "./issuance.js";
import type { LeaderLink } from "./leader-link.js";

const log = getLogger("ca");

/** Longest a NodeCertificateStatus call waits for a final state before answering with the current one. */
export const DEFAULT_STATUS_WAIT_MS = 30_000;
const FORWARD_TIMEOUT_MS = 10_000;

export interface CaServerOptions {
  store: MemoryStore;
  proposer: Proposer;
  clusterId: string;
  /** This manager's root bundle, byte for byte (served until the cluster object exists). */
  rootCaPem: string;
  isLeader(): boolean;
  /** How a follower reaches the leader; without it a follower answers UNAVAILABLE for writes. */
  leader?: LeaderLink;
  statusWaitMs?: number;
}

function unary<Req, Res>(method: string, fn: (call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res) {
  return (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>): void => {
    Promise.resolve()
      .then(() => fn(call))
      .then(
        (res) => cb(null, res),
        (err: unknown) => cb(toServiceError(err, method)),
      );
  };
}

/** Milliseconds left until a grpc-js deadline (Infinity when there is none). */
function msUntil(deadline: Date | number): number {
  const t = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : Infinity;
}

export class CaServer {
  constructor(private readonly opts: CaServerOptions) {}

  /** The root bundle exactly as the cluster stores it (its digest is in the join tokens). */
  rootCaPem(): string {
    const c = this.opts.store.get("cluster", this.opts.clusterId);
    const pem = c?.rootCa?.caCert;
    return pem && pem.length > 0 ? Buffer.from(pem).toString() : this.opts.rootCaPem;
  }

  async issue(
    req: IssueNodeCertificateRequest,
    caller: ReturnType<typeof requestCaller>,
    remoteAddr: string,
    deadline: Date,
  ): Promise<IssueNodeCertificateResponse> {
    const { store, proposer, clusterId } = this.opts;
    // A valid certificate of this cluster means renewal (authorization has
    // already refused removed nodes only for role-checked methods, so check here).
    const cluster = store.get("cluster", clusterId);
    const removed = caller !== undefined && cluster !== undefined && Object.hasOwn(cluster.blacklistedCertificates, caller.nodeId);
    if (removed) throw removedFromSwarm(caller!.nodeId);
    const renewing = caller && caller.clusterId === clusterId ? { nodeId: caller.nodeId } : undefined;
    if (!this.opts.isLeader()) {
      if (!this.opts.leader) throw new SwarmError("UNAVAILABLE", "this manager is not the leader; retry with another manager");
      return this.opts.leader.issueNodeCertificate(req, renewing ? caller : undefined, remoteAddr, deadline);
    }
    const res = await issueNodeCertificate(
      store,
      proposer,
      clusterId,
      { csr: req.csr, token: req.token, availability: req.availability },
      renewing,
    );
    log.info({ nodeId: res.nodeId, renewal: renewing !== undefined, from: caller?.remoteAddr ?? remoteAddr }, renewing ? "certificate renewal requested" : "node joining");
    return res;
  }

  readonly nodeCa: NodeCAHandlers = {
    issueNodeCertificate: unary<IssueNodeCertificateRequest, IssueNodeCertificateResponse>("IssueNodeCertificate", (call) => {
      const deadline = new Date(Date.now() + Math.min(msUntil(call.getDeadline()), FORWARD_TIMEOUT_MS));
      return this.issue(call.request, requestCaller(call), call.getPeer(), deadline);
    }),
    nodeCertificateStatus: unary<NodeCertificateStatusRequest, NodeCertificateStatusResponse>("NodeCertificateStatus", (call) => {
      // Answer a little before the caller's deadline so it gets the current state rather than an error.
      const wait = Math.max(0, Math.min(this.opts.statusWaitMs ?? DEFAULT_STATUS_WAIT_MS, msUntil(call.getDeadline()) - 100));
      return nodeCertificateStatus(this.opts.store, call.request.nodeId, wait, () => call.cancelled);
    }),
  };

  readonly ca: CAHandlers = {
    getRootCaCertificate: unary<GetRootCACertificateRequest, GetRootCACertificateResponse>("GetRootCACertificate", () => ({
      certificate: Buffer.from(this.rootCaPem()),
    })),
    getUnlockKey: unary<GetUnlockKeyRequest, GetUnlockKeyResponse>("GetUnlockKey", () => {
      const c = this.opts.store.get("cluster", this.opts.clusterId);
      if (!c) throw new SwarmError("UNAVAILABLE", "the cluster object is not available yet; retry");
      const key = c.unlockKeys.find((k) => k.subsystem === "swarm-manager");
      return { unlockKey: key ? Buffer.from(key.key) : Buffer.alloc(0), version: c.meta?.version ?? { index: 0 } };
    }),
  };

  /** Registers CA and NodeCA with their SwarmKit authorization on the remote API. */
  register(server: RemoteApiServer): void {
    server.addService(CAService, this.ca, policyFromTable(CA_POLICIES, "CA"));
    server.addService(NodeCAService, this.nodeCa, policyFromTable(NODE_CA_POLICIES, "NodeCA"));
  }
}
