// DispatcherConnection to the manager worker of this same process, over the
// manager↔agent MessageChannel (LocalDispatcherApi). Stream sinks travel as
// comlink proxies; everything else is plain structured-cloned data.
import * as Comlink from "comlink";
import type {
  AssignmentsMessage,
  AssignmentsRequest,
  HeartbeatRequest,
  HeartbeatResponse,
  SessionMessage,
  SessionRequest,
  UpdateTaskStatusRequest,
} from "../../../shared/api/index.js";
import type { Client } from "../../../shared/channel/index.js";
import type { DispatcherStreamSink, LocalDispatcherApi, StreamEndError } from "../../../shared/contracts/index.js";
import { SwarmError, errorCode, errorMessage, type ErrorCode } from "../../../shared/errors.js";
import type { DispatcherConnection, StreamHandle, StreamHandlers } from "./types.js";

export const LOCAL_TARGET = "local";

function endError(e: StreamEndError, what: string): SwarmError {
  return new SwarmError(e.code as ErrorCode, `local dispatcher ${what}: ${e.message}`);
}

function withDeadline<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SwarmError("DEADLINE_EXCEEDED", `local dispatcher ${what} did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

export class LocalDispatcherConnection implements DispatcherConnection {
  readonly target = LOCAL_TARGET;
  readonly nodeId: string;
  private readonly api: Client<LocalDispatcherApi>;
  private readonly open = new Set<StreamHandle>();

  constructor(api: Client<LocalDispatcherApi>, ownNodeId: string) {
    this.api = api;
    this.nodeId = ownNodeId;
  }

  session(request: SessionRequest, handlers: StreamHandlers<SessionMessage>): StreamHandle {
    return this.stream((sink) => this.api.dispatcherSession(request, sink), handlers, "Session");
  }

  assignments(request: AssignmentsRequest, handlers: StreamHandlers<AssignmentsMessage>): StreamHandle {
    return this.stream((sink) => this.api.dispatcherAssignments(request, sink), handlers, "Assignments");
  }

  async heartbeat(request: HeartbeatRequest, timeoutMs: number): Promise<HeartbeatResponse> {
    return withDeadline(this.api.dispatcherHeartbeat(request), timeoutMs, "Heartbeat");
  }

  async updateTaskStatus(request: UpdateTaskStatusRequest, timeoutMs: number): Promise<void> {
    await withDeadline(this.api.dispatcherUpdateTaskStatus(request), timeoutMs, "UpdateTaskStatus");
  }

  close(): void {
    for (const h of [...this.open]) h.cancel();
  }

  private stream<T>(
    openStream: (sink: DispatcherStreamSink<T>) => Promise<number>,
    handlers: StreamHandlers<T>,
    what: string,
  ): StreamHandle {
    let ended = false;
    let streamId: number | undefined;
    let cancelRequested = false;
    const handle: StreamHandle = {
      cancel: () => {
        if (ended) return;
        cancelRequested = true;
        if (streamId !== undefined) void this.api.dispatcherCancelStream(streamId).catch(() => undefined);
        finish();
      },
    };
    const finish = (error?: Error) => {
      if (ended) return;
      ended = true;
      this.open.delete(handle);
      handlers.onEnd(error);
    };
    const sink: DispatcherStreamSink<T> = {
      next: (m) => {
        if (!ended) handlers.onMessage(m);
      },
      end: (e) => finish(e ? endError(e, what) : new SwarmError("UNAVAILABLE", `local dispatcher ${what} stream ended`)),
    };
    this.open.add(handle);
    openStream(Comlink.proxy(sink)).then(
      (id) => {
        streamId = id;
        if (cancelRequested) void this.api.dispatcherCancelStream(id).catch(() => undefined);
      },
      (err: unknown) => finish(new SwarmError((errorCode(err) as ErrorCode | undefined) ?? "UNAVAILABLE", `local dispatcher ${what}: ${errorMessage(err)}`)),
    );
    return handle;
  }
}
