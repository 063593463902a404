// What the transport adapters call: the Dispatcher's four RPCs with the
// authenticated caller. On the leader they run here; on a follower they are
// forwarded to the leader with the caller's identity (see forwarder.ts).
import type {
  AssignmentsMessage,
  AssignmentsRequest,
  HeartbeatRequest,
  HeartbeatResponse,
  SessionMessage,
  SessionRequest,
  UpdateTaskStatusRequest,
  UpdateTaskStatusResponse,
} from "../../../shared/api/index.js";
import type { Caller } from "../remoteapi/caller.js";
import type { Dispatcher } from "./dispatcher.js";
import type { StreamSink } from "./streams.js";

export interface DispatcherEndpoint {
  session(caller: Caller, req: SessionRequest, sink: StreamSink<SessionMessage>): Promise<void>;
  assignments(caller: Caller, req: AssignmentsRequest, sink: StreamSink<AssignmentsMessage>): Promise<void>;
  heartbeat(caller: Caller, req: HeartbeatRequest): Promise<HeartbeatResponse>;
  updateTaskStatus(caller: Caller, req: UpdateTaskStatusRequest): Promise<UpdateTaskStatusResponse>;
}

/** Serve calls with this manager's own dispatcher (it answers "dispatcher is stopped" unless leading). */
export function localEndpoint(d: Dispatcher): DispatcherEndpoint {
  return {
    session: (c, req, sink) => d.session(c.nodeId, req, sink, { remoteAddr: c.remoteAddr }),
    assignments: (c, req, sink) => d.assignments(c.nodeId, req, sink),
    heartbeat: (c, req) => d.heartbeat(c.nodeId, req),
    updateTaskStatus: (c, req) => d.updateTaskStatus(c.nodeId, req),
  };
}

export interface RoutedEndpointOptions {
  dispatcher: Dispatcher;
  /** Whether this manager is the raft leader right now. */
  isLeader: () => boolean;
  /** Where calls go when it is not. */
  forward: DispatcherEndpoint;
}

/** Per call: the local dispatcher when leading, else the leader's (SwarmKit's raft proxy). */
export function routedEndpoint(opts: RoutedEndpointOptions): DispatcherEndpoint {
  const local = localEndpoint(opts.dispatcher);
  const pick = (): DispatcherEndpoint => (opts.isLeader() ? local : opts.forward);
  return {
    session: (c, req, sink) => pick().session(c, req, sink),
    assignments: (c, req, sink) => pick().assignments(c, req, sink),
    heartbeat: (c, req) => pick().heartbeat(c, req),
    updateTaskStatus: (c, req) => pick().updateTaskStatus(c, req),
  };
}
