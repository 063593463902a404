// Reading node identity out of certificates and checking chains, with Node's
// own X509Certificate (it also parses SwarmKit's ECDSA certificates).
import { X509Certificate } from "node:crypto";
import { SwarmError, type ErrorCode } from "../errors.js";
import { isNodeRole, type NodeRole } from "./constants.js";

export interface NodeCertInfo {
  nodeId: string;
  role: NodeRole;
  clusterId: string;
  notBefore: Date;
  notAfter: Date;
}

export type CertProblem = "malformed" | "unknown-authority" | "expired" | "not-yet-valid";

/** A certificate check failed; `problem` says which way. */
export class CertificateError extends SwarmError {
  readonly problem: CertProblem;
  constructor(problem: CertProblem, message: string, options?: { cause?: unknown }) {
    const code: ErrorCode =
      problem === "malformed" ? "INVALID_ARGUMENT" : problem === "unknown-authority" ? "PERMISSION_DENIED" : "FAILED_PRECONDITION";
    super(code, message, options);
    this.problem = problem;
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Every certificate in a PEM bundle, in order; throws on an empty or unparsable bundle. */
export function parseCertBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new CertificateError("malformed", "no certificate found in PEM data");
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new CertificateError("malformed", `cannot parse certificate: ${(err as Error).message}`, { cause: err });
    }
  });
}

/** Attribute values of a distinguished name as Node prints it ("K=v" per line). */
export function dnValues(dn: string, key: string): string[] {
  const out: string[] = [];
  for (const line of dn.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0 && line.slice(0, eq) === key) out.push(line.slice(eq + 1));
  }
  return out;
}

export function certValidity(cert: X509Certificate): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) };
}

/** The node identity in a node certificate: CN = node ID, OU[0] = role, O[0] = cluster ID. */
export function parseNodeCert(pem: string): NodeCertInfo {
  const cert = parseCertBundle(pem)[0]!;
  const nodeId = dnValues(cert.subject, "CN")[0];
  const role = dnValues(cert.subject, "OU")[0];
  const clusterId = dnValues(cert.subject, "O")[0];
  if (!nodeId) throw new CertificateError("malformed", "node certificate has no common name (node ID)");
  if (!role || !isNodeRole(role)) {
    throw new CertificateError("malformed", `node certificate has no node role in its OU (got ${role ?? "none"})`);
  }
  if (!clusterId) throw new CertificateError("malformed", "node certificate has no organization (cluster ID)");
  return { nodeId, role, clusterId, ...certValidity(cert) };
}

export interface VerifyOptions {
  now?: number;
  /** Accept expired certificates (swarmd --force-new-cluster). */
  allowExpired?: boolean;
}

function checkTime(cert: X509Certificate, what: string, opts: VerifyOptions): void {
  if (opts.allowExpired) return;
  const now = opts.now ?? Date.now();
  const { notBefore, notAfter } = certValidity(cert);
  if (now > notAfter.getTime()) {
    throw new CertificateError("expired", `x509: ${what} has expired (not after ${notAfter.toISOString()})`);
  }
  if (now < notBefore.getTime()) {
    throw new CertificateError("not-yet-valid", `x509: ${what} is not yet valid (not before ${notBefore.toISOString()})`);
  }
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return parent.ca && child.checkIssued(parent) && child.verify(parent.publicKey);
}

/**
 * Checks that the first certificate of certPem chains to one of the roots in
 * caPem, through any intermediates that follow it in certPem. Throws a
 * CertificateError; returns the verified path (leaf first, root last).
 */
export function verifyChain(certPem: string, caPem: string, opts: VerifyOptions = {}): X509Certificate[] {
  const [leaf, ...intermediates] = parseCertBundle(certPem);
  const roots = parseCertBundle(caPem);
  const path: X509Certificate[] = [leaf!];
  checkTime(leaf!, "certificate", opts);
  let current = leaf!;
  for (let depth = 0; depth <= intermediates.length; depth++) {
    const root = roots.find((r) => issuedBy(current, r));
    if (root) {
      checkTime(root, "root CA certificate", opts);
      path.push(root);
      return path;
    }
    const next = intermediates.find((i) => !path.includes(i) && issuedBy(current, i));
    if (!next) break;
    checkTime(next, "intermediate certificate", opts);
    path.push(next);
    current = next;
  }
  throw new CertificateError("unknown-authority", "x509: certificate signed by unknown authority");
}
