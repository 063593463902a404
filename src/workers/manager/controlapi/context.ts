// Shared plumbing of the handlers: reads, writes through raft, and the
// translation of the store's name-conflict error into SwarmKit's wording.
import { SwarmError } from "../../../shared/errors.js";
import { update, type Tx } from "../store/index.js";
import type { Kind, ObjectOfKind } from "../store/objects.js";
import type { ControlBackend } from "./backend.js";

export interface HandlerContext {
  backend: ControlBackend;
  /** Wall clock, for update statuses and certificate expiry (tests pin it). */
  now(): Date;
}

/** Run a write transaction through raft and return what fn returned. */
export function write<R>(ctx: HandlerContext, fn: (tx: Tx) => R): Promise<R> {
  return update(ctx.backend.store, ctx.backend.proposer, fn);
}

/** The store says "name conflicts with an existing object: …"; SwarmKit's clients show "<kind> <name> already exists". */
export async function withNameConflict<R>(kind: Kind, name: string, p: Promise<R>): Promise<R> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof SwarmError && err.code === "ALREADY_EXISTS" && err.message.startsWith("name conflicts")) {
      throw new SwarmError("ALREADY_EXISTS", `name conflicts with an existing object: ${kind} ${name} already exists`);
    }
    throw err;
  }
}

/**
 * Write, then return the committed object: inside the transaction the
 * object's version is not yet known (it becomes the raft index at apply).
 */
export async function writeObject<K extends Kind>(ctx: HandlerContext, kind: K, fn: (tx: Tx) => string): Promise<ObjectOfKind[K]> {
  let staged: ObjectOfKind[K] | undefined;
  const id = await write(ctx, (tx) => {
    const written = fn(tx);
    staged = tx.get(kind, written);
    return written;
  });
  const committed = ctx.backend.store.get(kind, id) ?? staged;
  if (!committed) throw new SwarmError("INTERNAL", `${kind} ${id} vanished after a successful write`);
  return committed;
}
