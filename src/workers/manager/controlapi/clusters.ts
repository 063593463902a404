// Cluster methods (SwarmKit controlapi/cluster.go): read with private keys
// redacted; update validates the spec, keeps the name "default", rotates
// join tokens and the manager unlock key on request.
import {
  Cluster,
  type ClusterSpec,
  type EncryptionKey,
  type GetClusterRequest,
  type GetClusterResponse,
  type ListClustersRequest,
  type ListClustersResponse,
  type UpdateClusterRequest,
  type UpdateClusterResponse,
} from "../../../shared/api/index.js";
import { MANAGER_ROLE, MIN_NODE_CERT_VALIDITY_MS, generateJoinToken, generateUnlockKey } from "../../../shared/pki/index.js";
import { cloneObject, DEFAULT_CLUSTER_NAME, type ReadTx } from "../store/index.js";
import { write, writeObject, type HandlerContext } from "./context.js";
import { internal, invalid, notFound, unimplemented } from "./errors.js";
import { filterContains, filterContainsPrefix, filterMatchLabels } from "./filters.js";
import { durationMs } from "./validate-common.js";

/** A removed node's certificate stays refused this long past its expiry. */
export const EXPIRED_CERT_GRACE_MS = 7 * 24 * 3600 * 1000;
/** What SwarmKit's responses show when the cluster has none set (libnetwork defaults). */
const DEFAULT_ADDRESS_POOL = ["10.0.0.0/8"];
const DEFAULT_SUBNET_SIZE = 24;
const DEFAULT_VXLAN_UDP_PORT = 4789;

export function findDefaultCluster(tx: ReadTx): Cluster | undefined {
  const found = tx.find("cluster", { names: [DEFAULT_CLUSTER_NAME] });
  return found.length === 1 ? found[0] : undefined;
}

/** Drop blacklist entries whose certificate expired more than the grace period ago. */
export function expireBlacklistedCerts(cluster: Cluster, now: Date): void {
  const limit = now.getTime() - EXPIRED_CERT_GRACE_MS;
  const kept: Cluster["blacklistedCertificates"] = {};
  for (const [cn, entry] of Object.entries(cluster.blacklistedCertificates)) {
    if (entry.expiry !== undefined && entry.expiry.getTime() < limit) continue;
    kept[cn] = entry;
  }
  cluster.blacklistedCertificates = kept;
}

/** Only public fields leave the manager: no CA keys, no unlock or network keys. */
export function redactCluster(c: Cluster): Cluster {
  const spec = c.spec && {
    ...c.spec,
    caConfig: c.spec.caConfig && { ...c.spec.caConfig, signingCaKey: Buffer.alloc(0), signingCaCert: Buffer.alloc(0) },
  };
  const rootCa = c.rootCa && {
    ...c.rootCa,
    caKey: Buffer.alloc(0),
    rootRotation: c.rootCa.rootRotation && { ...c.rootCa.rootRotation, caKey: Buffer.alloc(0) },
  };
  const pool = c.defaultAddressPool.length > 0;
  return Cluster.fromPartial({
    id: c.id,
    meta: c.meta,
    spec,
    rootCa,
    blacklistedCertificates: c.blacklistedCertificates,
    fips: c.fips,
    defaultAddressPool: pool ? c.defaultAddressPool : DEFAULT_ADDRESS_POOL,
    subnetSize: pool ? c.subnetSize : DEFAULT_SUBNET_SIZE,
    VXLANUDPPort: c.VXLANUDPPort !== 0 ? c.VXLANUDPPort : DEFAULT_VXLAN_UDP_PORT,
  });
}

function validateClusterSpec(spec: ClusterSpec | undefined): asserts spec is ClusterSpec {
  if (!spec) throw invalid();
  const expiry = durationMs(spec.caConfig?.nodeCertExpiry, "CAConfig.NodeCertExpiry");
  if (expiry !== undefined && expiry < MIN_NODE_CERT_VALIDITY_MS) throw invalid("minimum certificate expiry time is: 1h0m0s");
  for (const p of spec.acceptancePolicy?.policies ?? []) {
    if (p.secret && p.secret.alg.toLowerCase() !== "bcrypt") throw invalid(`hashing algorithm is not supported: ${p.secret.alg}`);
  }
  const heartbeat = durationMs(spec.dispatcher?.heartbeatPeriod, "Dispatcher.HeartbeatPeriod");
  if (heartbeat !== undefined && heartbeat < 0) throw invalid("heartbeat time period cannot be a negative duration");
  if (spec.annotations?.name !== DEFAULT_CLUSTER_NAME) throw invalid("modification of cluster name is not allowed");
}

export function getCluster(ctx: HandlerContext, req: GetClusterRequest): GetClusterResponse {
  if (req.clusterId === "") throw invalid();
  const cluster = ctx.backend.store.get("cluster", req.clusterId);
  if (!cluster) throw notFound(`cluster ${req.clusterId} not found`);
  return { cluster: redactCluster(cluster) };
}

export function listClusters(ctx: HandlerContext, req: ListClustersRequest): ListClustersResponse {
  const f = req.filters;
  let clusters = ctx.backend.store.view((tx) => {
    if (f?.names.length) return tx.find("cluster", { names: f.names });
    if (f?.namePrefixes.length) return tx.find("cluster", { namePrefixes: f.namePrefixes });
    if (f?.idPrefixes.length) return tx.find("cluster", { idPrefixes: f.idPrefixes });
    return tx.find("cluster");
  });
  if (f) {
    clusters = clusters.filter((c) => {
      const name = c.spec?.annotations?.name ?? "";
      return (
        filterContains(name, f.names) &&
        filterContainsPrefix(name, f.namePrefixes) &&
        filterContainsPrefix(c.id, f.idPrefixes) &&
        filterMatchLabels(c.spec?.annotations?.labels, f.labels)
      );
    });
  }
  return { clusters: clusters.map(redactCluster) };
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return Buffer.compare(Buffer.from(a ?? []), Buffer.from(b ?? [])) === 0;
}

export async function updateCluster(ctx: HandlerContext, req: UpdateClusterRequest): Promise<UpdateClusterResponse> {
  if (req.clusterId === "" || req.clusterVersion === undefined) throw invalid();
  const spec = req.spec;
  validateClusterSpec(spec);
  const rotation = req.rotation;
  const cluster = await writeObject(ctx, "cluster", (tx) => {
    const current = tx.get("cluster", req.clusterId);
    if (!current) throw notFound(`cluster ${req.clusterId} not found`);
    const caCert = current.rootCa?.caCert;
    if (!caCert || caCert.length === 0) throw internal("error loading cluster rootCA for update");
    // Root rotation and external signing CAs are not supported: refuse rather than ignore.
    const given = spec.caConfig;
    const had = current.spec?.caConfig;
    const certChanged = (given?.signingCaCert.length ?? 0) > 0 && !sameBytes(given?.signingCaCert, had?.signingCaCert);
    const keyChanged = (given?.signingCaKey.length ?? 0) > 0 && !sameBytes(given?.signingCaKey, had?.signingCaKey);
    if (certChanged || keyChanged || (given?.forceRotate ?? 0) !== (had?.forceRotate ?? 0)) {
      throw unimplemented("root CA rotation is not supported by this manager");
    }
    const next = cloneObject(current);
    next.meta = { ...next.meta!, version: req.clusterVersion };
    // The signing CA fields are redacted on read; keep the stored ones.
    next.spec = {
      ...spec,
      caConfig: spec.caConfig && {
        ...spec.caConfig,
        signingCaCert: had?.signingCaCert ?? Buffer.alloc(0),
        signingCaKey: had?.signingCaKey ?? Buffer.alloc(0),
      },
    };
    expireBlacklistedCerts(next, ctx.now());
    const rootCa = next.rootCa!;
    const tokens = { worker: rootCa.joinTokens?.worker ?? "", manager: rootCa.joinTokens?.manager ?? "" };
    if (rotation?.workerJoinToken) tokens.worker = generateJoinToken(caCert);
    if (rotation?.managerJoinToken) tokens.manager = generateJoinToken(caCert);
    rootCa.joinTokens = tokens;
    next.unlockKeys = nextUnlockKeys(next, rotation?.managerUnlockKey ?? false);
    tx.update("cluster", next);
    return req.clusterId;
  });
  return { cluster: redactCluster(cluster) };
}

/** SwarmKit: the manager unlock key exists exactly while autolock is on; rotation replaces it. */
function nextUnlockKeys(cluster: Cluster, rotate: boolean): EncryptionKey[] {
  const autolock = cluster.spec?.encryptionConfig?.autoLockManagers ?? false;
  const keys: EncryptionKey[] = [];
  let managerKey: EncryptionKey | undefined;
  for (const k of cluster.unlockKeys) {
    if (k.subsystem === MANAGER_ROLE) {
      if (!autolock) continue;
      managerKey = { ...k };
      keys.push(managerKey);
      continue;
    }
    keys.push(k);
  }
  if (autolock && !managerKey) keys.push({ subsystem: MANAGER_ROLE, algorithm: 0, key: generateUnlockKey(), lamportTime: 0 });
  else if (autolock && managerKey && rotate) managerKey.key = generateUnlockKey();
  return keys;
}
