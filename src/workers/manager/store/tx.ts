// Transactions over the committed tables. Writes go to an overlay (never to
// the tables), are validated as they are made, and are recorded as an ordered
// list of StoreActions. The same machinery runs twice per write: once on the
// leader to prepare a proposal, once on every manager to apply the committed
// entry, where the checks are repeated against the then-current state.
import { SwarmError } from "../../../shared/errors.js";
import type { ActionKind, StoreAction } from "./actions.js";
import { deepFreeze } from "./copy.js";
import { errExist, errInvalid, errNameConflict, errNotExist, errSequenceConflict } from "./errors.js";
import { byId, candidates, matches, type Filter } from "./find.js";
import { normalize, type Kind, type Meta, type ObjectOfKind, type StoreObject, type Task } from "./objects.js";
import { schemaOf } from "./schema.js";
import type { Table } from "./table.js";

/** A consistent read-only view. Returned objects are frozen: clone to modify. */
export interface ReadTx {
  /** Raft index of the last change applied to the state this view shows. */
  readonly index: number;
  get<K extends Kind>(kind: K, id: string): ObjectOfKind[K] | undefined;
  /** Matching objects, sorted by ID. */
  find<K extends Kind>(kind: K, filter?: Filter): ObjectOfKind[K][];
  /** The object with this name (case-insensitive); the first by ID if names repeat. */
  byName<K extends Kind>(kind: K, name: string): ObjectOfKind[K] | undefined;
  /** Objects whose ID starts with the prefix. */
  byIdPrefix<K extends Kind>(kind: K, prefix: string): ObjectOfKind[K][];
  tasksByService(serviceId: string): Task[];
  tasksByNode(nodeId: string): Task[];
  tasksBySlot(serviceId: string, slot: number): Task[];
  tasksByDesiredState(...states: number[]): Task[];
  count(kind: Kind): number;
}

/** A read-write transaction: changes become visible to its own reads at once. */
export interface Tx extends ReadTx {
  /** Add a new object. Its meta.version is ignored; the commit index becomes its version. */
  create<K extends Kind>(kind: K, obj: ObjectOfKind[K]): void;
  /** Replace an object. obj.meta.version must be the version read, else "update out of sequence". */
  update<K extends Kind>(kind: K, obj: ObjectOfKind[K]): void;
  delete(kind: Kind, id: string): void;
}

type Tables = ReadonlyMap<Kind, Table>;

const keyOf = (kind: Kind, id: string): string => `${kind}\u0000${id}`;

export function versionOf(obj: StoreObject | undefined): number {
  return obj?.meta?.version?.index ?? 0;
}

export interface Change {
  action: ActionKind;
  kind: Kind;
  object: StoreObject;
  oldObject: StoreObject | undefined;
}

export interface Staged {
  kind: Kind;
  id: string;
  obj: StoreObject | null;
}

/** A position in the transaction: rolling back to it undoes only what came after. */
export interface Savepoint {
  undo: number;
  actions: number;
  changes: number;
}

/** One reversible step: a map entry's previous value (undefined = absent). */
type Undo =
  | { map: "overlay"; key: string; prev: Staged | undefined }
  | { map: "touched"; key: string }
  | { map: "names"; key: string; prev: string | undefined };

/** How a staged write fixes up meta: at prepare (leader clock) or at apply (raft index). */
export type StampMode = { mode: "prepare"; now: Date } | { mode: "apply"; index: number };

export class Transaction implements Tx {
  private overlay = new Map<string, Staged>();
  private actionList: StoreAction[] = [];
  private changeList: Change[] = [];
  private finished = false;
  /** Objects already written in this transaction: later actions on them skip the version check. */
  private touched = new Set<string>();
  /** Unique names held by staged objects (kind + lowercased name → ID). */
  private names = new Map<string, string>();
  /**
   * Undo log of overlay/touched/names changes since the transaction began, so
   * a savepoint is a few integers and a rollback costs only what it undoes
   * (Batch takes one per update: copying the maps made a 200-change
   * transaction quadratic).
   */
  private undoLog: Undo[] = [];

  constructor(
    private readonly tables: Tables,
    readonly index: number,
    private readonly stamp: StampMode,
  ) {}

  get actions(): readonly StoreAction[] {
    return this.actionList;
  }

  /** Each write with the object before it, in order (for watch events). */
  get changes(): readonly Change[] {
    return this.changeList;
  }

  /** End the transaction: later use of it (an escaped reference) fails loudly. */
  finish(): void {
    this.finished = true;
  }

  /** The staged result: final object (or null when removed) per changed key. */
  staged(): Iterable<Staged> {
    return this.overlay.values();
  }

  savepoint(): Savepoint {
    return { undo: this.undoLog.length, actions: this.actionList.length, changes: this.changeList.length };
  }

  rollback(sp: Savepoint): void {
    const log = this.undoLog;
    while (log.length > sp.undo) {
      const u = log.pop()!;
      if (u.map === "touched") this.touched.delete(u.key);
      else if (u.map === "overlay") restore(this.overlay, u.key, u.prev);
      else restore(this.names, u.key, u.prev);
    }
    this.actionList.length = sp.actions;
    this.changeList.length = sp.changes;
  }

  // Every mutation of the three maps goes through these, so it can be undone.
  private setOverlay(key: string, staged: Staged): void {
    this.undoLog.push({ map: "overlay", key, prev: this.overlay.get(key) });
    this.overlay.set(key, staged);
  }

  private touch(key: string): void {
    if (this.touched.has(key)) return;
    this.undoLog.push({ map: "touched", key });
    this.touched.add(key);
  }

  private setName(key: string, id: string | undefined): void {
    this.undoLog.push({ map: "names", key, prev: this.names.get(key) });
    restore(this.names, key, id);
  }

  // ---- reads

  get<K extends Kind>(kind: K, id: string): ObjectOfKind[K] | undefined {
    const staged = this.overlay.get(keyOf(kind, id));
    if (staged) return (staged.obj ?? undefined) as ObjectOfKind[K] | undefined;
    return this.table(kind).get(id) as ObjectOfKind[K] | undefined;
  }

  find<K extends Kind>(kind: K, filter: Filter = {}): ObjectOfKind[K][] {
    const schema = schemaOf(kind);
    const out: StoreObject[] = [];
    for (const obj of candidates(this.table(kind), filter)) {
      if (this.overlay.has(keyOf(kind, obj.id))) continue;
      if (matches(schema, obj, filter)) out.push(obj);
    }
    for (const s of this.overlay.values()) {
      if (s.kind === kind && s.obj && matches(schema, s.obj, filter)) out.push(s.obj);
    }
    return out.sort(byId) as ObjectOfKind[K][];
  }

  byName<K extends Kind>(kind: K, name: string): ObjectOfKind[K] | undefined {
    return this.find(kind, { names: [name] })[0];
  }

  byIdPrefix<K extends Kind>(kind: K, prefix: string): ObjectOfKind[K][] {
    return this.find(kind, { idPrefixes: [prefix] });
  }

  tasksByService(serviceId: string): Task[] {
    return this.find("task", { serviceIds: [serviceId] });
  }

  tasksByNode(nodeId: string): Task[] {
    return this.find("task", { nodeIds: [nodeId] });
  }

  tasksBySlot(serviceId: string, slot: number): Task[] {
    return this.find("task", { slots: [{ serviceId, slot }] });
  }

  tasksByDesiredState(...states: number[]): Task[] {
    return this.find("task", { desiredStates: states });
  }

  count(kind: Kind): number {
    let n = this.table(kind).size;
    for (const s of this.overlay.values()) {
      if (s.kind !== kind) continue;
      const inBase = this.table(kind).get(s.id) !== undefined;
      n += (s.obj ? 1 : 0) - (inBase ? 1 : 0);
    }
    return n;
  }

  // ---- writes

  create<K extends Kind>(kind: K, obj: ObjectOfKind[K]): void {
    if (typeof obj?.id !== "string" || obj.id === "") throw errInvalid(`cannot create a ${kind} without an ID`);
    if (this.get(kind, obj.id)) throw errExist(kind, obj.id);
    this.checkName(kind, obj, obj.id);
    const copy = this.ownCopy(kind, obj);
    copy.meta = this.metaFor(undefined, copy.meta);
    this.stage(kind, copy, { action: "create", kind, target: copy as ObjectOfKind[K] });
  }

  update<K extends Kind>(kind: K, obj: ObjectOfKind[K]): void {
    if (typeof obj?.id !== "string" || obj.id === "") throw errInvalid(`cannot update a ${kind} without an ID`);
    const current = this.get(kind, obj.id);
    if (!current) throw errNotExist(kind, obj.id);
    const key = keyOf(kind, obj.id);
    // Within one transaction the first write has already proved the read was fresh.
    if (!this.touched.has(key) && versionOf(obj) !== versionOf(current)) {
      throw errSequenceConflict(kind, obj.id, versionOf(obj), versionOf(current));
    }
    this.checkName(kind, obj, obj.id);
    const copy = this.ownCopy(kind, obj);
    // At prepare this keeps the version that was read, for the re-check at apply.
    copy.meta = this.metaFor(current, copy.meta);
    this.stage(kind, copy, { action: "update", kind, target: copy as ObjectOfKind[K] });
  }

  delete(kind: Kind, id: string): void {
    const current = this.get(kind, id);
    if (!current) throw errNotExist(kind, id);
    const key = keyOf(kind, id);
    this.forgetName(kind, current);
    this.setOverlay(key, { kind, id, obj: null });
    this.touch(key);
    this.actionList.push({ action: "remove", kind, target: current });
    this.changeList.push({ action: "remove", kind, object: current, oldObject: current });
  }

  /** Replay one committed action (apply path). */
  applyAction(a: StoreAction): void {
    switch (a.action) {
      case "create":
        return this.create(a.kind, a.target);
      case "update":
        return this.update(a.kind, a.target);
      case "remove":
        return this.delete(a.kind, a.target.id);
      default:
        throw errInvalid(`unknown store action ${String((a as { action: unknown }).action)}`);
    }
  }

  private stage(kind: Kind, obj: StoreObject, action: StoreAction): void {
    const key = keyOf(kind, obj.id);
    deepFreeze(obj);
    const prev = this.get(kind, obj.id);
    if (prev) this.forgetName(kind, prev);
    const schema = schemaOf(kind);
    const name = schema.uniqueNames ? schema.name(obj).toLowerCase() : "";
    if (name !== "") this.setName(keyOf(kind, name), obj.id);
    this.setOverlay(key, { kind, id: obj.id, obj });
    this.touch(key);
    this.actionList.push(action);
    this.changeList.push({ action: action.action, kind, object: obj, oldObject: prev });
  }

  /**
   * A private copy whose meta can be set. At apply, a frozen object was
   * decoded from the raft entry (MemoryStore.applyEntry) or staged by prepare
   * in this process: already normalized, its parts frozen, so a shallow copy
   * suffices; anything else is normalized deeply.
   */
  private ownCopy(kind: Kind, obj: StoreObject): StoreObject {
    if (this.stamp.mode === "apply" && Object.isFrozen(obj)) return { ...obj };
    return normalize(kind, obj as ObjectOfKind[Kind]) as StoreObject;
  }

  private metaFor(current: StoreObject | undefined, given: Meta | undefined): Meta {
    if (this.stamp.mode === "prepare") {
      const now = this.stamp.now;
      return {
        version: { index: versionOf(current) },
        createdAt: current?.meta?.createdAt ?? now,
        updatedAt: now,
      };
    }
    // Apply: the raft index is the version; times come from the proposal,
    // except createdAt, which the committed object owns once it exists.
    return {
      version: { index: this.stamp.index },
      createdAt: current?.meta?.createdAt ?? given?.createdAt,
      updatedAt: given?.updatedAt,
    };
  }

  private checkName(kind: Kind, obj: StoreObject, selfId: string): void {
    const schema = schemaOf(kind);
    if (!schema.uniqueNames) return;
    const name = schema.name(obj);
    if (name === "") return;
    const lower = name.toLowerCase();
    const holder = this.names.get(keyOf(kind, lower));
    if (holder !== undefined && holder !== selfId) throw errNameConflict(kind, name, holder);
    for (const id of this.table(kind).lookup("name", lower)) {
      if (id !== selfId && !this.overlay.has(keyOf(kind, id))) throw errNameConflict(kind, name, id);
    }
  }

  private forgetName(kind: Kind, obj: StoreObject): void {
    const schema = schemaOf(kind);
    if (!schema.uniqueNames) return;
    const key = keyOf(kind, schema.name(obj).toLowerCase());
    if (this.names.get(key) === obj.id) this.setName(key, undefined);
  }

  private table(kind: Kind): Table {
    if (this.finished) throw new SwarmError("FAILED_PRECONDITION", "store transaction used after it ended");
    const t = this.tables.get(kind);
    if (!t) throw errInvalid(`unknown object kind "${String(kind)}"`);
    return t;
  }
}

function restore<V>(m: Map<string, V>, key: string, prev: V | undefined): void {
  if (prev === undefined) m.delete(key);
  else m.set(key, prev);
}
