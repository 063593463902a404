// Objects leave the store frozen so no reader can change committed state
// behind its back; writers clone first. structuredClone keeps Dates and byte
// arrays intact, which JSON round-trips would not.
import type { StoreObject } from "./objects.js";

/** A deep, mutable copy of a store object (or anything structured-cloneable). */
export function cloneObject<T>(obj: T): T {
  return structuredClone(obj);
}

/** Freeze a value and everything reachable from it, in place. */
export function deepFreeze<T>(value: T): T {
  freezeInto(value);
  return value;
}

function freezeInto(value: unknown): void {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return;
  // Typed arrays with elements cannot be frozen; bytes stay shared but are
  // never written by the store.
  if (ArrayBuffer.isView(value)) return;
  Object.freeze(value);
  if (Array.isArray(value)) {
    for (const v of value) if (v !== null && typeof v === "object") freezeInto(v);
    return;
  }
  const rec = value as Record<string, unknown>;
  for (const k in rec) {
    const v = rec[k];
    if (v !== null && typeof v === "object") freezeInto(v);
  }
}

/** A frozen private copy, ready to be stored. */
export function frozenCopy<T extends StoreObject>(obj: T): T {
  return deepFreeze(cloneObject(obj));
}
