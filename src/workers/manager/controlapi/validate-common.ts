// Validation shared by every kind: names, drivers, durations. Messages follow
// SwarmKit's controlapi where it has one; where SwarmKit's message does not
// say which field is wrong, ours adds the field.
import type { Annotations, Driver } from "../../../shared/api/index.js";
import type { Duration } from "../../../shared/api/gen/google/protobuf/duration.js";
import { invalid } from "./errors.js";

// SwarmKit: services and networks need a DNS label; secrets and configs a file-name-like name.
const DNS_NAME = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/;
const CONFIG_OR_SECRET_NAME = /^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$/;

export function validateAnnotations(a: Annotations | undefined): void {
  const name = a?.name ?? "";
  if (name === "") throw invalid("meta: name must be provided");
  if (!DNS_NAME.test(name)) throw invalid(`name must be valid as a DNS name component (name "${name}")`);
  if (name.length > 63) throw invalid(`name must be 63 characters or fewer (name "${name}" has ${name.length})`);
}

export function validateConfigOrSecretAnnotations(a: Annotations | undefined): void {
  const name = a?.name ?? "";
  if (name === "") throw invalid("name must be provided");
  if (name.length > 64 || !CONFIG_OR_SECRET_NAME.test(name)) {
    throw invalid(
      `invalid name "${name}", only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]`,
    );
  }
}

export function validateDriver(driver: Driver | undefined, field: string): void {
  if (driver === undefined) return;
  if (driver.name === "") throw invalid(`${field}: if driver is specified name is required`);
}

// google.protobuf.Duration limits (gogo's validateDuration).
const MAX_SECONDS = 315_576_000_000;

/** Milliseconds of a Duration, or INVALID_ARGUMENT naming the field when malformed. */
export function durationMs(d: Duration | undefined, field: string): number | undefined {
  if (d === undefined) return undefined;
  const { seconds, nanos } = d;
  if (!Number.isFinite(seconds) || Math.abs(seconds) > MAX_SECONDS) throw invalid(`${field}: invalid duration: seconds out of range`);
  if (!Number.isInteger(nanos) || nanos <= -1e9 || nanos >= 1e9) throw invalid(`${field}: invalid duration: nanos out of range`);
  if ((seconds < 0 && nanos > 0) || (seconds > 0 && nanos < 0)) {
    throw invalid(`${field}: invalid duration: seconds and nanos have different signs`);
  }
  return seconds * 1000 + nanos / 1e6;
}

/** Fails when a duration is malformed or negative; SwarmKit's "<field> cannot be negative". */
export function nonNegativeDuration(d: Duration | undefined, field: string, message?: string): void {
  const ms = durationMs(d, field);
  if (ms !== undefined && ms < 0) throw invalid(message ?? `${field} cannot be negative`);
}
