// Per-kind knowledge: how each kind is named, whether names are unique, and
// which secondary index keys an object carries. Mirrors SwarmKit's tables
// (manager/state/store/*.go): names are indexed lowercased; services,
// networks, secrets, configs and clusters must have unique names, while node
// names (hostnames) and task names may repeat.
import type { Kind, ObjectOfKind, StoreObject, Task, Node } from "./objects.js";

/** Secondary indexes. A kind populates the ones that make sense for it. */
export const INDEX_NAMES = ["name", "serviceId", "nodeId", "slot", "desiredState", "taskState", "role", "membership"] as const;
export type IndexName = (typeof INDEX_NAMES)[number];

export interface KindSchema<T extends StoreObject = StoreObject> {
  kind: Kind;
  /** The object's name as given (not lowercased); "" when it has none. */
  name(obj: T): string;
  labels(obj: T): { [key: string]: string } | undefined;
  uniqueNames: boolean;
  /** Index keys other than name; absent/empty means not indexed there. */
  keys: Partial<Record<Exclude<IndexName, "name">, (obj: T) => string | undefined>>;
}

export function slotKey(serviceId: string, slot: number): string {
  return `${serviceId}\u0000${slot}`;
}

function specName(obj: { spec?: { annotations?: { name: string } | undefined } | undefined }): string {
  return obj.spec?.annotations?.name ?? "";
}

function specLabels(obj: { spec?: { annotations?: { labels?: { [key: string]: string } | undefined } | undefined } | undefined }) {
  return obj.spec?.annotations?.labels;
}

/** SwarmKit's naming.Task: the annotated name, else <service>.<slot|node>.<id>. */
export function taskName(t: Task): string {
  const given = t.annotations?.name;
  if (given) return given;
  const service = t.serviceAnnotations?.name ?? "";
  const where = t.slot !== 0 ? String(t.slot) : t.nodeId;
  return `${service}.${where}.${t.id}`;
}

const num = (n: number | undefined): string | undefined => (n === undefined ? undefined : String(n));

const nodeSchema: KindSchema<Node> = {
  kind: "node",
  name: (n) => n.spec?.annotations?.name || n.description?.hostname || "",
  labels: specLabels,
  uniqueNames: false,
  keys: {
    role: (n) => num(n.role ?? 0),
    membership: (n) => num(n.spec?.membership ?? 0),
  },
};

const taskSchema: KindSchema<Task> = {
  kind: "task",
  name: taskName,
  labels: (t) => t.annotations?.labels,
  uniqueNames: false,
  keys: {
    serviceId: (t) => t.serviceId || undefined,
    nodeId: (t) => t.nodeId || undefined,
    slot: (t) => (t.serviceId && t.slot !== 0 ? slotKey(t.serviceId, t.slot) : undefined),
    desiredState: (t) => num(t.desiredState ?? 0),
    taskState: (t) => num(t.status?.state ?? 0),
  },
};

function named<K extends Kind>(kind: K): KindSchema<ObjectOfKind[K]> {
  return {
    kind,
    name: specName as (o: ObjectOfKind[K]) => string,
    labels: specLabels as (o: ObjectOfKind[K]) => { [key: string]: string } | undefined,
    uniqueNames: true,
    keys: {},
  };
}

export const SCHEMAS: { [K in Kind]: KindSchema<ObjectOfKind[K]> } = {
  node: nodeSchema,
  service: named("service"),
  network: named("network"),
  task: taskSchema,
  cluster: named("cluster"),
  secret: named("secret"),
  config: named("config"),
};

export function schemaOf(kind: Kind): KindSchema {
  return SCHEMAS[kind] as unknown as KindSchema;
}
