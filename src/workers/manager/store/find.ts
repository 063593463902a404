// Find filters: every field narrows the result (AND); the values inside one
// field are alternatives (OR). An absent or empty field does not constrain.
// Indexed fields pick the candidates, then every object is checked against the
// whole filter, so the same predicate serves committed tables and the
// uncommitted overlay of a transaction.
import type { StoreObject } from "./objects.js";
import { slotKey, type IndexName, type KindSchema } from "./schema.js";
import { indexKeysOf, type Table } from "./table.js";

export interface Filter {
  ids?: readonly string[];
  /** Exact names, case-insensitive (SwarmKit lowercases names). */
  names?: readonly string[];
  namePrefixes?: readonly string[];
  idPrefixes?: readonly string[];
  /** key → value; an empty value only requires the key (SwarmKit's rule). */
  labels?: Readonly<Record<string, string>>;
  serviceIds?: readonly string[];
  nodeIds?: readonly string[];
  slots?: readonly { serviceId: string; slot: number }[];
  desiredStates?: readonly number[];
  taskStates?: readonly number[];
  roles?: readonly number[];
  memberships?: readonly number[];
}

const some = <T>(a: readonly T[] | undefined): a is readonly T[] => a !== undefined && a.length > 0;

function indexedKeys(filter: Filter): [IndexName, string[]] | undefined {
  if (some(filter.names)) return ["name", filter.names.map((n) => n.toLowerCase())];
  if (some(filter.slots)) return ["slot", filter.slots.map((s) => slotKey(s.serviceId, s.slot))];
  if (some(filter.serviceIds)) return ["serviceId", [...filter.serviceIds]];
  if (some(filter.nodeIds)) return ["nodeId", [...filter.nodeIds]];
  if (some(filter.desiredStates)) return ["desiredState", filter.desiredStates.map(String)];
  if (some(filter.taskStates)) return ["taskState", filter.taskStates.map(String)];
  if (some(filter.roles)) return ["role", filter.roles.map(String)];
  if (some(filter.memberships)) return ["membership", filter.memberships.map(String)];
  return undefined;
}

/** Committed objects that may match, chosen by the most specific index. */
export function candidates(table: Table, filter: Filter): Iterable<StoreObject> {
  if (some(filter.ids)) {
    return filter.ids.map((id) => table.get(id)).filter((o): o is StoreObject => o !== undefined);
  }
  const byIndex = indexedKeys(filter);
  if (!byIndex) return table.objects.values();
  const [index, keys] = byIndex;
  const out: StoreObject[] = [];
  const seen = new Set<string>();
  for (const key of keys) {
    for (const id of table.lookup(index, key)) {
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(table.get(id)!);
    }
  }
  return out;
}

const inList = (list: readonly string[] | undefined, key: string | undefined): boolean =>
  !some(list) || (key !== undefined && list.includes(key));

const inNums = (list: readonly number[] | undefined, key: string | undefined): boolean =>
  !some(list) || (key !== undefined && list.map(String).includes(key));

export function matches(schema: KindSchema, obj: StoreObject, filter: Filter): boolean {
  const keys = indexKeysOf(schema, obj);
  if (some(filter.ids) && !filter.ids.includes(obj.id)) return false;
  if (some(filter.idPrefixes) && !filter.idPrefixes.some((p) => obj.id.startsWith(p))) return false;
  if (some(filter.names) && !filter.names.some((n) => n.toLowerCase() === keys.name)) return false;
  if (some(filter.namePrefixes) && !filter.namePrefixes.some((p) => keys.name?.startsWith(p.toLowerCase()))) return false;
  if (!inList(filter.serviceIds, keys.serviceId)) return false;
  if (!inList(filter.nodeIds, keys.nodeId)) return false;
  if (some(filter.slots) && !filter.slots.some((s) => slotKey(s.serviceId, s.slot) === keys.slot)) return false;
  if (!inNums(filter.desiredStates, keys.desiredState)) return false;
  if (!inNums(filter.taskStates, keys.taskState)) return false;
  if (!inNums(filter.roles, keys.role)) return false;
  if (!inNums(filter.memberships, keys.membership)) return false;
  if (filter.labels) {
    const have = schema.labels(obj) ?? {};
    for (const [k, v] of Object.entries(filter.labels)) {
      if (!Object.hasOwn(have, k)) return false;
      if (v !== "" && have[k] !== v) return false;
    }
  }
  return true;
}

export function byId(a: StoreObject, b: StoreObject): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
