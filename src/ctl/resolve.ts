// Finding objects from what the user typed, and naming IDs in output.
// Lookup order: exact ID, exact name, then a unique ID prefix, then a unique
// name prefix (SwarmKit's swarmctl stops after exact name; prefixes are ours).
import { status } from "@grpc/grpc-js";
import type { Cluster, Config, Node, Secret, Service, Task } from "../shared/api/index.js";
import { rpcCode, type ControlApi } from "./client.js";
import { CtlError } from "./errors.js";

/** A node's display name: its spec name, else its hostname. */
export function nodeName(n: Node): string {
  return n.spec?.annotations?.name || n.description?.hostname || "";
}

/** Picks one object for `input` from a candidate list (pure; the order of rules above). */
export function pickByIdOrName<T extends { id: string }>(
  kind: string,
  input: string,
  candidates: readonly T[],
  nameOf: (t: T) => string,
): T {
  const rules: ((t: T) => boolean)[] = [
    (t) => t.id === input,
    (t) => nameOf(t) === input,
    (t) => t.id.startsWith(input),
    (t) => nameOf(t) !== "" && nameOf(t).startsWith(input),
  ];
  if (input !== "") {
    for (const rule of rules) {
      const hits = candidates.filter(rule);
      if (hits.length === 1) return hits[0]!;
      if (hits.length > 1) throw new CtlError(`${kind} ${input} is ambiguous (${hits.length} matches found)`);
    }
  }
  throw new CtlError(`${kind} ${input} not found`);
}

async function getOrUndefined<T>(get: () => Promise<T | undefined>): Promise<T | undefined> {
  try {
    return await get();
  } catch (err) {
    const code = rpcCode(err);
    // Not an ID (or not a known one): fall back to names and prefixes. Anything else is real.
    if (code === status.NOT_FOUND || code === status.INVALID_ARGUMENT) return undefined;
    throw err;
  }
}

export async function findNode(api: ControlApi, input: string): Promise<Node> {
  const hit = await getOrUndefined(async () => (await api.getNode({ nodeId: input })).node);
  if (hit) return hit;
  return pickByIdOrName("node", input, (await api.listNodes({})).nodes, nodeName);
}

export async function findService(api: ControlApi, input: string): Promise<Service> {
  const hit = await getOrUndefined(async () => (await api.getService({ serviceId: input })).service);
  if (hit) return hit;
  return pickByIdOrName("service", input, (await api.listServices({})).services, (s) => s.spec?.annotations?.name ?? "");
}

export async function findTask(api: ControlApi, input: string): Promise<Task> {
  const hit = await getOrUndefined(async () => (await api.getTask({ taskId: input })).task);
  if (hit) return hit;
  return pickByIdOrName("task", input, (await api.listTasks({})).tasks, () => "");
}

export async function findCluster(api: ControlApi, input: string): Promise<Cluster> {
  const hit = await getOrUndefined(async () => (await api.getCluster({ clusterId: input })).cluster);
  if (hit) return hit;
  return pickByIdOrName("cluster", input, (await api.listClusters({})).clusters, (c) => c.spec?.annotations?.name ?? "");
}

export async function findSecret(api: ControlApi, input: string): Promise<Secret> {
  const hit = await getOrUndefined(async () => (await api.getSecret({ secretId: input })).secret);
  if (hit) return hit;
  return pickByIdOrName("secret", input, (await api.listSecrets({})).secrets, (s) => s.spec?.annotations?.name ?? "");
}

export async function findConfig(api: ControlApi, input: string): Promise<Config> {
  const hit = await getOrUndefined(async () => (await api.getConfig({ configId: input })).config);
  if (hit) return hit;
  return pickByIdOrName("config", input, (await api.listConfigs({})).configs, (c) => c.spec?.annotations?.name ?? "");
}

/** Maps IDs to names for display (SwarmKit's Resolver); `-n` turns it off. */
export interface NameResolver {
  node(id: string): Promise<string>;
  service(id: string): Promise<string>;
}

export function identityResolver(): NameResolver {
  return { node: async (id) => id, service: async (id) => id };
}

/** Resolves through GetNode/GetService, caching each ID; unknown IDs stay IDs. */
export function apiResolver(api: ControlApi): NameResolver {
  const cache = new Map<string, Promise<string>>();
  const cached = (key: string, f: () => Promise<string>): Promise<string> => {
    let p = cache.get(key);
    if (!p) {
      p = f().catch(() => key.slice(2));
      cache.set(key, p);
    }
    return p;
  };
  return {
    node: (id) =>
      id === ""
        ? Promise.resolve("")
        : cached(`n:${id}`, async () => {
            const n = (await api.getNode({ nodeId: id })).node;
            return (n && nodeName(n)) || id;
          }),
    service: (id) =>
      cached(`s:${id}`, async () => (await api.getService({ serviceId: id })).service?.spec?.annotations?.name ?? id),
  };
}

/** A resolver backed by objects already fetched (for tests and bulk output). */
export function mapResolver(nodes: readonly Node[], services: readonly Service[]): NameResolver {
  const n = new Map(nodes.map((x) => [x.id, nodeName(x) || x.id]));
  const s = new Map(services.map((x) => [x.id, x.spec?.annotations?.name || x.id]));
  return { node: async (id) => n.get(id) ?? id, service: async (id) => s.get(id) ?? id };
}
