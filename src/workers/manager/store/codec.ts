// Bytes for what the store hands to raft: a transaction's actions (SwarmKit's
// InternalRaftRequest) and the store's snapshot (StoreSnapshot).
//
// PLACEHOLDER: until the generated protobuf code lands in src/shared/api/gen
// this is tagged JSON (Dates and byte arrays survive the round trip). Only the
// functions below know the format; switching to InternalRaftRequest.encode /
// StoreSnapshot.encode changes nothing else in the store.
import { SwarmError } from "../../../shared/errors.js";
import type { StoreAction } from "./actions.js";
import type { Cluster, Config, Kind, Network, Node, Secret, Service, Task } from "./objects.js";
import { isKind } from "./objects.js";

export interface RaftRequest {
  id: number;
  actions: StoreAction[];
}

/** SwarmKit's StoreSnapshot, for the kinds this store holds. */
export interface StoreSnapshot {
  nodes: Node[];
  services: Service[];
  networks: Network[];
  tasks: Task[];
  clusters: Cluster[];
  secrets: Secret[];
  configs: Config[];
}

/** StoreSnapshot field for each kind. */
export const SNAPSHOT_FIELD: { [K in Kind]: keyof StoreSnapshot } = {
  node: "nodes",
  service: "services",
  network: "networks",
  task: "tasks",
  cluster: "clusters",
  secret: "secrets",
  config: "configs",
};

const enc = new TextEncoder();
const dec = new TextDecoder();

function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (raw instanceof Date) return { $date: raw.toISOString() };
  if (raw instanceof Uint8Array) return { $bytes: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("base64") };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    const keys = Object.keys(v);
    if (keys.length === 1 && typeof v.$date === "string") return new Date(v.$date);
    if (keys.length === 1 && typeof v.$bytes === "string") return new Uint8Array(Buffer.from(v.$bytes, "base64"));
  }
  return value;
}

function toBytes(value: unknown): Uint8Array {
  return enc.encode(JSON.stringify(value, replacer));
}

function fromBytes(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(dec.decode(bytes), reviver) as unknown;
  } catch (err) {
    throw new SwarmError("DATA_LOSS", `cannot decode ${what}: ${(err as Error).message}`, { cause: err });
  }
}

export function encodeRaftRequest(req: RaftRequest): Uint8Array {
  return toBytes({ id: req.id, action: req.actions });
}

export function decodeRaftRequest(bytes: Uint8Array): RaftRequest {
  const v = fromBytes(bytes, "raft request") as { id?: unknown; action?: unknown };
  if (typeof v?.id !== "number" || !Array.isArray(v.action)) {
    throw new SwarmError("DATA_LOSS", "cannot decode raft request: missing id or actions");
  }
  for (const a of v.action as StoreAction[]) {
    if (!isKind(a?.kind) || !["create", "update", "remove"].includes(a.action) || typeof a.target?.id !== "string") {
      throw new SwarmError("DATA_LOSS", "cannot decode raft request: malformed store action");
    }
  }
  return { id: v.id, actions: v.action as StoreAction[] };
}

/** Encoded size of a transaction's actions, for the 1.5 MiB proposal limit. */
export function encodedActionsSize(actions: readonly StoreAction[]): number {
  return encodeRaftRequest({ id: 0, actions: actions as StoreAction[] }).byteLength;
}

/** Encoded size of one action (batch size estimates). */
export function encodedActionSize(action: StoreAction): number {
  return toBytes(action).byteLength;
}

export function encodeStoreSnapshot(snap: StoreSnapshot): Uint8Array {
  return toBytes(snap);
}

export function decodeStoreSnapshot(bytes: Uint8Array): StoreSnapshot {
  const v = fromBytes(bytes, "store snapshot") as Partial<StoreSnapshot> | null;
  if (v === null || typeof v !== "object") throw new SwarmError("DATA_LOSS", "cannot decode store snapshot: not an object");
  const out = {} as StoreSnapshot;
  for (const field of Object.values(SNAPSHOT_FIELD)) {
    const list = v[field] ?? [];
    if (!Array.isArray(list)) throw new SwarmError("DATA_LOSS", `cannot decode store snapshot: ${field} is not a list`);
    (out as unknown as Record<string, unknown[]>)[field] = list;
  }
  return out;
}
