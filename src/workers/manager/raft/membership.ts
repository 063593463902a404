// The raft group's members as SwarmKit keeps them: raft ID → RaftMember
// {raft_id, node_id, addr}, plus the IDs removed for good (a removed raft ID
// can never come back; a re-promoted node joins under a new one).
import { RaftMember, type ClusterSnapshot } from "../../../shared/api/index.js";
import { ConfChangeType, type ConfChange } from "./core/index.js";

export interface Member {
  raftId: number;
  nodeId: string;
  addr: string;
}

export function encodeMember(m: Member): Uint8Array {
  return RaftMember.encode({ raftId: m.raftId, nodeId: m.nodeId, addr: m.addr, status: undefined }).finish();
}

export function decodeMember(bytes: Uint8Array): Member {
  const m = RaftMember.decode(bytes);
  return { raftId: m.raftId, nodeId: m.nodeId, addr: m.addr };
}

export class Membership {
  private readonly members = new Map<number, Member>();
  private readonly removedIds = new Set<number>();

  list(): Member[] {
    return [...this.members.values()].sort((a, b) => a.raftId - b.raftId);
  }

  get(raftId: number): Member | undefined {
    return this.members.get(raftId);
  }

  byNodeId(nodeId: string): Member | undefined {
    for (const m of this.members.values()) if (m.nodeId === nodeId) return m;
    return undefined;
  }

  removedList(): number[] {
    return [...this.removedIds].sort((a, b) => a - b);
  }

  isRemoved(raftId: number): boolean {
    return this.removedIds.has(raftId);
  }

  get size(): number {
    return this.members.size;
  }

  /** Apply a committed conf change; its context is the member's RaftMember. */
  apply(cc: ConfChange): void {
    switch (cc.type) {
      case ConfChangeType.AddNode:
      case ConfChangeType.AddLearnerNode:
      case ConfChangeType.UpdateNode: {
        if (this.removedIds.has(cc.nodeId)) return;
        const m = cc.context.length > 0 ? decodeMember(cc.context) : { raftId: cc.nodeId, nodeId: "", addr: "" };
        this.members.set(cc.nodeId, { ...m, raftId: cc.nodeId });
        return;
      }
      case ConfChangeType.RemoveNode:
        this.members.delete(cc.nodeId);
        this.removedIds.add(cc.nodeId);
        return;
    }
  }

  toSnapshot(): ClusterSnapshot {
    return {
      members: this.list().map((m) => ({ ...m, status: undefined })),
      removed: [...this.removedIds].sort((a, b) => a - b),
    };
  }

  restore(s: ClusterSnapshot | undefined): void {
    this.members.clear();
    this.removedIds.clear();
    for (const m of s?.members ?? []) this.members.set(m.raftId, { raftId: m.raftId, nodeId: m.nodeId, addr: m.addr });
    for (const id of s?.removed ?? []) this.removedIds.add(id);
  }
}
