// The agent's view of one manager's Dispatcher service, independent of how it
// is reached (gRPC with mutual TLS, or the local MessageChannel).
import type {
  AssignmentsMessage,
  AssignmentsRequest,
  HeartbeatRequest,
  HeartbeatResponse,
  SessionMessage,
  SessionRequest,
  UpdateTaskStatusRequest,
} from "../../../shared/api/index.js";

export interface StreamHandlers<T> {
  onMessage(message: T): void;
  /** Called once when the stream stops; `error` is absent only after cancel(). */
  onEnd(error?: Error): void;
}

export interface StreamHandle {
  /** Stops the stream; onEnd follows without an error (unless it had already ended). */
  cancel(): void;
}

export interface DispatcherConnection {
  /** Where it leads, for logs: "host:port" or "local". */
  readonly target: string;
  /** The manager's node ID when known (from state.json or the session). */
  readonly nodeId: string;
  session(request: SessionRequest, handlers: StreamHandlers<SessionMessage>): StreamHandle;
  assignments(request: AssignmentsRequest, handlers: StreamHandlers<AssignmentsMessage>): StreamHandle;
  heartbeat(request: HeartbeatRequest, timeoutMs: number): Promise<HeartbeatResponse>;
  updateTaskStatus(request: UpdateTaskStatusRequest, timeoutMs: number): Promise<void>;
  /** Releases the channel; open streams end. */
  close(): void;
}
