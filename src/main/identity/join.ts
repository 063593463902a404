// Joining an existing cluster (swarmd --join-addr --join-token), SwarmKit's
// DownloadRootCA + CreateSecurityConfig: fetch the root CA over TLS without a
// client certificate, check it against the digest in the token, send a CSR
// with the token, poll until the certificate is issued, verify it. Nothing is
// written until all of that succeeded; then the three files land at once.
import { Metadata, credentials, status as Status, type ChannelCredentials, type ServiceError } from "@grpc/grpc-js";
import {
  CAClient,
  IssuanceStatus_State,
  NodeCAClient,
  NodeSpec_Availability,
  type IssueNodeCertificateResponse,
  type NodeCertificateStatusResponse,
} from "../../shared/api/index.js";
import { SwarmError, errorMessage } from "../../shared/errors.js";
import { getLogger } from "../../shared/logging.js";
import {
  CA_ROLE,
  createKeyAndCsr,
  keyMatchesCert,
  parseCertBundle,
  parseJoinToken,
  parseNodeCert,
  rootDigest,
  verifyChain,
  type NodeCertInfo,
} from "../../shared/pki/index.js";
import { writeNewCertificateDir, type NodeIdentity, type TlsMaterial } from "./identity.js";
import { certificatePaths } from "./paths.js";

const log = getLogger("join");

/** Per-call deadline for the quick calls (root CA, issuance request). */
const CALL_TIMEOUT_MS = 5000;
/** Each status poll waits this long on the server for a final state. */
const STATUS_POLL_MS = 5000;
/** Whole join, from the first dial to the issued certificate. */
export const DEFAULT_JOIN_TIMEOUT_MS = 30_000;

export interface JoinOptions {
  /** host:port of a manager. */
  joinAddr: string;
  token: string;
  availability?: NodeSpec_Availability;
  timeoutMs?: number;
}

/** What a successful join yields, still in memory. */
export interface JoinResult extends NodeCertInfo {
  tls: TlsMaterial;
  joinAddr: string;
}

function joinError(addr: string, reason: string, code: SwarmError["code"] = "FAILED_PRECONDITION"): SwarmError {
  return new SwarmError(code, `cannot join the cluster through ${addr}: ${reason}`);
}

/** A gRPC failure in one clear phrase. */
function describeRpcError(err: unknown): { code: SwarmError["code"]; text: string } {
  const e = err as Partial<ServiceError>;
  switch (e.code) {
    case Status.UNAVAILABLE:
      return { code: "UNAVAILABLE", text: `the manager is unreachable (${e.details ?? errorMessage(err)})` };
    case Status.DEADLINE_EXCEEDED:
      return { code: "DEADLINE_EXCEEDED", text: "the manager did not answer in time" };
    case Status.INVALID_ARGUMENT:
      return { code: "INVALID_ARGUMENT", text: e.details ?? errorMessage(err) };
    case Status.PERMISSION_DENIED:
      return { code: "PERMISSION_DENIED", text: e.details ?? errorMessage(err) };
    default:
      return { code: "UNKNOWN", text: e.details ?? errorMessage(err) };
  }
}

function unaryCall<Res>(fn: (cb: (err: ServiceError | null, res: Res) => void) => void): Promise<Res> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res))));
}

const deadlineIn = (ms: number): Date => new Date(Date.now() + ms);

/** Downloads the root CA without verifying the server, and checks it against the token's digest. */
export async function fetchRootCA(joinAddr: string, digestHex: string, timeoutMs = CALL_TIMEOUT_MS): Promise<string> {
  // The root is not known yet, so the server cannot be verified: the digest check below is the trust anchor.
  const insecure = credentials.createSsl(null, null, null, { rejectUnauthorized: false, checkServerIdentity: () => undefined });
  // A server name, not the IP, avoids Node's RFC 6066 warning; nothing is verified here anyway.
  const client = new CAClient(joinAddr, insecure, { "grpc.ssl_target_name_override": CA_ROLE });
  let pem: string;
  try {
    const res = await unaryCall<{ certificate: Buffer }>((cb) =>
      client.getRootCaCertificate({}, new Metadata(), { deadline: deadlineIn(timeoutMs) }, cb),
    );
    pem = Buffer.from(res.certificate).toString();
  } catch (err) {
    const { code, text } = describeRpcError(err);
    throw joinError(joinAddr, `could not fetch the root CA: ${text}`, code);
  } finally {
    client.close();
  }
  const got = rootDigest(pem);
  if (got !== digestHex) {
    throw joinError(
      joinAddr,
      `the root CA it presented does not match the join token (remote CA does not match fingerprint. Expected: ${digestHex}, got: ${got}); ` +
        "the token belongs to another cluster, or something is intercepting the connection",
      "PERMISSION_DENIED",
    );
  }
  try {
    for (const c of parseCertBundle(pem)) if (!c.ca) throw new Error("the root bundle holds a certificate that is not a CA");
  } catch (err) {
    throw joinError(joinAddr, `the root CA is invalid: ${errorMessage(err)}`);
  }
  return pem;
}

/** Runs the network part of a join; writes nothing. */
export async function requestJoin(opts: JoinOptions): Promise<JoinResult> {
  const { joinAddr } = opts;
  let digestHex: string;
  try {
    digestHex = parseJoinToken(opts.token).digestHex;
  } catch {
    throw new SwarmError("INVALID_ARGUMENT", "invalid join token (expected SWMTKN-1-<digest>-<secret>, as printed by the cluster)");
  }
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_JOIN_TIMEOUT_MS;
  const left = (): number => timeoutMs - (Date.now() - started);

  const caPem = await fetchRootCA(joinAddr, digestHex, Math.min(CALL_TIMEOUT_MS, left()));
  const { keyPem, csrPem } = await createKeyAndCsr();

  // From here the server must present a certificate of this root with the swarm-ca name (every manager's has it).
  const creds: ChannelCredentials = credentials.createSsl(Buffer.from(caPem));
  const client = new NodeCAClient(joinAddr, creds, { "grpc.ssl_target_name_override": CA_ROLE });
  try {
    let issued: IssueNodeCertificateResponse;
    try {
      issued = await unaryCall<IssueNodeCertificateResponse>((cb) =>
        client.issueNodeCertificate(
          { role: 0, csr: Buffer.from(csrPem), token: opts.token, availability: opts.availability ?? NodeSpec_Availability.ACTIVE },
          new Metadata(),
          { deadline: deadlineIn(Math.max(1, Math.min(CALL_TIMEOUT_MS * 2, left()))) },
          cb,
        ),
      );
    } catch (err) {
      const { code, text } = describeRpcError(err);
      const hint = code === "INVALID_ARGUMENT" ? " (the token is wrong, or it was rotated: ask a manager for the current one)" : "";
      throw joinError(joinAddr, `the manager refused to issue a certificate: ${text}${hint}`, code);
    }
    log.info({ nodeId: issued.nodeId, manager: joinAddr }, "join accepted; waiting for the certificate");

    let delay = 100;
    for (;;) {
      if (left() <= 0) throw joinError(joinAddr, `the join was accepted but no certificate was issued within ${Math.round(timeoutMs / 1000)} s; the leader's log says why its CA is not signing`, "DEADLINE_EXCEEDED");
      let st: NodeCertificateStatusResponse;
      try {
        st = await unaryCall<NodeCertificateStatusResponse>((cb) =>
          client.nodeCertificateStatus({ nodeId: issued.nodeId }, new Metadata(), { deadline: deadlineIn(Math.max(1, Math.min(STATUS_POLL_MS, left()))) }, cb),
        );
      } catch (err) {
        const e = err as Partial<ServiceError>;
        // A status poll may time out or hit a manager without the node yet; keep polling until the overall deadline.
        if (e.code !== Status.DEADLINE_EXCEEDED && e.code !== Status.UNAVAILABLE && e.code !== Status.NOT_FOUND) {
          const { code, text } = describeRpcError(err);
          throw joinError(joinAddr, `certificate status: ${text}`, code);
        }
        st = { status: undefined, certificate: undefined };
      }
      const state = st.status?.state;
      if (state === IssuanceStatus_State.FAILED) {
        throw joinError(joinAddr, `the CA refused the certificate request: ${st.status?.err || "no reason given"}`);
      }
      if (state === IssuanceStatus_State.ISSUED && st.certificate && st.certificate.certificate.length > 0) {
        const certPem = Buffer.from(st.certificate.certificate).toString();
        return { ...checkIssued(joinAddr, certPem, keyPem, caPem, issued.nodeId), tls: { caPem, certPem, keyPem }, joinAddr };
      }
      await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, left()))));
      delay = Math.min(delay * 2, 2000);
    }
  } finally {
    client.close();
  }
}

function checkIssued(joinAddr: string, certPem: string, keyPem: string, caPem: string, nodeId: string): NodeCertInfo {
  try {
    verifyChain(certPem, caPem);
    if (!keyMatchesCert(keyPem, certPem)) throw new Error("the certificate is not for our key");
    const info = parseNodeCert(certPem);
    if (info.nodeId !== nodeId) throw new Error(`the certificate names node ${info.nodeId}, expected ${nodeId}`);
    return info;
  } catch (err) {
    throw joinError(joinAddr, `the issued certificate is invalid: ${errorMessage(err)}`);
  }
}

/** Writes a successful join's identity into <stateDir>/certificates, all three files at once. */
export async function saveJoinedIdentity(stateDir: string, joined: JoinResult): Promise<NodeIdentity> {
  const paths = certificatePaths(stateDir);
  await writeNewCertificateDir(stateDir, paths, joined.tls);
  const { tls, joinAddr: _addr, ...info } = joined;
  log.info({ nodeId: info.nodeId, role: info.role, clusterId: info.clusterId }, "joined the cluster; certificate saved");
  return { ...info, tls, paths, created: false };
}

/** requestJoin + saveJoinedIdentity. */
export async function joinCluster(stateDir: string, opts: JoinOptions): Promise<NodeIdentity> {
  return saveJoinedIdentity(stateDir, await requestJoin(opts));
}
