// The object types the store holds. They mirror the shapes ts-proto emits for
// SwarmKit's api/objects.proto (camelCase fields, 64-bit ints as numbers,
// Timestamps as Date, map<string,string> as records). Until the generated code
// lands in src/shared/api/gen these are local structural stand-ins carrying
// only the fields the store reads; the generated types are assignable to them.

export interface Version {
  index: number;
}

export interface Meta {
  version?: Version | undefined;
  createdAt?: Date | undefined;
  updatedAt?: Date | undefined;
}

export interface Annotations {
  name: string;
  labels?: { [key: string]: string } | undefined;
}

interface WithSpecAnnotations {
  spec?: { annotations?: Annotations | undefined } | undefined;
}

/** Every store object: an ID, its meta, anything else. */
export interface StoreObject {
  id: string;
  meta?: Meta | undefined;
}

export interface Node extends StoreObject, WithSpecAnnotations {
  spec?: { annotations?: Annotations | undefined; desiredRole?: number; membership?: number; availability?: number } | undefined;
  description?: { hostname: string } | undefined;
  status?: { state: number; message?: string; addr?: string } | undefined;
  role?: number;
}

export interface Service extends StoreObject, WithSpecAnnotations {}

export interface Task extends StoreObject {
  serviceId: string;
  slot: number;
  nodeId: string;
  annotations?: Annotations | undefined;
  serviceAnnotations?: Annotations | undefined;
  status?: { state: number; message?: string } | undefined;
  desiredState: number;
}

export interface Cluster extends StoreObject, WithSpecAnnotations {}
export interface Secret extends StoreObject, WithSpecAnnotations {}
export interface Config extends StoreObject, WithSpecAnnotations {}
export interface Network extends StoreObject, WithSpecAnnotations {}

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

export function isKind(s: string): s is Kind {
  return (KINDS as readonly string[]).includes(s);
}
