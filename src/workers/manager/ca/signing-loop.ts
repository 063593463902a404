// The leader's CA signer (SwarmKit's ca.Server.Run): watch the store for
// node certificates in PENDING or RENEW, sign their CSRs in the piscina pool
// with the root CA key from the Cluster object, and write ISSUED (or FAILED
// for a CSR that cannot be signed). Results that complete together are
// written in one transaction, so a burst of joins costs few raft entries.
import { IssuanceStatus_State, durationToMillis, type Node } from "../../../shared/api/index.js";
import { errorCode, errorMessage } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import { cloneObject, update, type MemoryStore, type Proposer, type Watcher } from "../store/index.js";
import { certRole, clusterOf } from "./issuance.js";
import type { SignerPool } from "./signer-pool.js";

const log = getLogger("ca/signer");

/** Retry delay for signings that failed for a passing reason (pool busy, no cluster yet). */
const RETRY_MS = 1000;

function wantsSigning(node: Node): boolean {
  const s = node.certificate?.status?.state;
  return (s === IssuanceStatus_State.PENDING || s === IssuanceStatus_State.RENEW) && (node.certificate?.csr.length ?? 0) > 0;
}

const csrKey = (node: Node): string => Buffer.from(node.certificate!.csr).toString("base64");

interface Outcome {
  nodeId: string;
  csr: string;
  certPem?: string;
  error?: string;
}

export interface SigningLoopOptions {
  store: MemoryStore;
  proposer: Proposer;
  clusterId: string;
  signer: SignerPool;
}

export class SigningLoop {
  private watcher: Watcher | undefined;
  /** nodeId → CSR (base64) being signed now. */
  private readonly inFlight = new Map<string, string>();
  private outcomes: Outcome[] = [];
  private flushing: Promise<void> | undefined;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private running = false;
  /** Certificates written ISSUED so far (for tests and logs). */
  issued = 0;

  constructor(private readonly opts: SigningLoopOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    const { result: pending, watcher } = this.opts.store.viewAndWatch((tx) => tx.find("node").filter(wantsSigning), {
      kinds: ["node"],
    });
    this.watcher = watcher;
    for (const n of pending) this.consider(n);
    void this.watch(watcher);
    log.debug({ pending: pending.length }, "CA signer started");
  }

  async stop(): Promise<void> {
    this.running = false;
    this.watcher?.close();
    this.watcher = undefined;
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    await this.flushing;
  }

  private async watch(watcher: Watcher): Promise<void> {
    try {
      for await (const ev of watcher) {
        if (ev.type === "change" && ev.kind === "node" && ev.action !== "remove") this.consider(ev.object);
      }
    } catch (err) {
      if (!this.running) return;
      // Fell behind (overflow) or a snapshot reset the store: re-list and go on.
      log.warn({ err: errorMessage(err) }, "CA signer watch ended; restarting it");
      this.running = false;
      this.start();
    }
  }

  private consider(node: Node): void {
    if (!this.running || !wantsSigning(node)) return;
    const csr = csrKey(node);
    if (this.inFlight.get(node.id) === csr) return;
    this.inFlight.set(node.id, csr);
    void this.sign(node, csr);
  }

  private async sign(node: Node, csr: string): Promise<void> {
    const { store, clusterId, signer } = this.opts;
    let outcome: Outcome;
    try {
      const cluster = clusterOf(store, clusterId);
      const rootCa = cluster.rootCa!;
      if (rootCa.caKey.length === 0) throw Object.assign(new Error("the cluster has no root CA key; this manager cannot sign"), { code: "FAILED_PRECONDITION" });
      const certPem = await signer.sign({
        csrPem: Buffer.from(node.certificate!.csr).toString(),
        caCertPem: Buffer.from(rootCa.caCert).toString(),
        caKeyPem: Buffer.from(rootCa.caKey).toString(),
        nodeId: node.id,
        role: certRole(node.role),
        clusterId,
        validityMs: durationToMillis(cluster.spec?.caConfig?.nodeCertExpiry, 0) || undefined,
      });
      outcome = { nodeId: node.id, csr, certPem };
    } catch (err) {
      const code = errorCode(err);
      if (code === "INVALID_ARGUMENT") {
        outcome = { nodeId: node.id, csr, error: errorMessage(err) };
      } else {
        // Passing trouble (pool busy or stopping, cluster not there yet): try again later.
        this.inFlight.delete(node.id);
        if (this.running) {
          log.warn({ nodeId: node.id, err: errorMessage(err) }, "could not sign a node certificate; retrying");
          const t = setTimeout(() => {
            this.retryTimers.delete(t);
            const latest = store.get("node", node.id);
            if (latest) this.consider(latest);
          }, RETRY_MS);
          this.retryTimers.add(t);
        }
        return;
      }
    }
    this.outcomes.push(outcome);
    this.flush();
  }

  /** Writes finished signings; one transaction for all that finished meanwhile. */
  private flush(): void {
    if (this.flushing) return;
    this.flushing = this.drain().finally(() => {
      this.flushing = undefined;
      if (this.outcomes.length > 0 && this.running) this.flush();
    });
  }

  private async drain(): Promise<void> {
      while (this.outcomes.length > 0 && this.running) {
        const batch = this.outcomes;
        this.outcomes = [];
        try {
          await update(this.opts.store, this.opts.proposer, (tx) => {
            for (const o of batch) {
              const node = tx.get("node", o.nodeId);
              // Gone, or a newer CSR replaced this one: that one gets its own signing.
              if (!node || !wantsSigning(node) || csrKey(node) !== o.csr) continue;
              const next = cloneObject(node);
              next.certificate = {
                ...next.certificate!,
                certificate: o.certPem ? Buffer.from(o.certPem) : Buffer.alloc(0),
                status: o.certPem
                  ? { state: IssuanceStatus_State.ISSUED, err: "" }
                  : { state: IssuanceStatus_State.FAILED, err: o.error ?? "signing failed" },
              };
              tx.update("node", next);
            }
          });
          for (const o of batch) {
            if (o.certPem) this.issued++;
            else log.warn({ nodeId: o.nodeId, err: o.error }, "refused to sign a node certificate");
          }
        } catch (err) {
          log.warn({ err: errorMessage(err), count: batch.length }, "could not store signed certificates; they will be signed again");
          for (const o of batch) {
            this.inFlight.delete(o.nodeId);
            const latest = this.opts.store.get("node", o.nodeId);
            if (latest) this.consider(latest);
          }
          continue;
        }
        for (const o of batch) if (this.inFlight.get(o.nodeId) === o.csr) this.inFlight.delete(o.nodeId);
      }
  }
}
