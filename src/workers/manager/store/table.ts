// One kind's committed objects: a map by ID plus secondary indexes
// (index name → key → IDs). Objects stored here are deep-frozen; readers get
// them as-is and must clone before changing anything.
import type { StoreObject } from "./objects.js";
import { INDEX_NAMES, type IndexName, type KindSchema } from "./schema.js";

export type IndexKeys = Partial<Record<IndexName, string>>;

export class Table {
  readonly objects = new Map<string, StoreObject>();
  private readonly indexes = new Map<IndexName, Map<string, Set<string>>>();
  private readonly keysById = new Map<string, IndexKeys>();

  constructor(readonly schema: KindSchema) {
    for (const name of INDEX_NAMES) this.indexes.set(name, new Map());
  }

  get size(): number {
    return this.objects.size;
  }

  get(id: string): StoreObject | undefined {
    return this.objects.get(id);
  }

  /** IDs under one index key (empty set when none). */
  lookup(index: IndexName, key: string): ReadonlySet<string> {
    return this.indexes.get(index)!.get(key) ?? EMPTY;
  }

  /** The keys present in an index (for prefix scans). */
  indexKeys(index: IndexName): IterableIterator<string> {
    return this.indexes.get(index)!.keys();
  }

  /** Insert or replace an object, moving its index entries. */
  put(obj: StoreObject): void {
    const old = this.keysById.get(obj.id);
    if (old) this.unindex(obj.id, old);
    const keys = indexKeysOf(this.schema, obj);
    this.objects.set(obj.id, obj);
    this.keysById.set(obj.id, keys);
    for (const index in keys) {
      const key = keys[index as IndexName]!;
      const byKey = this.indexes.get(index as IndexName)!;
      let ids = byKey.get(key);
      if (!ids) byKey.set(key, (ids = new Set()));
      ids.add(obj.id);
    }
  }

  delete(id: string): boolean {
    const old = this.keysById.get(id);
    if (!old) return false;
    this.unindex(id, old);
    this.keysById.delete(id);
    this.objects.delete(id);
    return true;
  }

  clear(): void {
    this.objects.clear();
    this.keysById.clear();
    for (const m of this.indexes.values()) m.clear();
  }

  /** Index contents as plain data, for tests comparing two stores. */
  dumpIndexes(): Record<string, Record<string, string[]>> {
    const out: Record<string, Record<string, string[]>> = {};
    for (const [index, byKey] of this.indexes) {
      const keys = [...byKey.keys()].sort();
      if (keys.length === 0) continue;
      out[index] = Object.fromEntries(keys.map((k) => [k, [...byKey.get(k)!].sort()]));
    }
    return out;
  }

  private unindex(id: string, keys: IndexKeys): void {
    for (const [index, key] of Object.entries(keys) as [IndexName, string][]) {
      const byKey = this.indexes.get(index)!;
      const ids = byKey.get(key);
      if (!ids) continue;
      ids.delete(id);
      if (ids.size === 0) byKey.delete(key);
    }
  }
}

const EMPTY: ReadonlySet<string> = new Set();

export function indexKeysOf(schema: KindSchema, obj: StoreObject): IndexKeys {
  const keys: IndexKeys = {};
  const name = schema.name(obj);
  if (name !== "") keys.name = name.toLowerCase();
  for (const [index, fn] of keyFunctions(schema)) {
    const key = fn(obj);
    if (key !== undefined) keys[index] = key;
  }
  return keys;
}

type KeyFn = (o: StoreObject) => string | undefined;
const keyFnCache = new WeakMap<KindSchema, [IndexName, KeyFn][]>();

function keyFunctions(schema: KindSchema): [IndexName, KeyFn][] {
  let fns = keyFnCache.get(schema);
  if (!fns) keyFnCache.set(schema, (fns = Object.entries(schema.keys) as [IndexName, KeyFn][]));
  return fns;
}
