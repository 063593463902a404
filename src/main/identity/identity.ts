// The node's TLS identity on disk: load and validate it on restart, or create
// a new cluster's root CA and this node's first certificate on bootstrap.
// Like SwarmKit, the root CA key is never written here; the caller keeps it
// (it goes into the replicated Cluster object). An operator may place a root
// CA certificate and key (swarm-root-ca.crt/.key) before the first start:
// the new cluster then uses that root instead of generating one.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, rmdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { SwarmError, errorCode } from "../../shared/errors.js";
import { newId } from "../../shared/ids.js";
import { getLogger } from "../../shared/logging.js";
import {
  CertificateError,
  createKeyAndCsr,
  createRootCA,
  keyMatchesCert,
  MANAGER_ROLE,
  parseCertBundle,
  parseNodeCert,
  parsePrivateKey,
  signNodeCsr,
  verifyChain,
  type NodeCertInfo,
  type NodeRole,
} from "../../shared/pki/index.js";
import { fsyncDir, writeFileAtomic, writeFileSynced } from "../../shared/atomic-file.js";
import {
  CERT_DIR_MODE,
  CERT_FILE_MODE,
  KEY_FILE_MODE,
  NODE_CERT_FILE,
  NODE_KEY_FILE,
  ROOT_CA_CERT_FILE,
  ROOT_CA_KEY_FILE,
  certificatePaths,
  type CertificatePaths,
} from "./paths.js";
import { completeInterruptedReplacement, removeStaleTemps, replaceNodePair } from "./node-pair.js";

const log = getLogger("identity");

/** PEM material the TLS layers (grpc-js, tls) take as is. */
export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export interface NodeIdentity {
  nodeId: string;
  role: NodeRole;
  clusterId: string;
  notBefore: Date;
  notAfter: Date;
  tls: TlsMaterial;
  paths: CertificatePaths;
  /** True when this call bootstrapped a new cluster. */
  created: boolean;
  /**
   * The root CA's key: the new one when `created` (it is not on disk), or an
   * operator-supplied swarm-root-ca.key (managers only).
   */
  rootCaKeyPem?: string;
  /** The node certificate has expired (only loaded so with `allowExpired`): renew it at once. */
  expired?: boolean;
}

export interface LoadOptions {
  /** Accept an expired manager certificate (swarmd --force-new-cluster); a worker's is still refused. */
  allowExpired?: boolean;
  now?: number;
}

export interface BootstrapOptions extends LoadOptions {
  /** Role of a bootstrapping node's first certificate. An existing identity keeps the role in its certificate. */
  role: NodeRole;
  nodeId?: string;
  clusterId?: string;
  /** Node certificate lifetime (default SwarmKit's 90 days). */
  certValidityMs?: number;
}

function loadError(path: string, reason: string, code: SwarmError["code"] = "FAILED_PRECONDITION", cause?: unknown): SwarmError {
  return new SwarmError(code, `error while loading TLS certificate in ${path}: ${reason}`, cause ? { cause } : undefined);
}

async function readIfPresent(path: string): Promise<{ text: string; mode: number } | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    return { text, mode: st.mode & 0o777 };
  } catch (err) {
    if (errorCode(err) === "ENOENT") return undefined;
    throw loadError(path, (err as Error).message, "UNAVAILABLE", err);
  }
}

const octal = (mode: number): string => `0${mode.toString(8).padStart(3, "0")}`;

/**
 * Loads and validates the identity in <stateDir>/certificates. Returns
 * undefined when there is none at all; a partial or invalid one is an error.
 */
export async function loadIdentity(stateDir: string, opts: LoadOptions = {}): Promise<NodeIdentity | undefined> {
  const paths = certificatePaths(stateDir);
  // A crash between the two renames of a pair write left the new key beside the old certificate: finish it first.
  await completeInterruptedReplacement(paths, opts.now);
  const [root, rootKey, cert, key] = await Promise.all([
    readIfPresent(paths.rootCaCert),
    readIfPresent(paths.rootCaKey),
    readIfPresent(paths.nodeCert),
    readIfPresent(paths.nodeKey),
  ]);
  if (!root && !cert && !key) {
    if (rootKey) throw loadError(paths.rootCaKey, `root CA key present, but ${ROOT_CA_CERT_FILE} is missing`, "NOT_FOUND");
    return undefined;
  }
  if (!root) throw loadError(paths.rootCaCert, "missing, but a node certificate or key exists", "NOT_FOUND");
  if (!cert && !key) {
    // An operator-supplied root (certificate + key) and no node identity yet: a bootstrap will use it.
    if (rootKey) return undefined;
    throw loadError(paths.rootCaCert, `present without a node certificate; to bootstrap a cluster with this root CA, also place its key in ${ROOT_CA_KEY_FILE}`, "NOT_FOUND");
  }
  if (!cert) throw loadError(paths.nodeCert, "missing, but the root CA certificate exists", "NOT_FOUND");
  if (!key) throw loadError(paths.nodeKey, "missing, but the node certificate exists", "NOT_FOUND");

  if ((key.mode & 0o077) !== 0) {
    throw loadError(paths.nodeKey, `private key has mode ${octal(key.mode)}; it must not be accessible by group or others (chmod 600)`, "PERMISSION_DENIED");
  }
  for (const [path, f] of [[paths.rootCaCert, root], [paths.nodeCert, cert]] as const) {
    if ((f.mode & 0o022) !== 0) {
      throw loadError(path, `certificate has mode ${octal(f.mode)}; it must not be writable by group or others (chmod 644)`, "PERMISSION_DENIED");
    }
  }

  checkRootBundle(paths.rootCaCert, root.text);
  let info: NodeCertInfo;
  try {
    info = parseNodeCert(cert.text);
  } catch (err) {
    throw loadError(paths.nodeCert, (err as Error).message, "FAILED_PRECONDITION", err);
  }
  // Expiry first: it is the problem to report even when the key was replaced since (a renewal makes a new key).
  const expired = (opts.now ?? Date.now()) > info.notAfter.getTime();
  if (expired) checkExpiredAllowed(paths.nodeCert, info, opts);
  try {
    parsePrivateKey(key.text);
  } catch (err) {
    throw loadError(paths.nodeKey, (err as Error).message, "FAILED_PRECONDITION", err);
  }
  if (!keyMatchesCert(key.text, cert.text)) {
    throw loadError(paths.nodeKey, `private key does not match the certificate in ${NODE_CERT_FILE}`);
  }
  try {
    verifyChain(cert.text, root.text, { allowExpired: expired || opts.allowExpired, now: opts.now });
  } catch (err) {
    const problem = err instanceof CertificateError ? err.problem : undefined;
    const reason = problem === "unknown-authority" ? `certificate is not signed by the root CA in ${ROOT_CA_CERT_FILE}` : (err as Error).message;
    throw loadError(paths.nodeCert, reason, "FAILED_PRECONDITION", err);
  }
  let rootCaKeyPem: string | undefined;
  if (rootKey) {
    if (info.role === MANAGER_ROLE) rootCaKeyPem = checkRootKey(paths, root.text, rootKey);
    else log.warn({ path: paths.rootCaKey }, "a root CA key is present but this node is a worker: ignored");
  }
  if (expired) log.warn({ nodeId: info.nodeId, notAfter: info.notAfter.toISOString() }, "the node certificate has expired; loaded for --force-new-cluster, it will be renewed at once");
  // Only now: until the live pair validated, a temp file could have been the one usable copy.
  await removeStaleTemps(paths);
  return {
    ...info,
    tls: { caPem: root.text, certPem: cert.text, keyPem: key.text },
    paths,
    created: false,
    ...(rootCaKeyPem !== undefined ? { rootCaKeyPem } : {}),
    ...(expired ? { expired: true } : {}),
  };
}

/** An expired node certificate is only usable by a manager recovering with --force-new-cluster (it can renew through its own CA). */
function checkExpiredAllowed(path: string, info: NodeCertInfo, opts: LoadOptions): void {
  const what = `x509: certificate has expired (not after ${info.notAfter.toISOString()})`;
  if (info.role !== MANAGER_ROLE) {
    throw loadError(path, `${what}; a worker cannot renew an expired certificate: empty the state dir and join again with a token`);
  }
  if (!opts.allowExpired) {
    throw loadError(path, `${what} (start with --force-new-cluster to recover a lone manager; it renews the certificate through its own CA)`);
  }
}

function checkRootBundle(path: string, pem: string): void {
  try {
    for (const ca of parseCertBundle(pem)) {
      if (!ca.ca) throw new CertificateError("malformed", "root bundle contains a certificate that is not a CA");
    }
  } catch (err) {
    throw loadError(path, (err as Error).message, "FAILED_PRECONDITION", err);
  }
}

/**
 * An operator-supplied root CA key: private (0600), parsable, RSA (the
 * signer builds certificates with node-forge), and the key of the first
 * certificate in the root bundle. Returns the PEM as is.
 */
function checkRootKey(paths: CertificatePaths, rootPem: string, key: { text: string; mode: number }): string {
  if ((key.mode & 0o077) !== 0) {
    throw loadError(paths.rootCaKey, `root CA key has mode ${octal(key.mode)}; it must not be accessible by group or others (chmod 600)`, "PERMISSION_DENIED");
  }
  let type: string | undefined;
  try {
    type = parsePrivateKey(key.text).asymmetricKeyType;
  } catch (err) {
    throw loadError(paths.rootCaKey, (err as Error).message, "FAILED_PRECONDITION", err);
  }
  if (type !== "rsa") throw loadError(paths.rootCaKey, `root CA key is ${type ?? "of an unknown type"}; swarmd signs with RSA keys only`);
  if (!keyMatchesCert(key.text, rootPem)) {
    throw loadError(paths.rootCaKey, `root CA key does not match the certificate in ${ROOT_CA_CERT_FILE}`);
  }
  return key.text;
}

/** The operator's root CA (certificate + key) placed before the first start, if any. */
async function operatorRootCA(paths: CertificatePaths): Promise<{ certPem: string; keyPem: string } | undefined> {
  const [root, rootKey] = await Promise.all([readIfPresent(paths.rootCaCert), readIfPresent(paths.rootCaKey)]);
  if (!root && !rootKey) return undefined;
  if (!root) throw loadError(paths.rootCaKey, `root CA key present, but ${ROOT_CA_CERT_FILE} is missing`, "NOT_FOUND");
  if (!rootKey) throw loadError(paths.rootCaCert, `a root CA certificate without its key (${ROOT_CA_KEY_FILE}) cannot bootstrap a cluster`, "NOT_FOUND");
  if ((root.mode & 0o022) !== 0) {
    throw loadError(paths.rootCaCert, `certificate has mode ${octal(root.mode)}; it must not be writable by group or others (chmod 644)`, "PERMISSION_DENIED");
  }
  checkRootBundle(paths.rootCaCert, root.text);
  try {
    verifyChain(root.text, root.text);
  } catch (err) {
    throw loadError(paths.rootCaCert, `the root CA certificate is not usable: ${(err as Error).message}`, "FAILED_PRECONDITION", err);
  }
  return { certPem: root.text, keyPem: checkRootKey(paths, root.text, rootKey) };
}

/** Loads the identity, or bootstraps a new cluster's identity when there is none. */
export async function loadOrCreateIdentity(stateDir: string, opts: BootstrapOptions): Promise<NodeIdentity> {
  const existing = await loadIdentity(stateDir, opts);
  if (existing) {
    log.debug({ nodeId: existing.nodeId, role: existing.role }, "loaded node credentials");
    return existing;
  }
  return createIdentity(stateDir, opts);
}

async function createIdentity(stateDir: string, opts: BootstrapOptions): Promise<NodeIdentity> {
  const paths = certificatePaths(stateDir);
  const nodeId = opts.nodeId ?? newId();
  const clusterId = opts.clusterId ?? newId();
  const supplied = await operatorRootCA(paths);
  const rootCA = supplied ?? (await createRootCA({ now: opts.now }));
  const { keyPem, csrPem } = await createKeyAndCsr(nodeId, opts.role, clusterId);
  const certPem = signNodeCsr({
    csrPem,
    caCertPem: rootCA.certPem,
    caKeyPem: rootCA.keyPem,
    nodeId,
    role: opts.role,
    clusterId,
    validityMs: opts.certValidityMs,
    now: opts.now,
  });
  await writeNewCertificateDir(stateDir, paths, { caPem: rootCA.certPem, certPem, keyPem });
  const info = parseNodeCert(certPem);
  if (supplied) log.info({ nodeId, role: opts.role, clusterId, rootCa: paths.rootCaCert }, "bootstrapped with the operator's root CA; created the node certificate");
  else log.info({ nodeId, role: opts.role, clusterId }, "created a new root CA and node certificate");
  return {
    ...info,
    tls: { caPem: rootCA.certPem, certPem, keyPem },
    paths,
    created: true,
    rootCaKeyPem: rootCA.keyPem,
  };
}

/**
 * Writes all three files so that a crash leaves either no identity or a whole
 * one: they are built in a temporary directory that is renamed into place.
 */
export async function writeNewCertificateDir(stateDir: string, paths: CertificatePaths, tls: TlsMaterial): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const leftovers = await readdir(paths.dir).catch((err: unknown) => {
    if (errorCode(err) === "ENOENT") return undefined;
    throw err;
  });
  if (leftovers !== undefined && leftovers.length > 0) {
    // Unrelated files live there (e.g. a pre-provisioned CA key): write next to them, the root
    // first, then key and certificate as a pair (a crash between its renames is completed at load).
    await writeFileAtomic(paths.rootCaCert, tls.caPem, CERT_FILE_MODE);
    await replaceNodePair(paths, tls.certPem, tls.keyPem);
    return;
  }
  const tmp = join(dirname(paths.dir), `.certificates.tmp-${randomBytes(6).toString("hex")}`);
  try {
    await mkdir(tmp, { mode: CERT_DIR_MODE });
    await writeFileSynced(join(tmp, ROOT_CA_CERT_FILE), tls.caPem, CERT_FILE_MODE);
    await writeFileSynced(join(tmp, NODE_KEY_FILE), tls.keyPem, KEY_FILE_MODE);
    await writeFileSynced(join(tmp, NODE_CERT_FILE), tls.certPem, CERT_FILE_MODE);
    await fsyncDir(tmp);
    if (leftovers !== undefined) await rmdir(paths.dir);
    await rename(tmp, paths.dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw new SwarmError("INTERNAL", `cannot write ${paths.dir}: ${(err as Error).message}`, { cause: err });
  }
  await fsyncDir(stateDir);
}

/**
 * Replaces the node certificate and key (renewal, join). Both are written and
 * synced to temporary files before either is renamed into place, so a failed
 * write (disk full, I/O error) leaves the old pair intact; a crash between the
 * two renames is completed by the next loadIdentity (node-pair.ts).
 */
export async function saveNodeCertificate(stateDir: string, certPem: string, keyPem: string): Promise<void> {
  const paths = certificatePaths(stateDir);
  if (!keyMatchesCert(keyPem, certPem)) throw new SwarmError("INVALID_ARGUMENT", "refusing to save a certificate that does not match its key");
  await mkdir(paths.dir, { recursive: true, mode: CERT_DIR_MODE });
  await replaceNodePair(paths, certPem, keyPem);
}

/** Replaces the trusted root CA bundle (join, root rotation). */
export async function saveRootCA(stateDir: string, caPem: string): Promise<void> {
  const paths = certificatePaths(stateDir);
  parseCertBundle(caPem);
  await mkdir(paths.dir, { recursive: true, mode: CERT_DIR_MODE });
  await writeFileAtomic(paths.rootCaCert, caPem, CERT_FILE_MODE);
}
