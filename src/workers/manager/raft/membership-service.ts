// SwarmKit's RaftMembership service: a manager joining with the manager
// token calls Join to be added to the raft group, and Leave to be removed.
// The leader does the work (a configuration change, answered once applied);
// a follower forwards the call to the leader with the caller's identity in
// forwarded metadata. Authorization (managers of this cluster only,
// RAFT_MEMBERSHIP_POLICIES) is the remote API server's job.
import { randomInt } from "node:crypto";
import { isIP } from "node:net";
import { Metadata, status as Status, type ChannelCredentials, type ServiceError, type sendUnaryData } from "@grpc/grpc-js";
import type { ServerSurfaceCall } from "@grpc/grpc-js/build/src/server-call.js";
import type {
  JoinRequest,
  JoinResponse,
  LeaveRequest,
  LeaveResponse,
  RaftMembershipClient,
  RaftMembershipServer,
} from "../../../shared/api/index.js";
import { SwarmError, errorMessage } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import { toServiceError } from "../controlapi/errors.js";
import { forwardedMetadata, type Caller } from "../remoteapi/caller.js";
import { ConfChangeType } from "./core/index.js";
import { encodeMember, type Member } from "./membership.js";
import { CANNOT_REMOVE_MEMBER, MAX_RANDOM_ID, NO_LEADER, type RaftNode } from "./raft-node.js";
import { dialRaft, dialRaftMembership } from "./transport/dial.js";

const log = getLogger("raft/membership");

export const JOIN_HEALTH_CHECK_FAILED = "could not connect to prospective new cluster member using its advertised address";
const HEALTH_CHECK_TIMEOUT_MS = 5000;
/** SwarmKit's reqTimeout: 5 s + 2 election timeouts of its 1 s ticks. */
const FORWARD_TIMEOUT_MS = 25_000;

export interface MembershipServiceOptions {
  node: () => RaftNode | undefined;
  /** The authorised caller of a call (the remote API server's requestCaller). */
  callerOf: (call: ServerSurfaceCall) => Caller | undefined;
  /** Client credentials of this manager, to reach the leader and prospective members. */
  credentials: ChannelCredentials;
  healthCheckTimeoutMs?: number;
}

/** "host:port" split; IPv6 hosts in brackets. */
export function splitHostPort(addr: string): { host: string; port: string } {
  const m = /^\[([^\]]*)\]:(\d+)$/.exec(addr) ?? /^([^:]*):(\d+)$/.exec(addr);
  if (!m) throw new SwarmError("INVALID_ARGUMENT", `invalid address ${addr} in raft join request`);
  return { host: m[1]!, port: m[2]! };
}

export function joinHostPort(host: string, port: string): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** grpc-js peers look like "127.0.0.1:5000", "[::1]:5000" or "ipv4:…"; the IP part. */
function peerHost(remoteAddr: string): string {
  const a = remoteAddr.replace(/^ipv[46]:/, "");
  return splitHostPort(a).host;
}

/** The address to reach the joiner at: an unspecified host (0.0.0.0, ::) becomes the caller's IP. */
export function advertisedAddr(requested: string, callerRemoteAddr: string): string {
  const { host, port } = splitHostPort(requested);
  const unspecified = host === "" || ((isIP(host) === 4 || isIP(host) === 6) && /^(0\.0\.0\.0|::|0:0:0:0:0:0:0:0)$/.test(host));
  if (!unspecified) return requested;
  return joinHostPort(peerHost(callerRemoteAddr), port);
}

function unary<Req, Res>(fn: (call: ServerSurfaceCall & { request: Req }) => Promise<Res>, method: string) {
  return (call: ServerSurfaceCall & { request: Req }, callback: sendUnaryData<Res>): void => {
    fn(call).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toServiceError(err, method) as ServiceError),
    );
  };
}

export class MembershipService {
  /** Joins and leaves are handled one at a time (SwarmKit's membership lock). */
  private lock: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: MembershipServiceOptions) {}

  handlers(): RaftMembershipServer {
    return {
      join: unary<JoinRequest, JoinResponse>((call) => this.join(call), "Join"),
      leave: unary<LeaveRequest, LeaveResponse>((call) => this.leave(call), "Leave"),
    };
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private context(call: ServerSurfaceCall): { node: RaftNode; caller: Caller } {
    const node = this.opts.node();
    if (!node) throw new SwarmError("FAILED_PRECONDITION", "raft: this manager is not a raft member");
    const caller = this.opts.callerOf(call);
    if (!caller) throw new SwarmError("UNAUTHENTICATED", "a client certificate is required for this method");
    return { node, caller };
  }

  async join(call: ServerSurfaceCall & { request: JoinRequest }): Promise<JoinResponse> {
    const { node, caller } = this.context(call);
    if (!node.isLeader()) {
      return this.forward(node, call, caller, (c, md, deadline, cb) => c.join(call.request, md, { deadline }, cb));
    }
    return this.serialized(() => this.joinOnLeader(node, caller, call.request.addr));
  }

  async leave(call: ServerSurfaceCall & { request: LeaveRequest }): Promise<LeaveResponse> {
    const { node, caller } = this.context(call);
    const raftId = call.request.node?.raftId;
    if (!raftId) throw new SwarmError("INVALID_ARGUMENT", "no node information provided");
    if (!node.isLeader()) {
      return this.forward(node, call, caller, (c, md, deadline, cb) => c.leave(call.request, md, { deadline }, cb));
    }
    return this.serialized(async () => {
      await removeMember(node, raftId);
      log.info({ raftId: raftId.toString(16), by: caller.nodeId }, "raft member left");
      return {};
    });
  }

  private async joinOnLeader(node: RaftNode, caller: Caller, requested: string): Promise<JoinResponse> {
    const addr = advertisedAddr(requested, caller.remoteAddr);
    await this.checkHealth(addr);
    const existing = node.memberByNodeId(caller.nodeId);
    let raftId: number;
    if (existing) {
      raftId = existing.raftId;
      if (existing.addr !== addr) {
        await node.proposeConfChange({
          type: ConfChangeType.UpdateNode,
          nodeId: raftId,
          context: encodeMember({ raftId, nodeId: caller.nodeId, addr }),
        });
        log.info({ raftId: raftId.toString(16), nodeId: caller.nodeId, addr }, "raft member address updated");
      }
    } else {
      raftId = newRaftId(node);
      await node.proposeConfChange({
        type: ConfChangeType.AddNode,
        nodeId: raftId,
        context: encodeMember({ raftId, nodeId: caller.nodeId, addr }),
      });
      log.info({ raftId: raftId.toString(16), nodeId: caller.nodeId, addr, forwardedBy: caller.forwardedBy }, "raft member joined");
    }
    return {
      raftId,
      members: node.members().map((m) => ({ ...m, status: undefined })),
      removedMembers: node.removedIds(),
    };
  }

  /** The prospective member's remote API must accept our mutual-TLS connection. */
  private async checkHealth(addr: string): Promise<void> {
    const client = dialRaft(addr, this.opts.credentials);
    try {
      await new Promise<void>((resolve, reject) =>
        client.waitForReady(Date.now() + (this.opts.healthCheckTimeoutMs ?? HEALTH_CHECK_TIMEOUT_MS), (err) => (err ? reject(err) : resolve())),
      );
    } catch (err) {
      throw new SwarmError("UNKNOWN", `${JOIN_HEALTH_CHECK_FAILED}: ${errorMessage(err)}`);
    } finally {
      client.close();
    }
  }

  /** Proxies the call to the leader with the original caller's identity. */
  private async forward<Res>(
    node: RaftNode,
    call: ServerSurfaceCall,
    caller: Caller,
    invoke: (c: RaftMembershipClient, md: Metadata, deadline: number, cb: (err: ServiceError | null, res: Res) => void) => void,
  ): Promise<Res> {
    const leader = node.leaderMember();
    if (!leader || leader.raftId === node.raftId) throw new SwarmError("UNAVAILABLE", NO_LEADER);
    if (caller.forwardedBy) {
      // Already forwarded once: leadership moved meanwhile; let the caller retry.
      throw new SwarmError("FAILED_PRECONDITION", `raft: this manager is not the leader; the leader is ${leader.nodeId} at ${leader.addr}`);
    }
    const client = dialRaftMembership(leader.addr, this.opts.credentials);
    try {
      return await new Promise<Res>((resolve, reject) =>
        invoke(client, forwardedMetadata(call.metadata ?? new Metadata(), caller), Date.now() + FORWARD_TIMEOUT_MS, (err, res) =>
          err ? reject(err) : resolve(res),
        ),
      );
    } catch (err) {
      const e = err as Partial<ServiceError>;
      if (typeof e.code === "number" && e.code !== Status.OK) throw err; // keeps the leader's code and text
      throw new SwarmError("UNAVAILABLE", `forwarding to the raft leader ${leader.addr} failed: ${errorMessage(err)}`);
    } finally {
      client.close();
    }
  }
}

/** A raft ID unused by current members and never used by a removed one. */
export function newRaftId(node: Pick<RaftNode, "members" | "removedIds">): number {
  const taken = new Set<number>([...node.members().map((m: Member) => m.raftId), ...node.removedIds()]);
  for (;;) {
    const id = randomInt(1, MAX_RANDOM_ID);
    if (!taken.has(id)) return id;
  }
}

/** Leader side of removal: refused when it would cost the quorum. */
export async function removeMember(node: RaftNode, raftId: number): Promise<void> {
  if (!node.isLeader()) throw new SwarmError("FAILED_PRECONDITION", "raft: this manager is not the leader");
  if (!node.members().some((m) => m.raftId === raftId)) {
    throw new SwarmError("NOT_FOUND", `raft: member ${raftId.toString(16)} not found`);
  }
  if (!node.canRemoveMember(raftId)) throw new SwarmError("FAILED_PRECONDITION", CANNOT_REMOVE_MEMBER);
  await node.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: raftId, context: new Uint8Array(0) });
}
