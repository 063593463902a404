// Maps dockerode failures onto coded errors that name the engine, image or
// container involved, so a task status says what actually went wrong.
import { SwarmError, type ErrorCode } from "../../../shared/errors.js";

export type EngineErrorReason =
  | "ENGINE_UNREACHABLE"
  | "IMAGE_NOT_FOUND"
  | "NO_SUCH_CONTAINER"
  | "NAME_CONFLICT"
  | "TIMEOUT"
  | "CANCELLED"
  | "ENGINE_ERROR";

/** An engine failure; `code` is the gRPC-style code, `reason` says which kind. */
export class EngineError extends SwarmError {
  readonly reason: EngineErrorReason;
  readonly engineAddr: string;
  /** HTTP status from the engine, when it answered. */
  readonly statusCode: number | undefined;
  constructor(
    code: ErrorCode,
    reason: EngineErrorReason,
    message: string,
    engineAddr: string,
    opts: { cause?: unknown; statusCode?: number } = {},
  ) {
    super(code, message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = "SwarmError";
    this.reason = reason;
    this.engineAddr = engineAddr;
    this.statusCode = opts.statusCode;
  }
}

export function isEngineError(err: unknown, reason?: EngineErrorReason): err is EngineError {
  return err instanceof EngineError && (reason === undefined || err.reason === reason);
}

const CONNECTION_CODES = new Set([
  "ENOENT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EACCES",
  "EPERM",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENOTSOCK",
]);

interface RawDockerError {
  code?: unknown;
  statusCode?: unknown;
  reason?: unknown;
  json?: unknown;
  message?: unknown;
  name?: unknown;
}

/** The engine's own message from a dockerode HTTP error, without dockerode's prefix. */
export function engineMessage(err: unknown): string {
  const e = (err ?? {}) as RawDockerError;
  const json = e.json as { message?: unknown } | null | undefined;
  if (json && typeof json.message === "string" && json.message !== "") return json.message;
  const msg = typeof e.message === "string" ? e.message : String(err);
  // dockerode formats "(HTTP code 500) server error - <engine message> "
  const m = /^\(HTTP code \d+\) [^-]*- (.*)$/s.exec(msg);
  return (m ? m[1]! : msg).trim();
}

export function httpStatus(err: unknown): number | undefined {
  const s = (err as RawDockerError | null)?.statusCode;
  return typeof s === "number" ? s : undefined;
}

/** True when the engine could not be reached at all (as opposed to answering with an error). */
export function isConnectionFailure(err: unknown): boolean {
  const e = (err ?? {}) as RawDockerError;
  if (typeof e.code === "string" && CONNECTION_CODES.has(e.code)) return true;
  return typeof e.message === "string" && /socket hang up/.test(e.message) && httpStatus(err) === undefined;
}

/**
 * Converts any dockerode error into an EngineError. `what` names the operation
 * and its object, e.g. `create container web.1.abc`.
 */
export function mapEngineError(err: unknown, engineAddr: string, what: string): EngineError {
  if (err instanceof EngineError) return err;
  const e = (err ?? {}) as RawDockerError;
  const statusCode = httpStatus(err);
  if (isConnectionFailure(err)) {
    const detail = typeof e.message === "string" ? e.message : String(err);
    return new EngineError(
      "UNAVAILABLE",
      "ENGINE_UNREACHABLE",
      `docker engine at ${engineAddr} is unreachable (${what}): ${detail}`,
      engineAddr,
      { cause: err },
    );
  }
  if (e.name === "AbortError") {
    return new EngineError("CANCELLED", "CANCELLED", `${what} cancelled`, engineAddr, { cause: err });
  }
  const msg = engineMessage(err);
  const opts = { cause: err, ...(statusCode !== undefined ? { statusCode } : {}) };
  if (statusCode === 404) {
    if (/no such image/i.test(msg)) {
      return new EngineError("NOT_FOUND", "IMAGE_NOT_FOUND", `${what}: ${msg}`, engineAddr, opts);
    }
    return new EngineError("NOT_FOUND", "NO_SUCH_CONTAINER", `${what}: ${msg}`, engineAddr, opts);
  }
  if (statusCode === 409) {
    const reason: EngineErrorReason = /already in use|Conflict\. The (container )?name/i.test(msg) ? "NAME_CONFLICT" : "ENGINE_ERROR";
    return new EngineError(reason === "NAME_CONFLICT" ? "ALREADY_EXISTS" : "FAILED_PRECONDITION", reason, `${what}: ${msg}`, engineAddr, opts);
  }
  if (statusCode === 400) return new EngineError("INVALID_ARGUMENT", "ENGINE_ERROR", `${what}: ${msg}`, engineAddr, opts);
  return new EngineError("UNKNOWN", "ENGINE_ERROR", `${what}: ${msg}`, engineAddr, opts);
}
