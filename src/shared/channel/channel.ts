// comlink with the two guarantees it lacks: a call never hangs (it is rejected
// when the port closes or its deadline passes) and errors keep their class
// name and code across threads. One direction per port: one side exposes an
// API, the other connects to it.
import * as Comlink from "comlink";
import type { MessagePort } from "node:worker_threads";
import { SwarmError, deserializeError, serializeError, type SerializedError } from "../errors.js";
import { nodeEndpoint } from "./node-endpoint.js";

/** Default per-call deadline; generous because it only guards against hangs. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

/** The remote side of an API: every method returns a Promise of its result. */
export type Client<T> = {
  readonly [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

export interface ConnectOptions {
  /** Name of the peer, used in error messages ("manager", "agent"). */
  peer: string;
  /** Per-call deadline in ms (default DEFAULT_CALL_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Per-method deadlines overriding timeoutMs (e.g. a long stop()). */
  methodTimeoutsMs?: Record<string, number>;
}

export interface Connection<T> {
  readonly api: Client<T>;
  /** Resolves when the port has closed (peer gone or close() called). */
  readonly closed: Promise<void>;
  isClosed(): boolean;
  close(): void;
}

installErrorHandler();

/** Serve `api` on `port`. Thrown errors reach the caller with name and code. */
export function exposeApi<T extends object>(api: T, port: MessagePort): void {
  Comlink.expose(api, nodeEndpoint(port));
}

/** Connect to an API exposed on the other end of `port`. */
export function connectApi<T extends object>(port: MessagePort, options: ConnectOptions): Connection<T> {
  const remote = Comlink.wrap<T>(nodeEndpoint(port)) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  let closed = false;
  let onClose!: () => void;
  const closedPromise = new Promise<void>((resolve) => (onClose = resolve));
  const closedError = () =>
    new SwarmError("UNAVAILABLE", `channel to ${options.peer} closed`);
  // Every pending call listens here, so the listener count grows with load.
  const rejecters = new Set<(err: Error) => void>();
  port.once("close", () => {
    closed = true;
    onClose();
    for (const reject of rejecters) reject(closedError());
    rejecters.clear();
  });

  const call = (method: string, args: unknown[]): Promise<unknown> => {
    if (closed) return Promise.reject(closedError());
    const timeoutMs = options.methodTimeoutsMs?.[method] ?? options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    return new Promise<unknown>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        rejecters.delete(reject);
      };
      const timer = setTimeout(() => {
        done();
        reject(new SwarmError("DEADLINE_EXCEEDED", `${options.peer}.${method}() did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      rejecters.add((err) => {
        done();
        reject(err);
      });
      remote[method]!(...args).then(
        (value) => {
          done();
          resolve(value);
        },
        (err: unknown) => {
          done();
          reject(err);
        },
      );
    });
  };

  const api = new Proxy({} as Client<T>, {
    get(_target, prop) {
      // Not thenable: returning the proxy from an async function must not await it.
      if (typeof prop !== "string" || prop === "then") return undefined;
      return (...args: unknown[]) => call(prop, args);
    },
  });

  return {
    api,
    closed: closedPromise,
    isClosed: () => closed,
    close: () => {
      // close() emits 'close' on both ends, which rejects our pending calls.
      port.close();
    },
  };
}

interface ThrownWire {
  isError: boolean;
  value: SerializedError | unknown;
}

/**
 * Replace comlink's "throw" handler (which drops `code` and the class) with
 * one built on serializeError/deserializeError. Transfer handlers are global
 * to the thread's comlink instance, so this runs once per thread on import.
 */
function installErrorHandler(): void {
  const builtin = Comlink.transferHandlers.get("throw");
  if (!builtin) throw new Error("comlink has no 'throw' transfer handler to replace");
  const handler: Comlink.TransferHandler<{ value: unknown }, ThrownWire> = {
    canHandle: (value: unknown): value is { value: unknown } => builtin.canHandle(value),
    serialize: ({ value }) => {
      const wire: ThrownWire =
        value instanceof Error ? { isError: true, value: serializeError(value) } : { isError: false, value };
      return [wire, []];
    },
    deserialize: (wire) => {
      throw wire.isError ? deserializeError(wire.value as SerializedError) : wire.value;
    },
  };
  Comlink.transferHandlers.set("throw", handler as Comlink.TransferHandler<unknown, unknown>);
}
