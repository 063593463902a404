// The Dispatcher gRPC service (ts-proto's DispatcherServer) over an endpoint.
// Authorization happens before (the remote API server's wrapper); identityOf
// returns the caller it established. Tasks and UpdateVolumeStatus are not
// implemented: grpc-js answers UNIMPLEMENTED, and SwarmKit's agent only uses
// Tasks when Assignments is unimplemented.
import { type ServerUnaryCall, type ServerWritableStream, type sendUnaryData } from "@grpc/grpc-js";
import type { ServerSurfaceCall } from "@grpc/grpc-js/build/src/server-call.js";
import type { DispatcherServer } from "../../../shared/api/index.js";
import { SwarmError } from "../../../shared/errors.js";
import { toServiceError } from "../controlapi/errors.js";
import type { Caller } from "../remoteapi/caller.js";
import { Dispatcher } from "./dispatcher.js";
import { localEndpoint, type DispatcherEndpoint } from "./endpoint.js";
import type { StreamSink } from "./streams.js";

export type IdentityOf = (call: ServerSurfaceCall) => Caller | undefined;

type DispatcherHandlers = Pick<DispatcherServer, "session" | "heartbeat" | "updateTaskStatus" | "assignments">;

function unauthenticated(): SwarmError {
  return new SwarmError("UNAUTHENTICATED", "a client certificate is required for this method");
}

/** The caller, or the error to answer with (identityOf may throw, e.g. a refused forwarder). */
function identify(identityOf: IdentityOf, call: ServerSurfaceCall): Caller | Error {
  try {
    return identityOf(call) ?? unauthenticated();
  } catch (err) {
    return err instanceof Error ? err : new SwarmError("UNAUTHENTICATED", String(err));
  }
}

/** A sink writing to a server stream; closed when the client cancels or the call ends. */
function callSink<T>(call: ServerWritableStream<unknown, T>): StreamSink<T> {
  const closed = new Promise<void>((resolve) => {
    call.once("cancelled", () => resolve());
    call.once("close", () => resolve());
    call.once("finish", () => resolve());
  });
  return {
    closed,
    send(message: T): void | Promise<void> {
      if (call.cancelled || call.writableEnded) return;
      if (!call.write(message)) {
        return Promise.race([new Promise<void>((resolve) => call.once("drain", () => resolve())), closed]);
      }
    },
  };
}

function stream<Req, Res>(
  identityOf: IdentityOf,
  method: string,
  run: (caller: Caller, req: Req, sink: StreamSink<Res>) => Promise<void>,
): (call: ServerWritableStream<Req, Res>) => void {
  return (call) => {
    const caller = identify(identityOf, call);
    if (caller instanceof Error) {
      call.emit("error", toServiceError(caller, method));
      return;
    }
    run(caller, call.request, callSink(call)).then(
      () => {
        if (!call.cancelled && !call.writableEnded) call.end();
      },
      (err: unknown) => {
        if (!call.cancelled && !call.writableEnded) call.emit("error", toServiceError(err, method));
      },
    );
  };
}

function unary<Req, Res>(
  identityOf: IdentityOf,
  method: string,
  run: (caller: Caller, req: Req) => Promise<Res>,
): (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void {
  return (call, cb) => {
    const caller = identify(identityOf, call);
    if (caller instanceof Error) {
      cb(toServiceError(caller, method) as Parameters<sendUnaryData<Res>>[0]);
      return;
    }
    run(caller, call.request).then(
      (res) => cb(null, res),
      (err: unknown) => cb(toServiceError(err, method) as Parameters<sendUnaryData<Res>>[0]),
    );
  };
}

/**
 * The service implementation to register with `DispatcherService`. Pass the
 * Dispatcher itself (leader only) or an endpoint such as routedEndpoint()
 * that forwards from followers.
 */
export function dispatcherGrpcServer(target: Dispatcher | DispatcherEndpoint, identityOf: IdentityOf): DispatcherServer {
  const ep = target instanceof Dispatcher ? localEndpoint(target) : target;
  const handlers: DispatcherHandlers = {
    session: stream(identityOf, "Session", (c, req, sink) => ep.session(c, req, sink)),
    assignments: stream(identityOf, "Assignments", (c, req, sink) => ep.assignments(c, req, sink)),
    heartbeat: unary(identityOf, "Heartbeat", (c, req) => ep.heartbeat(c, req)),
    updateTaskStatus: unary(identityOf, "UpdateTaskStatus", (c, req) => ep.updateTaskStatus(c, req)),
  };
  // Omitted methods answer UNIMPLEMENTED (the remote API wrapper skips them too).
  return handlers as DispatcherServer;
}

