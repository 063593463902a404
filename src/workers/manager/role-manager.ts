// The role manager (SwarmKit's manager/role_manager.go), a leader component:
// it brings each Node's observed role (node.role, which the CA signs into the
// certificate's OU) in line with the role an operator asked for
// (node.spec.desiredRole).
//  - promotion: node.role := MANAGER at once; the node renews its certificate
//    and joins raft by itself.
//  - demotion: the raft member goes first (the leader hands leadership away
//    when it is the one demoted; removal is refused while it would cost the
//    quorum), then node.role := WORKER.
//  - a raft member whose Node object was deleted is removed from raft.
// Nodes that could not be reconciled are retried every 5 s.
import { NodeRole, type Node } from "../../shared/api/index.js";
import { errorMessage } from "../../shared/errors.js";
import { getLogger } from "../../shared/logging.js";
import { ConfChangeType } from "./raft/core/index.js";
import type { RaftNode } from "./raft/raft-node.js";
import { cloneObject, update, type MemoryStore } from "./store/index.js";
import type { Watcher } from "./store/watch.js";

const log = getLogger("rolemanager");

/** SwarmKit's roleReconcileInterval. */
export const ROLE_RECONCILE_INTERVAL_MS = 5000;

export class RoleManager {
  readonly name = "role-manager";
  private watcher: Watcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;

  constructor(
    private readonly store: MemoryStore,
    private readonly raft: RaftNode,
    private readonly intervalMs = ROLE_RECONCILE_INTERVAL_MS,
  ) {}

  start(): void {
    this.stopped = false;
    this.watcher = this.store.watch({ kinds: ["node"] });
    void this.pump(this.watcher);
    this.timer = setInterval(() => this.kick(), this.intervalMs);
    this.timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
    await this.running;
  }

  /** Any node change may need reconciling: run a pass (coalesced). */
  private async pump(watcher: Watcher): Promise<void> {
    try {
      for await (const _ev of watcher) this.kick();
    } catch (err) {
      if (!this.stopped) log.debug({ err: errorMessage(err) }, "node watch ended");
    }
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.reconcileAll().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async reconcileAll(): Promise<void> {
    const nodes = this.store.view((tx) => tx.find("node"));
    for (const n of nodes) {
      if (this.stopped || !this.raft.isLeader()) return;
      try {
        await this.reconcile(n);
      } catch (err) {
        log.warn({ node: n.id, err: errorMessage(err) }, "role reconciliation failed; will retry");
      }
    }
    await this.evictDeleted(nodes);
  }

  private async reconcile(node: Node): Promise<void> {
    const desired = node.spec?.desiredRole ?? NodeRole.WORKER;
    if (desired === node.role) return;
    if (desired === NodeRole.MANAGER) {
      await this.setRole(node.id, NodeRole.MANAGER);
      log.info({ node: node.id }, "node promoted to manager");
      return;
    }
    // Demotion: leave raft first.
    const member = this.raft.memberByNodeId(node.id);
    if (member) {
      if (member.raftId === this.raft.raftId) {
        // The leader cannot remove itself: hand leadership over; the next leader finishes the job.
        log.info({ node: node.id }, "this leader is being demoted: transferring leadership");
        await this.raft.transferLeadershipToLongestActive();
        return;
      }
      if (!this.raft.canRemoveMember(member.raftId)) {
        log.warn({ node: node.id }, "demotion pending: removing this raft member now would lose quorum");
        return;
      }
      await this.raft.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: member.raftId, context: new Uint8Array(0) });
      log.info({ node: node.id, raftId: member.raftId.toString(16) }, "demoted manager removed from raft");
    }
    await this.setRole(node.id, NodeRole.WORKER);
    log.info({ node: node.id }, "node demoted to worker");
  }

  /** Re-reads the node so a concurrent update is not overwritten; no-op if already there. */
  private async setRole(nodeId: string, role: NodeRole): Promise<void> {
    await update(this.store, this.raft, (tx) => {
      const current = tx.get("node", nodeId);
      if (!current || current.role === role || (current.spec?.desiredRole ?? NodeRole.WORKER) !== role) return;
      const next = cloneObject(current);
      next.role = role;
      tx.update("node", next);
    });
  }

  /** Raft members whose Node was deleted are removed (SwarmKit evicts them too). */
  private async evictDeleted(nodes: readonly Node[]): Promise<void> {
    const known = new Set(nodes.map((n) => n.id));
    for (const m of this.raft.members()) {
      if (this.stopped || !this.raft.isLeader()) return;
      if (known.has(m.nodeId) || m.raftId === this.raft.raftId) continue;
      if (!this.raft.canRemoveMember(m.raftId)) continue;
      try {
        await this.raft.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: m.raftId, context: new Uint8Array(0) });
        log.info({ node: m.nodeId, raftId: m.raftId.toString(16) }, "raft member of a deleted node removed");
      } catch (err) {
        log.warn({ node: m.nodeId, err: errorMessage(err) }, "could not remove the raft member of a deleted node");
      }
    }
  }
}
