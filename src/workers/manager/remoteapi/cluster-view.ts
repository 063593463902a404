// Authorization's view of the cluster, read from the replicated store at
// each call: the cluster ID, and the nodes removed from it (SwarmKit's
// Cluster.BlacklistedCertificates), whose certificates are refused from then on.
import type { MemoryStore } from "../store/index.js";
import type { ClusterAuthView } from "./caller.js";

export function storeClusterView(store: MemoryStore, clusterId: string): ClusterAuthView {
  return {
    id: clusterId,
    isRemoved(nodeId: string): boolean {
      const cluster = store.get("cluster", clusterId);
      return cluster !== undefined && Object.hasOwn(cluster.blacklistedCertificates, nodeId);
    },
  };
}
