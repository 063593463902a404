// Bytes for what the store hands to raft: a transaction's actions as
// SwarmKit's InternalRaftRequest, and the store's contents as StoreSnapshot
// (the `store` field of the raft snapshot). Wire-compatible with SwarmKit.
import { SwarmError } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import { InternalRaftRequest, StoreAction as WireStoreAction, StoreActionKind } from "../../../shared/api/gen/api/raft.js";
import { StoreSnapshot as WireStoreSnapshot } from "../../../shared/api/gen/api/snapshot.js";
import { encodeToBuffer, encodeToOwnBuffer } from "../../../shared/api/encode.js";
import type { ActionKind, StoreAction } from "./actions.js";
import { isKind, type Cluster, type Config, type Kind, type Network, type Node, type Secret, type Service, type Task } from "./objects.js";

const log = getLogger("store.codec");

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

const TO_WIRE: Record<ActionKind, StoreActionKind> = {
  create: StoreActionKind.STORE_ACTION_CREATE,
  update: StoreActionKind.STORE_ACTION_UPDATE,
  remove: StoreActionKind.STORE_ACTION_REMOVE,
};

function fromWireKind(k: StoreActionKind): ActionKind {
  switch (k) {
    case StoreActionKind.STORE_ACTION_CREATE:
      return "create";
    case StoreActionKind.STORE_ACTION_UPDATE:
      return "update";
    case StoreActionKind.STORE_ACTION_REMOVE:
      return "remove";
    default:
      throw new SwarmError("DATA_LOSS", `cannot decode raft request: unknown store action kind ${k}`);
  }
}

export function toWireAction(a: StoreAction): WireStoreAction {
  return { action: TO_WIRE[a.action], target: { $case: a.kind, value: a.target } as WireStoreAction["target"] };
}

export function fromWireAction(w: WireStoreAction): StoreAction {
  const t = w.target;
  if (!t) throw new SwarmError("DATA_LOSS", "cannot decode raft request: store action without a target");
  if (!isKind(t.$case)) {
    throw new SwarmError("UNIMPLEMENTED", `store action on ${t.$case} objects is not supported by this store`);
  }
  return { action: fromWireKind(w.action), kind: t.$case, target: t.value } as StoreAction;
}

export function encodeRaftRequest(req: RaftRequest): Uint8Array {
  return encodeToOwnBuffer(InternalRaftRequest, { id: req.id, action: req.actions.map(toWireAction) }); // kept in the raft log
}

export function decodeRaftRequest(bytes: Uint8Array): RaftRequest {
  let wire: InternalRaftRequest;
  try {
    wire = InternalRaftRequest.decode(bytes);
  } catch (err) {
    throw new SwarmError("DATA_LOSS", `cannot decode raft request: ${(err as Error).message}`, { cause: err });
  }
  return { id: wire.id, actions: wire.action.map(fromWireAction) };
}

/** Encoded size of a transaction's actions, for the 1.5 MiB proposal limit. */
/** Tag + varint of the largest request ID (2^53 - 1): what a transaction's size reserves for it. */
export const MAX_ID_FIELD_BYTES = 9;

export function encodedActionsSize(actions: readonly StoreAction[]): number {
  return encodeActions(actions).byteLength + MAX_ID_FIELD_BYTES;
}

/**
 * An InternalRaftRequest without its ID: the actions (field 2) alone. The
 * leader encodes a transaction once, when it prepares it, and puts the ID in
 * front when it proposes (withRequestId) — the same bytes as encodeRaftRequest.
 */
export function encodeActions(actions: readonly StoreAction[]): Uint8Array {
  return encodeToBuffer(InternalRaftRequest, { id: 0, action: actions.map(toWireAction) });
}

/** encodeActions' bytes with the request ID (field 1) in front. */
export function withRequestId(id: number, encodedActions: Uint8Array): Uint8Array {
  if (id === 0) return encodedActions;
  // Tag 8 (field 1, varint), then the ID as a varint, written by hand: a BinaryWriter per
  // proposal allocates and grows a buffer for these few bytes.
  let size = 2;
  for (let n = id; n >= 128; n = Math.floor(n / 128)) size++;
  const out = Buffer.allocUnsafeSlow(size + encodedActions.length); // its own memory: the raft log keeps it
  out[0] = 8;
  let o = 1;
  let n = id;
  while (n >= 128) {
    out[o++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  out[o++] = n;
  out.set(encodedActions, o);
  return out;
}

/** Encoded size of one action within a request (batch size estimates). */
export function encodedActionSize(action: StoreAction): number {
  return encodeToBuffer(WireStoreAction, toWireAction(action)).byteLength + 4;
}

export function encodeStoreSnapshot(snap: StoreSnapshot): Uint8Array {
  return encodeToOwnBuffer(WireStoreSnapshot, toWireSnapshot(snap));
}

export function toWireSnapshot(snap: StoreSnapshot): WireStoreSnapshot {
  return { ...snap, resources: [], extensions: [], volumes: [] };
}

export function fromWireSnapshot(w: WireStoreSnapshot): StoreSnapshot {
  const dropped = w.resources.length + w.extensions.length + w.volumes.length;
  if (dropped > 0) log.warn({ dropped }, "snapshot holds resources, extensions or volumes, which this store does not keep");
  return {
    nodes: w.nodes,
    services: w.services,
    networks: w.networks,
    tasks: w.tasks,
    clusters: w.clusters,
    secrets: w.secrets,
    configs: w.configs,
  };
}

export function decodeStoreSnapshot(bytes: Uint8Array): StoreSnapshot {
  try {
    return fromWireSnapshot(WireStoreSnapshot.decode(bytes));
  } catch (err) {
    throw new SwarmError("DATA_LOSS", `cannot decode store snapshot: ${(err as Error).message}`, { cause: err });
  }
}
