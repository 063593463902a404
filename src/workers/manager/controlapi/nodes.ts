// Node methods (SwarmKit controlapi/node.go).
import { X509Certificate } from "node:crypto";
import {
  NodeRole,
  NodeStatus_State,
  RaftMemberStatus_Reachability,
  TaskState,
  TaskStatus,
  type GetNodeRequest,
  type GetNodeResponse,
  type ListNodesRequest,
  type ListNodesResponse,
  type Node,
  type RemoveNodeRequest,
  type RemoveNodeResponse,
  type UpdateNodeRequest,
  type UpdateNodeResponse,
} from "../../../shared/api/index.js";
import { cloneObject, type ReadTx, type Tx } from "../store/index.js";
import { canRemoveMember, type RaftMemberInfo } from "./backend.js";
import { expireBlacklistedCerts, findDefaultCluster } from "./clusters.js";
import { write, writeObject, type HandlerContext } from "./context.js";
import { internal, invalid, notFound, precondition } from "./errors.js";
import { filterContains, filterContainsPrefix, filterEnum, filterMatchLabels } from "./filters.js";

/** A copy of the node with ManagerStatus filled from raft membership, as SwarmKit does. */
function withManagerStatus(node: Node, members: readonly RaftMemberInfo[]): Node {
  const m = members.find((x) => x.nodeId === node.id);
  if (!m) return node;
  return {
    ...node,
    managerStatus: {
      raftId: m.raftId,
      addr: m.addr,
      leader: m.leader,
      reachability: m.reachable ? RaftMemberStatus_Reachability.REACHABLE : RaftMemberStatus_Reachability.UNREACHABLE,
    },
  };
}

export function getNode(ctx: HandlerContext, req: GetNodeRequest): GetNodeResponse {
  if (req.nodeId === "") throw invalid();
  const node = ctx.backend.store.get("node", req.nodeId);
  if (!node) throw notFound(`node ${req.nodeId} not found`);
  return { node: withManagerStatus(node, ctx.backend.raftMembers()) };
}

function candidates(tx: ReadTx, f: NonNullable<ListNodesRequest["filters"]> | undefined): Node[] {
  if (f?.names.length) return tx.find("node", { names: f.names });
  if (f?.namePrefixes.length) return tx.find("node", { namePrefixes: f.namePrefixes });
  if (f?.idPrefixes.length) return tx.find("node", { idPrefixes: f.idPrefixes });
  if (f?.roles.length) return tx.find("node", { roles: f.roles });
  if (f?.memberships.length) return tx.find("node", { memberships: f.memberships });
  return tx.find("node");
}

export function listNodes(ctx: HandlerContext, req: ListNodesRequest): ListNodesResponse {
  const f = req.filters;
  let nodes = ctx.backend.store.view((tx) => candidates(tx, f));
  if (f) {
    nodes = nodes.filter(
      (n) =>
        (f.names.length === 0 || (n.description !== undefined && filterContains(n.description.hostname, f.names))) &&
        (f.namePrefixes.length === 0 ||
          (n.description !== undefined && filterContainsPrefix(n.description.hostname, f.namePrefixes))) &&
        filterContainsPrefix(n.id, f.idPrefixes) &&
        (Object.keys(f.labels).length === 0 ||
          (n.description !== undefined && filterMatchLabels(n.description.engine?.labels, f.labels))) &&
        filterMatchLabels(n.spec?.annotations?.labels, f.nodeLabels) &&
        filterEnum(n.role, f.roles) &&
        filterEnum(n.spec?.membership ?? 0, f.memberships),
    );
  }
  const members = ctx.backend.raftMembers();
  return { nodes: nodes.map((n) => withManagerStatus(n, members)) };
}

export async function updateNode(ctx: HandlerContext, req: UpdateNodeRequest): Promise<UpdateNodeResponse> {
  if (req.nodeId === "" || req.nodeVersion === undefined) throw invalid();
  const spec = req.spec;
  if (!spec) throw invalid();
  const node = await writeObject(ctx, "node", (tx) => {
    const current = tx.get("node", req.nodeId);
    if (!current) throw notFound(`node ${req.nodeId} not found`);
    // Demotion: never the last manager, and never at the cost of raft quorum.
    if (current.spec?.desiredRole === NodeRole.MANAGER && spec.desiredRole === NodeRole.WORKER) {
      const managers = tx.find("node", { roles: [NodeRole.MANAGER] });
      if (managers.length === 1 && managers[0]!.id === current.id) {
        throw precondition("attempting to demote the last manager of the swarm");
      }
      const members = ctx.backend.raftMembers();
      const member = members.find((m) => m.nodeId === req.nodeId);
      if (!member) throw notFound("can't find manager in raft memberlist");
      if (!canRemoveMember(members, member.raftId)) {
        throw precondition("can't remove member from the raft: this would result in a loss of quorum");
      }
    }
    const next = cloneObject(current) as Node;
    next.meta = { ...next.meta!, version: req.nodeVersion };
    next.spec = spec;
    tx.update("node", next);
    return req.nodeId;
  });
  return { node };
}

/** The certificate's expiry, when the node has a parsable one (for the blacklist entry). */
function certificateExpiry(node: Node): Date | undefined {
  const pem = node.certificate?.certificate;
  if (!pem || pem.length === 0) return undefined;
  try {
    return new Date(new X509Certificate(Buffer.from(pem)).validTo);
  } catch {
    return undefined;
  }
}

export async function removeNode(ctx: HandlerContext, req: RemoveNodeRequest): Promise<RemoveNodeResponse> {
  if (req.nodeId === "") throw invalid();
  await write(ctx, (tx) => {
    const node = tx.get("node", req.nodeId);
    if (!node) throw notFound(`node ${req.nodeId} not found`);
    if (node.spec?.desiredRole === NodeRole.MANAGER) {
      if (ctx.backend.raftMembers().some((m) => m.nodeId === req.nodeId)) {
        throw precondition(
          `node ${req.nodeId} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`,
        );
      }
    }
    if (!req.force && node.status?.state === NodeStatus_State.READY) {
      throw precondition(`node ${req.nodeId} is not down and can't be removed`);
    }
    const found = findDefaultCluster(tx);
    if (!found) throw internal("could not fetch cluster object");
    // Its certificate stays refused until it expires (plus a grace period).
    const cluster = cloneObject(found);
    cluster.blacklistedCertificates = { ...cluster.blacklistedCertificates, [node.id]: { expiry: certificateExpiry(node) } };
    expireBlacklistedCerts(cluster, ctx.now());
    tx.update("cluster", cluster);
    orphanTasks(tx, node.id);
    tx.delete("node", node.id);
  });
  return {};
}

/**
 * The removed node will never report on its tasks again. Network attachment
 * tasks become ORPHANED as in SwarmKit (so their networks can be removed);
 * we do the same for its other unfinished tasks, so they do not show as
 * running on a node that no longer exists.
 */
function orphanTasks(tx: Tx, nodeId: string): void {
  for (const task of tx.tasksByNode(nodeId)) {
    const state = task.status?.state ?? TaskState.NEW;
    const attachment = task.spec?.runtime?.$case === "attachment";
    if (!attachment && state > TaskState.RUNNING) continue;
    const next = cloneObject(task);
    next.status = TaskStatus.fromPartial({ ...task.status, state: TaskState.ORPHANED, message: "node removed from the swarm" });
    tx.update("task", next);
  }
}
