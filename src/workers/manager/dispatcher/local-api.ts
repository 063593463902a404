// The Dispatcher for the agent of this same process, over the manager↔agent
// MessageChannel (contract: LocalDispatcherApi). The caller is this host's
// own node; stream sinks arrive as comlink proxies, so sends are posted
// without waiting (comlink keeps their order) and a dead receiver only ends
// its stream.
import * as Comlink from "comlink";
import type { DispatcherStreamSink, LocalDispatcherApi, StreamEndError } from "../../../shared/contracts/index.js";
import { errorCode, errorMessage } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import type { Caller } from "../remoteapi/caller.js";
import type { DispatcherEndpoint } from "./endpoint.js";
import { grpcCodeName } from "./forwarder.js";
import type { StreamSink } from "./streams.js";

const log = getLogger("dispatcher");

function endError(err: unknown): StreamEndError {
  const code = errorCode(err) ?? grpcCodeName((err as { code?: unknown } | null)?.code) ?? "UNKNOWN";
  const details = (err as { details?: unknown } | null)?.details;
  return { code, message: typeof details === "string" && details ? details : errorMessage(err) };
}

/** Errors that cross the channel keep their code in a plain Error's `code` and message. */
function plainError(err: unknown): Error {
  const e = endError(err);
  return Object.assign(new Error(e.message), { code: e.code });
}

/**
 * A sink that came over a comlink channel holds a MessagePort of its own;
 * release it once the stream is over, or it keeps both threads' ports open
 * until garbage collection.
 */
function releaseSink(sink: object): void {
  const release = (sink as { [Comlink.releaseProxy]?: () => void })[Comlink.releaseProxy];
  if (typeof release === "function") release.call(sink);
}

export function localDispatcherApi(endpoint: DispatcherEndpoint, caller: () => Caller): LocalDispatcherApi {
  let nextId = 0;
  const open = new Map<number, () => void>();

  function openStream<T>(
    run: (c: Caller, sink: StreamSink<T>) => Promise<void>,
    sink: DispatcherStreamSink<T>,
    what: string,
  ): number {
    const id = ++nextId;
    let cancel!: () => void;
    const closed = new Promise<void>((resolve) => (cancel = resolve));
    open.set(id, cancel);
    const local: StreamSink<T> = {
      closed,
      send(message: T): void {
        Promise.resolve(sink.next(message)).catch((err: unknown) => {
          log.debug({ stream: what, err: errorMessage(err) }, "local dispatcher receiver gone");
          cancel();
        });
      },
    };
    let settled: Promise<void>;
    try {
      settled = run(caller(), local);
    } catch (err) {
      settled = Promise.reject(err);
    }
    settled
      .then(
        () => sink.end(),
        (err: unknown) => sink.end(endError(err)),
      )
      .catch(() => undefined)
      .finally(() => {
        open.delete(id);
        releaseSink(sink);
      });
    return id;
  }

  return {
    dispatcherSession: async (request, sink) => openStream((c, s) => endpoint.session(c, request, s), sink, "Session"),
    dispatcherAssignments: async (request, sink) => openStream((c, s) => endpoint.assignments(c, request, s), sink, "Assignments"),
    dispatcherCancelStream(streamId) {
      open.get(streamId)?.();
    },
    async dispatcherHeartbeat(request) {
      try {
        return await endpoint.heartbeat(caller(), request);
      } catch (err) {
        throw plainError(err);
      }
    },
    async dispatcherUpdateTaskStatus(request) {
      try {
        return await endpoint.updateTaskStatus(caller(), request);
      } catch (err) {
        throw plainError(err);
      }
    },
  };
}
