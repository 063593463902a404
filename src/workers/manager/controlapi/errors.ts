// Errors of the control API and their translation to gRPC status. Handlers
// throw SwarmError with SwarmKit's code and wording; anything else becomes
// INTERNAL with a message but never a stack trace.
import { Metadata, status as Status, type ServiceError, type StatusObject } from "@grpc/grpc-js";
import { SwarmError, errorMessage, type ErrorCode } from "../../../shared/errors.js";

/** SwarmKit's errInvalidArgument text. */
export const INVALID_ARGUMENT_TEXT = "invalid argument";

/** Docker's wording when no manager leads (SwarmKit itself says "no cluster leader"). */
export const NO_LEADER_TEXT =
  "The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";

export const invalid = (message: string = INVALID_ARGUMENT_TEXT): SwarmError => new SwarmError("INVALID_ARGUMENT", message);
export const notFound = (message: string): SwarmError => new SwarmError("NOT_FOUND", message);
export const precondition = (message: string): SwarmError => new SwarmError("FAILED_PRECONDITION", message);
export const unimplemented = (message: string): SwarmError => new SwarmError("UNIMPLEMENTED", message);
export const internal = (message: string): SwarmError => new SwarmError("INTERNAL", message);

const CODES: Record<ErrorCode, Status> = {
  CANCELLED: Status.CANCELLED,
  UNKNOWN: Status.UNKNOWN,
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  DEADLINE_EXCEEDED: Status.DEADLINE_EXCEEDED,
  NOT_FOUND: Status.NOT_FOUND,
  ALREADY_EXISTS: Status.ALREADY_EXISTS,
  PERMISSION_DENIED: Status.PERMISSION_DENIED,
  RESOURCE_EXHAUSTED: Status.RESOURCE_EXHAUSTED,
  FAILED_PRECONDITION: Status.FAILED_PRECONDITION,
  ABORTED: Status.ABORTED,
  OUT_OF_RANGE: Status.OUT_OF_RANGE,
  UNIMPLEMENTED: Status.UNIMPLEMENTED,
  INTERNAL: Status.INTERNAL,
  UNAVAILABLE: Status.UNAVAILABLE,
  DATA_LOSS: Status.DATA_LOSS,
  UNAUTHENTICATED: Status.UNAUTHENTICATED,
};

export function grpcCodeOf(code: string): Status | undefined {
  return Object.hasOwn(CODES, code) ? CODES[code as ErrorCode] : undefined;
}

/**
 * A gRPC status for any thrown value: a SwarmError keeps its code; an error
 * that already carries a numeric gRPC code (a forwarded call's ServiceError)
 * keeps code and details; the rest are INTERNAL with the method for context.
 */
export function toStatus(err: unknown, method: string): Partial<StatusObject> & { code: Status; details: string } {
  const e = err as { code?: unknown; details?: unknown } | null;
  if (err instanceof SwarmError) {
    return { code: grpcCodeOf(err.code) ?? Status.UNKNOWN, details: err.message, metadata: new Metadata() };
  }
  if (e && typeof e.code === "number" && e.code > 0 && e.code <= 16) {
    const details = typeof e.details === "string" ? e.details : errorMessage(err);
    return { code: e.code as Status, details, metadata: new Metadata() };
  }
  if (e && typeof e.code === "string") {
    const code = grpcCodeOf(e.code);
    if (code !== undefined) return { code, details: errorMessage(err), metadata: new Metadata() };
  }
  return { code: Status.INTERNAL, details: `${method}: internal error: ${errorMessage(err)}`, metadata: new Metadata() };
}

/** The error value a grpc-js unary callback takes. */
export function toServiceError(err: unknown, method: string): Partial<ServiceError> {
  const s = toStatus(err, method);
  return { code: s.code, details: s.details, metadata: s.metadata ?? new Metadata(), message: s.details };
}
