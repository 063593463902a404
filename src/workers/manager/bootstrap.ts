// What the first leader of a new cluster writes (SwarmKit's becomeLeader):
// the default Cluster object with the root CA and join tokens, and this
// node's own Node object as a manager. Both are created only if missing, so
// a restarted or new leader writes nothing.
import {
  Cluster,
  IssuanceStatus_State,
  Node,
  NodeRole as ApiNodeRole,
  NodeSpec_Availability,
  NodeSpec_Membership,
  durationFromMillis,
} from "../../shared/api/index.js";
import { generateJoinTokens, rootCertHash } from "../../shared/pki/index.js";
import type { IdentityData } from "../../shared/contracts/index.js";
import { getLogger } from "../../shared/logging.js";
import { DEFAULT_CLUSTER_NAME, update, type MemoryStore, type Proposer } from "./store/index.js";

const log = getLogger("bootstrap");

const NODE_CERT_EXPIRY_MS = 2160 * 3600 * 1000;
const HEARTBEAT_PERIOD_MS = 5000;
const TASK_HISTORY_RETENTION = 5;

export interface ClusterDefaults {
  heartbeatTick: number;
  electionTick: number;
}

export function defaultClusterObject(identity: IdentityData, rootCaKeyPem: string, d: ClusterDefaults): Cluster {
  const tokens = generateJoinTokens(identity.tls.caPem);
  return Cluster.fromPartial({
    id: identity.clusterId,
    spec: {
      annotations: { name: DEFAULT_CLUSTER_NAME },
      orchestration: { taskHistoryRetentionLimit: TASK_HISTORY_RETENTION },
      raft: {
        snapshotInterval: 10_000,
        keepOldSnapshots: 0,
        logEntriesForSlowFollowers: 500,
        heartbeatTick: d.heartbeatTick,
        electionTick: d.electionTick,
      },
      dispatcher: { heartbeatPeriod: durationFromMillis(HEARTBEAT_PERIOD_MS) },
      caConfig: { nodeCertExpiry: durationFromMillis(NODE_CERT_EXPIRY_MS) },
    },
    rootCa: {
      caKey: Buffer.from(rootCaKeyPem),
      caCert: Buffer.from(identity.tls.caPem),
      caCertHash: rootCertHash(identity.tls.caPem),
      joinTokens: { worker: tokens.worker, manager: tokens.manager },
    },
  });
}

export function ownManagerNode(identity: IdentityData, hostname: string): Node {
  return Node.fromPartial({
    id: identity.nodeId,
    spec: {
      annotations: { name: hostname },
      desiredRole: ApiNodeRole.MANAGER,
      membership: NodeSpec_Membership.ACCEPTED,
      availability: NodeSpec_Availability.ACTIVE,
    },
    // The agent reports the full description once its session is up.
    description: { hostname },
    role: ApiNodeRole.MANAGER,
    certificate: {
      role: ApiNodeRole.MANAGER,
      cn: identity.nodeId,
      certificate: Buffer.from(identity.tls.certPem),
      status: { state: IssuanceStatus_State.ISSUED, err: "" },
    },
  });
}

/** Creates the default cluster and this node's object if they do not exist yet. */
export async function bootstrapClusterObjects(
  store: MemoryStore,
  proposer: Proposer,
  identity: IdentityData,
  hostname: string,
  d: ClusterDefaults,
): Promise<void> {
  await update(store, proposer, (tx) => {
    if (!tx.get("cluster", identity.clusterId)) {
      if (!identity.rootCaKeyPem) {
        // Only possible after a crash between creating the identity and the first commit: the root
        // CA key lived in memory only. Nothing can be signed; the operator must start afresh.
        log.error(
          { clusterId: identity.clusterId },
          "the cluster object was never written and the root CA key is gone (swarmd stopped during its first start): remove the state dir and bootstrap again",
        );
      } else {
        tx.create("cluster", defaultClusterObject(identity, identity.rootCaKeyPem, d));
        log.info({ clusterId: identity.clusterId }, "created the default cluster object");
      }
    }
    if (!tx.get("node", identity.nodeId)) tx.create("node", ownManagerNode(identity, hostname));
  });
}
