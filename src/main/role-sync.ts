// Main's half of promotion and demotion without a restart (SwarmKit's
// node-changes loop + superviseManager). The agent reports the node's role
// as the managers see it (node.role, what the CA signs); when it differs
// from the certificate's OU, main renews the certificate (the CA issues the
// new OU), hands it to both workers, then flips the role flag so the
// manager worker joins raft (promotion) or stops and clears its raft data
// (demotion). It keeps checking until certificate, flag and manager worker
// agree with what the cluster says, and also restarts a manager that was
// removed from raft while the cluster still wants it a manager (re-promoted
// before this node noticed the demotion).
import type { AgentNodeEvent, ManagerStatus, NodeRole } from "../shared/contracts/index.js";
import { errorMessage } from "../shared/errors.js";
import { getLogger } from "../shared/logging.js";
import { MANAGER_ROLE, type NodeCertInfo } from "../shared/pki/index.js";

const log = getLogger("role-sync");

/** Between checks while something still disagrees. */
export const ROLE_RECHECK_MS = 2000;

export interface RoleSyncNode {
  readonly role: NodeRole;
  setRole(role: NodeRole): Promise<ManagerStatus>;
  readonly manager: { status(): Promise<ManagerStatus> };
}

export interface RoleSyncRenewer {
  readonly certificate: NodeCertInfo;
  renewNow(): Promise<void>;
}

export class RoleSync {
  /** node.role as last reported by the agent. */
  private observed: NodeRole | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private interval: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly node: RoleSyncNode,
    private readonly renewer: RoleSyncRenewer,
    private readonly recheckMs = ROLE_RECHECK_MS,
  ) {}

  /** Also look now and then: a removal may go unnoticed by the agent's events. */
  start(intervalMs = 5000): void {
    this.interval = setInterval(() => this.kick(), intervalMs);
    this.interval.unref();
  }

  /** An event from the agent's session ("removed" is handled by the caller). */
  observe(e: AgentNodeEvent): void {
    if (e.kind !== "node") return;
    this.observed = e.role;
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.interval) clearInterval(this.interval);
    await this.running;
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.sync()
      .then(
        (settled) => {
          if (!settled && !this.stopped) {
            if (this.timer) clearTimeout(this.timer);
            this.timer = setTimeout(() => this.kick(), this.recheckMs);
            this.timer.unref();
          }
        },
        (err: unknown) => log.warn({ err: errorMessage(err) }, "role change step failed; retrying"),
      )
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private certRole(): NodeRole {
    return this.renewer.certificate.role === MANAGER_ROLE ? "manager" : "worker";
  }

  /** One step towards agreement; true once everything agrees. */
  private async sync(): Promise<boolean> {
    const want = this.observed;
    if (want === undefined) return true;
    if (this.certRole() !== want) {
      log.info({ role: want, certificateRole: this.certRole() }, "the cluster changed this node's role: renewing the certificate");
      await this.renewer.renewNow();
      if (this.certRole() !== want) return false; // not issued yet, or issued before the CA saw the new role
    }
    const role = this.certRole();
    if (this.node.role !== role) {
      log.info({ role }, `the certificate now says ${role}: switching role`);
      await this.node.setRole(role).catch((err: unknown) => log.warn({ role, err: errorMessage(err) }, "role switch did not complete yet"));
      return false; // check again that the manager worker got there
    }
    if (role === "manager") {
      const status = await this.node.manager.status();
      if (!status.services) {
        // Removed from raft (or a failed start). Like SwarmKit, renew first:
        // the CA signs node.role, so a demotion yields a worker certificate
        // here; only if it still says manager was this node re-promoted, and
        // the manager starts again, joining afresh.
        await this.renewer.renewNow();
        if (this.certRole() !== "manager") return false;
        log.info("manager services are not running although this node is a manager: starting them");
        await this.node.setRole("manager").catch((err: unknown) => log.warn({ err: errorMessage(err) }, "manager restart did not complete yet"));
        return false;
      }
    }
    return true;
  }
}
