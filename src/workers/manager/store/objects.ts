// The object kinds the store holds: SwarmKit's Node, Service, Network, Task,
// Cluster, Secret and Config, as generated from api/objects.proto.
import { Cluster, Config, Network, Node, Secret, Service, Task, type Meta } from "../../../shared/api/gen/api/objects.js";
import type { Annotations, Version } from "../../../shared/api/gen/api/types.js";

export { Cluster, Config, Network, Node, Secret, Service, Task };
export type { Meta, Version, Annotations };

/** What every stored object has: an ID and its meta. */
export interface StoreObject {
  id: string;
  meta?: Meta | undefined;
}

/** The one cluster object's name (SwarmKit's store.DefaultClusterName). */
export const DEFAULT_CLUSTER_NAME = "default";

/** The kinds, in the order SwarmKit's StoreSnapshot lists them. */
export const KINDS = ["node", "service", "network", "task", "cluster", "secret", "config"] as const;
export type Kind = (typeof KINDS)[number];

export interface ObjectOfKind {
  node: Node;
  service: Service;
  network: Network;
  task: Task;
  cluster: Cluster;
  secret: Secret;
  config: Config;
}

/** The generated message functions of each kind (fromPartial normalizes and copies). */
export const MESSAGES = {
  node: Node,
  service: Service,
  network: Network,
  task: Task,
  cluster: Cluster,
  secret: Secret,
  config: Config,
} as const;

export function isKind(s: unknown): s is Kind {
  return typeof s === "string" && (KINDS as readonly string[]).includes(s);
}

/**
 * A complete, private copy of an object of a kind: missing fields get their
 * proto defaults. Nested messages, lists and maps are new; Date and byte
 * array values are shared (the store never writes into them).
 */
export function normalize<K extends Kind>(kind: K, obj: ObjectOfKind[K]): ObjectOfKind[K] {
  const fns = MESSAGES[kind] as unknown as { fromPartial(o: unknown): ObjectOfKind[K] };
  return fns.fromPartial(obj);
}
