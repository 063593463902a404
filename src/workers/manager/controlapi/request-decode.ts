// Decoding requests without losing the error. The generated decoders throw
// on 64-bit values above 2^53 (forceLong=number), and grpc-js would answer
// such a request with INTERNAL "Error deserializing request". SwarmKit's
// clients send a negative replica count as a huge uint64, so we catch the
// failure, hand the handler a marker, and answer INVALID_ARGUMENT naming
// the field instead.
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { ServiceDefinition, MethodDefinition } from "@grpc/grpc-js";
import { errorMessage } from "../../../shared/errors.js";

const BAD_REQUEST = Symbol("bad request");

export interface BadRequest {
  [BAD_REQUEST]: string;
}

export function badRequestMessage(req: unknown): string | undefined {
  return req !== null && typeof req === "object" && BAD_REQUEST in req ? (req as BadRequest)[BAD_REQUEST] : undefined;
}

/** Field numbers on the way from a request to a ServiceSpec's uint64 counts. */
const SPEC_FIELD: Record<string, number> = { createService: 1, updateService: 3 };
const SERVICE_SPEC_REPLICATED = 3;
const SERVICE_SPEC_REPLICATED_JOB = 10;
const TWO_POW_63 = 1n << 63n;

/** The bytes of the last occurrence of a length-delimited field, if any. */
function subMessage(bytes: Uint8Array, field: number): Uint8Array | undefined {
  const r = new BinaryReader(bytes);
  let found: Uint8Array | undefined;
  while (r.pos < r.len) {
    const [no, type] = r.tag();
    if (no === field && type === WireType.LengthDelimited) found = r.bytes();
    else r.skip(type);
  }
  return found;
}

function uint64Field(bytes: Uint8Array, field: number): bigint | undefined {
  const r = new BinaryReader(bytes);
  let found: bigint | undefined;
  while (r.pos < r.len) {
    const [no, type] = r.tag();
    if (no === field && type === WireType.Varint) found = BigInt.asUintN(64, BigInt(r.uint64().toString()));
    else r.skip(type);
  }
  return found;
}

function describeCount(value: bigint, what: string): string {
  if (value >= TWO_POW_63) return `${what} must be non-negative`;
  return `${what} is too large: ${value}`;
}

/** Best effort: name the ServiceSpec count that did not fit. */
function explainServiceSpec(method: string, bytes: Uint8Array): string | undefined {
  const specField = SPEC_FIELD[method];
  if (specField === undefined) return undefined;
  try {
    const spec = subMessage(bytes, specField);
    if (!spec) return undefined;
    const replicated = subMessage(spec, SERVICE_SPEC_REPLICATED);
    const replicas = replicated && uint64Field(replicated, 1);
    if (replicas !== undefined && replicas > BigInt(Number.MAX_SAFE_INTEGER)) return describeCount(replicas, "Number of replicas");
    const job = subMessage(spec, SERVICE_SPEC_REPLICATED_JOB);
    const maxConcurrent = job && uint64Field(job, 1);
    if (maxConcurrent !== undefined && maxConcurrent > BigInt(Number.MAX_SAFE_INTEGER)) {
      return describeCount(maxConcurrent, "Maximum concurrent jobs");
    }
    const total = job && uint64Field(job, 2);
    if (total !== undefined && total > BigInt(Number.MAX_SAFE_INTEGER)) return describeCount(total, "Total completed jobs");
  } catch {
    // Not decodable as expected: fall back to the generic message.
  }
  return undefined;
}

function safeDecoder(name: string, def: MethodDefinition<unknown, unknown>): (bytes: Buffer) => unknown {
  return (bytes) => {
    try {
      return def.requestDeserialize(bytes);
    } catch (err) {
      const msg = explainServiceSpec(name, bytes) ?? `malformed request: ${errorMessage(err)} (64-bit values must be below 2^53)`;
      return { [BAD_REQUEST]: msg } satisfies BadRequest;
    }
  };
}

/** A copy of a service definition whose request decoders never throw. */
export function withSafeDecoders<S extends ServiceDefinition>(service: S): S {
  const out: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [name, def] of Object.entries(service) as [string, MethodDefinition<unknown, unknown>][]) {
    out[name] = { ...def, requestDeserialize: safeDecoder(name, def) };
  }
  return out as S;
}

/**
 * A write request as it came off the wire, decoded only if this manager
 * handles it: a follower passes the bytes on to the leader untouched and
 * hands the leader's encoded answer back, instead of decoding and encoding
 * both (about a third of a forwarded call's CPU on the follower).
 */
export class RawWrite {
  private decoded: unknown;
  private done = false;

  constructor(
    readonly bytes: Buffer,
    private readonly decodeBytes: (bytes: Buffer) => unknown,
  ) {}

  /** The request (or a BadRequest marker), decoded once. */
  decode(): unknown {
    if (!this.done) {
      this.decoded = this.decodeBytes(this.bytes);
      this.done = true;
    }
    return this.decoded;
  }
}

/**
 * withSafeDecoders, plus: the methods `isRaw` picks get a RawWrite as their
 * request, and their response serializer passes an already encoded answer
 * (a Buffer, from the leader) through as it is.
 */
export function withRawWrites<S extends ServiceDefinition>(service: S, isRaw: (method: string) => boolean): S {
  const out: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [name, def] of Object.entries(service) as [string, MethodDefinition<unknown, unknown>][]) {
    const decode = safeDecoder(name, def);
    out[name] = isRaw(name)
      ? {
          ...def,
          requestDeserialize: (bytes: Buffer) => new RawWrite(bytes, decode),
          responseSerialize: (value: unknown) => (Buffer.isBuffer(value) ? value : def.responseSerialize(value)),
        }
      : { ...def, requestDeserialize: decode };
  }
  return out as S;
}
