// agent worker → manager worker on the same host: the Dispatcher service
// (api/dispatcher.proto) over the manager↔agent MessageChannel instead of
// gRPC, so the agent of a manager host needs no TLS round trip to itself.
// The messages are the generated api types as plain data (bytes fields
// arrive as Uint8Array after structured cloning). The node is the manager
// host's own node: the manager side knows its ID, no certificate is needed.
//
// Streams: the caller passes a sink wrapped in Comlink.proxy(); the manager
// calls sink.next() per message and sink.end() once when the stream stops
// (with an error unless it was cancelled). cancelStream(id) stops it early.
import type {
  AssignmentsMessage,
  AssignmentsRequest,
  HeartbeatRequest,
  HeartbeatResponse,
  SessionMessage,
  SessionRequest,
  UpdateTaskStatusRequest,
  UpdateTaskStatusResponse,
} from "../api/index.js";

/** Why a stream ended, as a gRPC-style code (see ErrorCode) and message. */
export interface StreamEndError {
  code: string;
  message: string;
}

export interface DispatcherStreamSink<T> {
  next(message: T): void;
  /** Called once; `error` is absent when the stream was cancelled by the caller. */
  end(error?: StreamEndError): void;
}

export interface LocalDispatcherApi {
  /** Opens a Session stream; resolves with the stream ID once it is open. */
  dispatcherSession(request: SessionRequest, sink: DispatcherStreamSink<SessionMessage>): Promise<number>;
  /** Opens an Assignments stream; resolves with the stream ID once it is open. */
  dispatcherAssignments(request: AssignmentsRequest, sink: DispatcherStreamSink<AssignmentsMessage>): Promise<number>;
  /** Stops a stream opened above; its sink gets end() without an error. Unknown IDs are ignored. */
  dispatcherCancelStream(streamId: number): void;
  dispatcherHeartbeat(request: HeartbeatRequest): Promise<HeartbeatResponse>;
  dispatcherUpdateTaskStatus(request: UpdateTaskStatusRequest): Promise<UpdateTaskStatusResponse>;
}
