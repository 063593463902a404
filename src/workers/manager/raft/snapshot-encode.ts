// Encodes a raft snapshot (SwarmKit's api.Snapshot: membership + store) in
// slices, yielding to the event loop between them, so a large store does not
// stall the raft loop, the transport and the control API for the whole
// encode. Store objects are frozen, so the arrays captured from the store
// stay a consistent view while the encode runs.
//
// Protobuf lets a repeated field's elements arrive in any number of runs:
// StoreSnapshot bytes are the concatenation of each slice encoded on its own,
// and the Snapshot is its header fields followed by one length-delimited store
// field (field 3) holding them.
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { encodeToOwnBuffer, Snapshot as ApiSnapshot, Snapshot_Version, type ClusterSnapshot } from "../../../shared/api/index.js";
import { StoreSnapshot as WireStoreSnapshot, type StoreSnapshot as WireStoreSnapshotType } from "../../../shared/api/gen/api/snapshot.js";
import { toWireSnapshot } from "../store/codec.js";
import type { StoreSnapshot } from "../store/index.js";

/**
 * Each store object's bytes as a StoreSnapshot element (tag, length, message),
 * kept while the object lives: store objects are frozen and replaced, never
 * changed, so the bytes stay right, and a snapshot re-encodes only what was
 * written since the last one instead of the whole store — with SwarmKit's
 * 10,000-entry interval and a store of tens of thousands of objects, encoding
 * everything again was a third of a follower's CPU per write.
 */
const elementCache = new WeakMap<object, Uint8Array>();

/** Snapshot.store's tag: field 3, length-delimited. */
const STORE_TAG = (3 << 3) | 2;
/** Objects encoded between clock checks. */
const SLICE_OBJECTS = 128;

export interface SliceOptions {
  /** Longest stretch of encoding before yielding, in ms (default 4). */
  budgetMs?: number;
  /** How to yield (default setImmediate). */
  yieldFn?: () => Promise<void>;
}

/**
 * The element bytes of the objects in [from, to), in order, taken from the
 * cache. Those without cached bytes are encoded together, as one
 * StoreSnapshot holding just them (empty fields write nothing), and the
 * output is split at element boundaries: one writer and one buffer per slice
 * instead of per object, which halved the encoding of 10,000 new objects.
 * Each of them keeps a view of the slice's buffer.
 */
function sliceElements(field: keyof StoreSnapshot, objects: readonly unknown[], from: number, to: number, empty: WireStoreSnapshotType): Uint8Array[] {
  const out: Uint8Array[] = [];
  const fresh: number[] = [];
  for (let j = from; j < to; j++) {
    const bytes = elementCache.get(objects[j] as object);
    if (bytes === undefined) fresh.push(out.length);
    out.push(bytes ?? NO_BYTES);
  }
  if (fresh.length === 0) return out;
  const freshObjects = fresh.map((k) => objects[from + k] as object);
  const bytes = encodeToOwnBuffer(WireStoreSnapshot, { ...empty, [field]: freshObjects } as WireStoreSnapshotType); // the cache keeps views of it
  const r = new BinaryReader(bytes);
  fresh.forEach((k, n) => {
    const start = r.pos;
    r.tag();
    r.skip(WireType.LengthDelimited);
    const element = bytes.subarray(start, r.pos);
    elementCache.set(freshObjects[n]!, element);
    out[k] = element;
  });
  if (r.pos !== bytes.length) throw new Error(`snapshot encoding: ${bytes.length - r.pos} bytes left after splitting ${fresh.length} ${field} elements`);
  return out;
}

const NO_BYTES = new Uint8Array(0);

const yieldImmediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function encodeSnapshotSliced(membership: ClusterSnapshot, store: StoreSnapshot, opts: SliceOptions = {}): Promise<Uint8Array> {
  const budget = opts.budgetMs ?? 4;
  const yieldFn = opts.yieldFn ?? yieldImmediate;
  const empty = toWireSnapshot({ nodes: [], services: [], networks: [], tasks: [], clusters: [], secrets: [], configs: [] });
  const parts: Uint8Array[] = [];
  let storeBytes = 0;
  let started = performance.now();
  for (const field of Object.keys(store) as (keyof StoreSnapshot)[]) {
    const objects = store[field] as readonly unknown[];
    for (let i = 0; i < objects.length; i += SLICE_OBJECTS) {
      const end = Math.min(objects.length, i + SLICE_OBJECTS);
      for (const bytes of sliceElements(field, objects, i, end, empty)) {
        parts.push(bytes);
        storeBytes += bytes.length;
      }
      if (performance.now() - started >= budget) {
        await yieldFn();
        started = performance.now();
      }
    }
  }
  const head = ApiSnapshot.encode({ version: Snapshot_Version.V0, membership, store: undefined }).finish();
  const prefix = new BinaryWriter().uint32(STORE_TAG).uint32(storeBytes).finish();
  const out = new Uint8Array(head.length + prefix.length + storeBytes);
  out.set(head, 0);
  out.set(prefix, head.length);
  let o = head.length + prefix.length;
  // Copying tens of thousands of elements takes milliseconds too: within the same budget.
  started = performance.now();
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    out.set(p, o);
    o += p.length;
    if ((i & (SLICE_OBJECTS - 1)) === SLICE_OBJECTS - 1 && performance.now() - started >= budget) {
      await yieldFn();
      started = performance.now();
    }
  }
  return out;
}
