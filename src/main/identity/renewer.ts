// The node's certificate renewer (SwarmKit's TLSRenewer): at a random point
// in 50–80 % of the certificate's validity it makes a new key and CSR, asks a
// manager's NodeCA to issue a certificate while presenting the current one
// (mutual TLS: the CA treats that as a renewal, keeping the node ID), polls
// for the result, verifies it, writes key + certificate atomically, and hands
// the new material to whoever serves or dials with it. Failures back off
// exponentially (5 s doubling to 1 h) and try the next known manager.
import { Metadata, credentials, type ServiceError } from "@grpc/grpc-js";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  IssuanceStatus_State,
  NodeCAClient,
  type IssueNodeCertificateResponse,
  type NodeCertificateStatusResponse,
} from "../../shared/api/index.js";
import { SwarmError, errorMessage } from "../../shared/errors.js";
import { getLogger } from "../../shared/logging.js";
import {
  CA_ROLE,
  createKeyAndCsr,
  keyMatchesCert,
  nextRenewalDelay,
  parseNodeCert,
  verifyChain,
  type NodeCertInfo,
} from "../../shared/pki/index.js";
import { saveNodeCertificate, type TlsMaterial } from "./identity.js";

const log = getLogger("renewer");

/** Hidden test hook: renew this many ms after start and after each renewal, instead of at 50–80 % of the validity. */
export const TEST_RENEW_AFTER_ENV = "SWARMD_TEST_RENEW_AFTER_MS";

/** SwarmKit's renewal retry backoff. */
export const RENEW_BACKOFF_BASE_MS = 5000;
export const RENEW_BACKOFF_MAX_MS = 3600_000;
/** Deadline of the issuance request. */
const ISSUE_TIMEOUT_MS = 10_000;
/** One renewal attempt, from the request to the verified certificate. */
const ATTEMPT_TIMEOUT_MS = 30_000;
/** Each status poll waits this long on the server for a final state. */
const STATUS_POLL_MS = 5000;
/** setTimeout cannot wait longer than 2^31-1 ms; longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface RenewerOptions {
  stateDir: string;
  /** The node's current TLS material (certificate, key, root). */
  tls: TlsMaterial;
  /** Managers' remote API addresses ("host:port") to try, best first. Called at each attempt. */
  managers: () => Promise<string[]>;
  /** The new material is on disk; push it to the users of the old one. Errors are logged, not retried. */
  onRenewed: (tls: TlsMaterial, info: NodeCertInfo) => Promise<void>;
  /**
   * Issues a certificate for a CSR without presenting the current
   * certificate: this host's own manager CA (ManagerApi.renewOwnCertificate).
   * Used only once the current certificate has expired, when no manager
   * would accept it for mutual TLS (--force-new-cluster on a lone manager).
   */
  issueExpired?: (csrPem: string) => Promise<string>;
  /** Fixed delay before each renewal (tests); default: 50–80 % of the validity. */
  renewAfterMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Observes each failed attempt and the wait before the next one. */
  onRetry?: (delayMs: number, err: unknown) => void;
}

export class CertificateRenewer {
  private tls: TlsMaterial;
  private info: NodeCertInfo;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private failures = 0;
  /** Rotates through the managers across failed attempts. */
  private next = 0;
  private renewals = 0;

  constructor(private readonly opts: RenewerOptions) {
    this.tls = { ...opts.tls };
    this.info = parseNodeCert(opts.tls.certPem);
  }

  /** The material currently in use. */
  get current(): TlsMaterial {
    return { ...this.tls };
  }

  /** What the current certificate says (node, role, cluster, validity). */
  get certificate(): NodeCertInfo {
    return this.info;
  }

  get renewedCount(): number {
    return this.renewals;
  }

  start(): void {
    this.schedule(this.delayForCurrent());
  }

  /** Renews now (e.g. a role change); resolves when that attempt has finished, whatever its outcome. */
  renewNow(): Promise<void> {
    this.clearTimer();
    return this.fire();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    await this.running;
  }

  private delayForCurrent(): number {
    return this.opts.renewAfterMs ?? nextRenewalDelay(this.info.notBefore, this.info.notAfter);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.clearTimer();
    const due = Date.now() + delayMs;
    log.debug({ inMs: delayMs, at: new Date(due).toISOString() }, "next certificate renewal scheduled");
    const arm = (): void => {
      const left = due - Date.now();
      if (left > 0) {
        this.timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
        this.timer.unref();
        return;
      }
      this.timer = undefined;
      void this.fire();
    };
    arm();
  }

  private fire(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.running ??= this.attempt().finally(() => (this.running = undefined));
    return this.running;
  }

  private async attempt(): Promise<void> {
    if (this.opts.issueExpired && Date.now() > this.info.notAfter.getTime()) return this.attemptExpired(this.opts.issueExpired);
    let managers: string[] = [];
    try {
      managers = await this.opts.managers();
    } catch (err) {
      log.warn({ err: errorMessage(err) }, "cannot list the known managers");
    }
    if (managers.length === 0) {
      this.failed(new SwarmError("UNAVAILABLE", "no known manager to renew the certificate with"));
      return;
    }
    // Stay with a manager that works; move on after a failure.
    const addr = managers[this.next % managers.length]!;
    let renewed: { tls: TlsMaterial; info: NodeCertInfo };
    try {
      renewed = await renewCertificate(addr, this.tls, this.info);
      if (this.stopped) return;
      await saveNodeCertificate(this.opts.stateDir, renewed.tls.certPem, renewed.tls.keyPem);
    } catch (err) {
      this.next++;
      this.failed(err, addr);
      return;
    }
    await this.renewed(renewed, addr);
  }

  /** The current certificate has expired: have this host's manager CA issue one for a new key. */
  private async attemptExpired(issue: (csrPem: string) => Promise<string>): Promise<void> {
    log.warn({ nodeId: this.info.nodeId, notAfter: this.info.notAfter.toISOString() }, "the node certificate has expired; renewing it through this manager's own CA");
    let renewed: { tls: TlsMaterial; info: NodeCertInfo };
    try {
      const { keyPem, csrPem } = await createKeyAndCsr();
      const certPem = await issue(csrPem);
      if (!keyMatchesCert(keyPem, certPem)) throw new SwarmError("FAILED_PRECONDITION", "the CA issued a certificate for another key");
      renewed = { tls: { caPem: this.tls.caPem, certPem, keyPem }, info: checkRenewed(certPem, this.tls.caPem, this.info) };
      if (this.stopped) return;
      await saveNodeCertificate(this.opts.stateDir, renewed.tls.certPem, renewed.tls.keyPem);
    } catch (err) {
      this.failed(err, "local CA");
      return;
    }
    await this.renewed(renewed, "local CA");
  }

  private async renewed(renewed: { tls: TlsMaterial; info: NodeCertInfo }, addr: string): Promise<void> {
    this.tls = renewed.tls;
    const roleChanged = renewed.info.role !== this.info.role;
    this.info = renewed.info;
    this.failures = 0;
    this.renewals++;
    log.info(
      { manager: addr, nodeId: renewed.info.nodeId, role: renewed.info.role, notAfter: renewed.info.notAfter.toISOString() },
      "node certificate renewed",
    );
    if (roleChanged) log.info({ role: renewed.info.role }, "the renewed certificate carries another role");
    try {
      await this.opts.onRenewed(this.current, renewed.info);
    } catch (err) {
      log.warn({ err: errorMessage(err) }, "could not hand the renewed certificate to every worker");
    }
    this.schedule(this.delayForCurrent());
  }

  private failed(err: unknown, addr?: string): void {
    if (this.stopped) return;
    const base = this.opts.backoffBaseMs ?? RENEW_BACKOFF_BASE_MS;
    const max = this.opts.backoffMaxMs ?? RENEW_BACKOFF_MAX_MS;
    const wait = Math.min(max, base * 2 ** Math.min(this.failures, 30));
    this.failures++;
    // Never retry later than the current certificate's useful life allows, but not in a tight loop either.
    const untilExpiry = this.info.notAfter.getTime() - Date.now();
    const delay = untilExpiry > base ? Math.min(wait, untilExpiry - base) : wait;
    log.warn({ manager: addr, err: errorMessage(err), retryInMs: delay, failures: this.failures }, "certificate renewal failed");
    this.opts.onRetry?.(delay, err);
    this.schedule(delay);
  }
}

function unaryCall<Res>(fn: (cb: (err: ServiceError | null, res: Res) => void) => void): Promise<Res> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res))));
}

/**
 * One renewal against the manager at `addr`: new key + CSR, IssueNodeCertificate
 * with the current certificate as client identity, poll NodeCertificateStatus
 * until a certificate for the new key is issued, verify it. Writes nothing.
 */
export async function renewCertificate(addr: string, tls: TlsMaterial, current: NodeCertInfo): Promise<{ tls: TlsMaterial; info: NodeCertInfo }> {
  const { keyPem, csrPem } = await createKeyAndCsr();
  const creds = credentials.createSsl(Buffer.from(tls.caPem), Buffer.from(tls.keyPem), Buffer.from(tls.certPem));
  // Every manager certificate carries the swarm-ca name.
  const client = new NodeCAClient(addr, creds, { "grpc.ssl_target_name_override": CA_ROLE });
  const started = Date.now();
  const left = (): number => ATTEMPT_TIMEOUT_MS - (Date.now() - started);
  try {
    const issued = await unaryCall<IssueNodeCertificateResponse>((cb) =>
      client.issueNodeCertificate(
        { role: 0, csr: Buffer.from(csrPem), token: "", availability: 0 },
        new Metadata(),
        { deadline: Date.now() + ISSUE_TIMEOUT_MS },
        cb,
      ),
    ).catch((err: unknown) => {
      throw new SwarmError("UNAVAILABLE", `manager ${addr} refused the renewal: ${(err as Partial<ServiceError>).details ?? errorMessage(err)}`);
    });
    if (issued.nodeId !== current.nodeId) {
      throw new SwarmError("FAILED_PRECONDITION", `manager ${addr} answered the renewal for node ${issued.nodeId}, not ${current.nodeId}`);
    }
    let delay = 100;
    for (;;) {
      if (left() <= 0) throw new SwarmError("DEADLINE_EXCEEDED", `manager ${addr} issued no certificate within ${ATTEMPT_TIMEOUT_MS / 1000} s`);
      let st: NodeCertificateStatusResponse | undefined;
      try {
        st = await unaryCall<NodeCertificateStatusResponse>((cb) =>
          client.nodeCertificateStatus({ nodeId: current.nodeId }, new Metadata(), { deadline: Date.now() + Math.max(1, Math.min(STATUS_POLL_MS, left())) }, cb),
        );
      } catch (err) {
        log.debug({ manager: addr, err: errorMessage(err) }, "certificate status poll failed; polling again");
      }
      const state = st?.status?.state;
      if (state === IssuanceStatus_State.FAILED) {
        throw new SwarmError("FAILED_PRECONDITION", `the CA refused the renewal: ${st?.status?.err || "no reason given"}`);
      }
      const certPem = st?.certificate?.certificate?.length ? Buffer.from(st.certificate.certificate).toString() : undefined;
      // A manager that has not applied our RENEW yet still shows the old certificate: only ours counts.
      if (state === IssuanceStatus_State.ISSUED && certPem && keyMatchesCert(keyPem, certPem)) {
        return { tls: { caPem: tls.caPem, certPem, keyPem }, info: checkRenewed(certPem, tls.caPem, current) };
      }
      await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, left()))));
      delay = Math.min(delay * 2, 2000);
    }
  } finally {
    client.close();
  }
}

function checkRenewed(certPem: string, caPem: string, current: NodeCertInfo): NodeCertInfo {
  try {
    verifyChain(certPem, caPem);
    const info = parseNodeCert(certPem);
    if (info.nodeId !== current.nodeId) throw new Error(`it names node ${info.nodeId}, expected ${current.nodeId}`);
    if (info.clusterId !== current.clusterId) throw new Error(`it names cluster ${info.clusterId}, expected ${current.clusterId}`);
    return info;
  } catch (err) {
    throw new SwarmError("FAILED_PRECONDITION", `the renewed certificate is invalid: ${errorMessage(err)}`, { cause: err });
  }
}

/** The managers listed in <stateDir>/state.json (SwarmKit's [{"node_id","addr"}]), in file order. */
export async function knownManagers(stateDir: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(join(stateDir, "state.json"), "utf8");
  } catch {
    return [];
  }
  try {
    const peers = JSON.parse(text) as unknown;
    if (!Array.isArray(peers)) return [];
    return peers
      .map((p) => (p && typeof p === "object" && typeof (p as { addr?: unknown }).addr === "string" ? (p as { addr: string }).addr : ""))
      .filter((a) => a !== "");
  } catch {
    return [];
  }
}

/** The delay a test asked for through SWARMD_TEST_RENEW_AFTER_MS, if any. */
export function testRenewAfterMs(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[TEST_RENEW_AFTER_ENV];
  if (raw === undefined || raw === "") return undefined;
  const ms = Number(raw);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}
