// The store side of certificate issuance (SwarmKit's ca/server.go): a join
// with a valid token creates the Node object with its CSR pending; a renewal
// by a node with a valid certificate marks its certificate RENEW; the signing
// loop (leader only) turns both into ISSUED. Status readers wait on the
// store's watch until the state is final.
import {
  IssuanceStatus_State,
  Node,
  NodeRole as ApiNodeRole,
  NodeSpec_Availability,
  NodeSpec_Membership,
  type Certificate,
  type Cluster,
  type IssueNodeCertificateResponse,
  type NodeCertificateStatusResponse,
} from "../../../shared/api/index.js";
import { SwarmError } from "../../../shared/errors.js";
import { newId } from "../../../shared/ids.js";
import { MANAGER_ROLE, WORKER_ROLE, roleForJoinToken, type NodeRole } from "../../../shared/pki/index.js";
import { cloneObject, update, type MemoryStore, type Proposer } from "../store/index.js";

export const INVALID_TOKEN_TEXT = "A valid join token is necessary to join this cluster";

/** States the node's agent stops polling at. */
export function isFinal(state: IssuanceStatus_State | undefined): boolean {
  return state === IssuanceStatus_State.ISSUED || state === IssuanceStatus_State.FAILED;
}

export function apiRole(role: NodeRole): ApiNodeRole {
  return role === MANAGER_ROLE ? ApiNodeRole.MANAGER : ApiNodeRole.WORKER;
}

export function certRole(role: ApiNodeRole): NodeRole {
  return role === ApiNodeRole.MANAGER ? MANAGER_ROLE : WORKER_ROLE;
}

export function clusterOf(store: MemoryStore, clusterId: string): Cluster {
  const c = store.get("cluster", clusterId);
  if (!c?.rootCa) throw new SwarmError("UNAVAILABLE", "the cluster object is not available yet; retry");
  return c;
}

export interface IssueRequest {
  csr: Uint8Array;
  token: string;
  availability: NodeSpec_Availability;
}

/** A certificate-authenticated caller (renewal), as authorization saw it. */
export interface RenewingCaller {
  nodeId: string;
}

/**
 * IssueNodeCertificate on the leader. `renewing` is the caller when it
 * presented a valid certificate of this cluster; then the token is ignored.
 */
export async function issueNodeCertificate(
  store: MemoryStore,
  proposer: Proposer,
  clusterId: string,
  req: IssueRequest,
  renewing: RenewingCaller | undefined,
): Promise<IssueNodeCertificateResponse> {
  if (req.csr.length === 0) throw new SwarmError("INVALID_ARGUMENT", "CSR cannot be empty");
  const csr = Buffer.from(req.csr);
  if (renewing) {
    const nodeId = renewing.nodeId;
    await update(store, proposer, (tx) => {
      const node = tx.get("node", nodeId);
      if (!node) throw new SwarmError("NOT_FOUND", `node ${nodeId} not found`);
      const next = cloneObject(node);
      next.certificate = {
        role: node.role,
        csr,
        cn: nodeId,
        certificate: node.certificate?.certificate ?? Buffer.alloc(0),
        status: { state: IssuanceStatus_State.RENEW, err: "" },
      };
      tx.update("node", next);
    });
    const node = store.get("node", nodeId);
    return { nodeId, nodeMembership: node?.spec?.membership ?? NodeSpec_Membership.ACCEPTED };
  }

  const tokens = clusterOf(store, clusterId).rootCa?.joinTokens;
  const role = tokens && req.token ? roleForJoinToken(tokens, req.token) : undefined;
  if (!role) throw new SwarmError("INVALID_ARGUMENT", INVALID_TOKEN_TEXT);
  const nodeId = newId();
  const r = apiRole(role);
  await update(store, proposer, (tx) => {
    tx.create(
      "node",
      Node.fromPartial({
        id: nodeId,
        spec: {
          desiredRole: r,
          membership: NodeSpec_Membership.ACCEPTED,
          availability: req.availability,
        },
        role: r,
        certificate: { role: r, csr, cn: nodeId, status: { state: IssuanceStatus_State.PENDING, err: "" } },
      }),
    );
  });
  return { nodeId, nodeMembership: NodeSpec_Membership.ACCEPTED };
}

function statusResponse(cert: Certificate | undefined): NodeCertificateStatusResponse {
  return {
    status: cert?.status ?? { state: IssuanceStatus_State.UNKNOWN, err: "" },
    certificate: cert,
  };
}

/**
 * NodeCertificateStatus: the node's certificate once ISSUED or FAILED, or
 * whatever the state is when `waitMs` runs out (the caller polls again).
 * Served from the local store, so any manager can answer once replicated.
 */
export async function nodeCertificateStatus(
  store: MemoryStore,
  nodeId: string,
  waitMs: number,
  cancelled: () => boolean = () => false,
): Promise<NodeCertificateStatusResponse> {
  if (!nodeId) throw new SwarmError("INVALID_ARGUMENT", "node ID is required");
  const { result: node, watcher } = store.viewAndWatch((tx) => tx.get("node", nodeId), { kinds: ["node"] });
  try {
    if (!node) throw new SwarmError("NOT_FOUND", `node ${nodeId} not found`);
    if (isFinal(node.certificate?.status?.state)) return statusResponse(node.certificate);
    let latest = node.certificate;
    const timer = setTimeout(() => watcher.close(), waitMs);
    try {
      for await (const ev of watcher) {
        if (ev.type !== "change" || ev.kind !== "node" || ev.object.id !== nodeId) continue;
        if (ev.action === "remove") throw new SwarmError("NOT_FOUND", `node ${nodeId} not found`);
        latest = ev.object.certificate;
        if (isFinal(latest?.status?.state) || cancelled()) break;
      }
    } finally {
      clearTimeout(timer);
    }
    return statusResponse(latest);
  } finally {
    watcher.close();
  }
}
