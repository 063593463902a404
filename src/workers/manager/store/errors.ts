// The store's errors, with SwarmKit's wording (manager/state/store) and a
// gRPC code so the control API can pass them straight through.
import { SwarmError } from "../../../shared/errors.js";
import type { Kind } from "./objects.js";

/** SwarmKit's limits (store/memory.go). */
export const MAX_CHANGES_PER_TRANSACTION = 200;
export const MAX_TRANSACTION_BYTES = 1.5 * 1024 * 1024;

export function errExist(kind: Kind, id: string): SwarmError {
  return new SwarmError("ALREADY_EXISTS", `object already exists: ${kind} ${id}`);
}

export function errNotExist(kind: Kind, id: string): SwarmError {
  return new SwarmError("NOT_FOUND", `object does not exist: ${kind} ${id}`);
}

export function errNameConflict(kind: Kind, name: string, holder: string): SwarmError {
  return new SwarmError("ALREADY_EXISTS", `name conflicts with an existing object: ${kind} name "${name}" is used by ${holder}`);
}

export function errSequenceConflict(kind: Kind, id: string, given: number, stored: number): SwarmError {
  return new SwarmError(
    "FAILED_PRECONDITION",
    `update out of sequence: ${kind} ${id} was read at version ${given} but is now at version ${stored}`,
  );
}

export function errTooLarge(bytes: number): SwarmError {
  return new SwarmError(
    "RESOURCE_EXHAUSTED",
    `transaction too large: ${bytes} bytes encoded, the limit is ${MAX_TRANSACTION_BYTES} bytes (use a batch)`,
  );
}

export function errInvalid(message: string): SwarmError {
  return new SwarmError("INVALID_ARGUMENT", message);
}
