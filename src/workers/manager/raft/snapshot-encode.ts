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
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { Snapshot as ApiSnapshot, Snapshot_Version, type ClusterSnapshot } from "../../../shared/api/index.js";
import { StoreSnapshot as WireStoreSnapshot } from "../../../shared/api/gen/api/snapshot.js";
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
      for (let j = i; j < end; j++) {
        const obj = objects[j] as object;
        let bytes = elementCache.get(obj);
        if (bytes === undefined) {
          // A StoreSnapshot holding just this object: exactly its element's bytes (empty fields write nothing).
          bytes = WireStoreSnapshot.encode({ ...empty, [field]: [obj] } as typeof empty).finish();
          elementCache.set(obj, bytes);
        }
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
