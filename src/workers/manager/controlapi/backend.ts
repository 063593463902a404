// What the control API needs from the manager it runs in. The handlers read
// the local store, write through raft, and ask raft about membership; the
// manager worker wires a real raft node here, tests wire an InMemoryProposer.
import type { MemoryStore, Proposer } from "../store/index.js";
import type { WriteMethod, WriteRequest, WriteResponse } from "./methods.js";

/** One raft member as this manager sees it (SwarmKit's membership.Member + status). */
export interface RaftMemberInfo {
  raftId: number;
  /** The manager's node ID (its certificate CN). */
  nodeId: string;
  /** Its remote API address. */
  addr: string;
  /** Whether this manager can currently reach it (always true for itself). */
  reachable: boolean;
  leader: boolean;
}

export interface ControlBackend {
  /** Local replica of the store; every read is served from here, on any manager. */
  readonly store: MemoryStore;
  /** The raft write path; only used while isLeader() is true. */
  readonly proposer: Proposer;
  /** True while this manager is the raft leader. */
  isLeader(): boolean;
  /** True when some manager (this one or another) is currently known to lead. */
  hasLeader(): boolean;
  /**
   * Send a write to the leader's control API and return its answer. Absent
   * until the lead wires it; without it a follower refuses writes with
   * UNAVAILABLE. Errors should keep their gRPC code (a ServiceError or SwarmError).
   */
  forward?<M extends WriteMethod>(method: M, request: WriteRequest<M>): Promise<WriteResponse<M>>;
  /**
   * The same with the request as encoded on the wire and the leader's answer
   * left encoded (the control socket's fast path; see RawWrite). Optional:
   * without it raw requests are decoded and go through forward().
   */
  forwardRaw?(method: WriteMethod, request: Buffer): Promise<Buffer>;
  /** Current raft membership with reachability, for ManagerStatus and demote/remove checks. */
  raftMembers(): RaftMemberInfo[];
}

/**
 * SwarmKit's CanRemoveMember: after removing `raftId`, the remaining members
 * that are reachable must still form a quorum of the remaining membership.
 */
export function canRemoveMember(members: readonly RaftMemberInfo[], raftId: number): boolean {
  const remaining = members.filter((m) => m.raftId !== raftId);
  const quorum = Math.floor(remaining.length / 2) + 1;
  const reachable = remaining.filter((m) => m.reachable).length;
  return reachable >= quorum;
}
