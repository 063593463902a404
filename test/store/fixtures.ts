// Builders for store tests: complete objects of each kind and a store wired
// to an in-memory proposer with a fixed clock.
import { MemoryStore } from "../../src/workers/manager/store/memory-store.js";
import { InMemoryProposer, update } from "../../src/workers/manager/store/proposer.js";
import { Cluster, Config, Network, Node, Secret, Service, Task } from "../../src/workers/manager/store/objects.js";
import type { Tx } from "../../src/workers/manager/store/tx.js";
import { NodeRole, TaskState } from "../../src/shared/api/gen/api/types.js";
import { NodeSpec_Membership } from "../../src/shared/api/gen/api/specs.js";

export { NodeRole, TaskState, NodeSpec_Membership };

export const T0 = new Date("2026-01-02T03:04:05.000Z");

export function newStore(options: { historyEvents?: number } = {}) {
  const store = new MemoryStore({ ...options, clock: () => T0 });
  const proposer = new InMemoryProposer(store);
  const write = <R>(fn: (tx: Tx) => R): Promise<R> => update(store, proposer, fn);
  return { store, proposer, write };
}

const labels = (l?: Record<string, string>) => l ?? {};

export function node(id: string, hostname: string, opts: { role?: NodeRole; membership?: NodeSpec_Membership; labels?: Record<string, string> } = {}): Node {
  return Node.fromPartial({
    id,
    spec: { annotations: { name: "", labels: labels(opts.labels) }, membership: opts.membership ?? NodeSpec_Membership.ACCEPTED },
    description: { hostname },
    role: opts.role ?? NodeRole.WORKER,
  });
}

export function service(id: string, name: string, l?: Record<string, string>): Service {
  return Service.fromPartial({ id, spec: { annotations: { name, labels: labels(l) } } });
}

export function task(
  id: string,
  opts: { serviceId?: string; slot?: number; nodeId?: string; desired?: TaskState; state?: TaskState; name?: string } = {},
): Task {
  return Task.fromPartial({
    id,
    serviceId: opts.serviceId ?? "",
    slot: opts.slot ?? 0,
    nodeId: opts.nodeId ?? "",
    desiredState: opts.desired ?? TaskState.RUNNING,
    status: { state: opts.state ?? TaskState.NEW },
    serviceAnnotations: { name: "web" },
    ...(opts.name ? { annotations: { name: opts.name } } : {}),
  });
}

export function network(id: string, name: string): Network {
  return Network.fromPartial({ id, spec: { annotations: { name } } });
}

export function cluster(id: string, name: string): Cluster {
  return Cluster.fromPartial({ id, spec: { annotations: { name } } });
}

export function secret(id: string, name: string, data = "s3cr3t"): Secret {
  return Secret.fromPartial({ id, spec: { annotations: { name }, data: Buffer.from(data) } });
}

export function config(id: string, name: string, data = "cfg"): Config {
  return Config.fromPartial({ id, spec: { annotations: { name }, data: Buffer.from(data) } });
}

/** A mutable copy of a stored object, with a changed name (for unique-name kinds). */
export function renamed<T extends { spec?: { annotations?: { name: string } | undefined } | undefined }>(obj: T, name: string): T {
  const c = structuredClone(obj);
  c.spec!.annotations!.name = name;
  return c;
}

export const ids = (objs: readonly { id: string }[]): string[] => objs.map((o) => o.id);
