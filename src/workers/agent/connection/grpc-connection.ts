// DispatcherConnection over gRPC to a remote manager, with mutual TLS: the
// node's own certificate and key, trusting only the cluster's root CA, and
// the manager's certificate checked for the name "swarm-manager" (every
// manager certificate carries it, whatever address we dial).
import { Metadata, status as grpcStatus, type ChannelCredentials, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import {
  DispatcherClient,
  type AssignmentsMessage,
  type AssignmentsRequest,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type SessionMessage,
  type SessionRequest,
  type UpdateTaskStatusRequest,
} from "../../../shared/api/index.js";
import { mutualTlsCredentials, type TlsSource } from "../../../shared/current-tls.js";
import { SwarmError, type ErrorCode } from "../../../shared/errors.js";
import type { DispatcherConnection, StreamHandle, StreamHandlers } from "./types.js";

export interface NodeTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** The name every manager certificate answers to. */
export const MANAGER_SERVER_NAME = "swarm-manager";

/** Mutual TLS from the node's material; a CurrentTls holder gives each new connection the certificate current then. */
export function dispatcherCredentials(tls: NodeTls | TlsSource): ChannelCredentials {
  return mutualTlsCredentials(tls);
}

const STATUS_CODES: Record<number, ErrorCode> = {
  [grpcStatus.CANCELLED]: "CANCELLED",
  [grpcStatus.UNKNOWN]: "UNKNOWN",
  [grpcStatus.INVALID_ARGUMENT]: "INVALID_ARGUMENT",
  [grpcStatus.DEADLINE_EXCEEDED]: "DEADLINE_EXCEEDED",
  [grpcStatus.NOT_FOUND]: "NOT_FOUND",
  [grpcStatus.ALREADY_EXISTS]: "ALREADY_EXISTS",
  [grpcStatus.PERMISSION_DENIED]: "PERMISSION_DENIED",
  [grpcStatus.RESOURCE_EXHAUSTED]: "RESOURCE_EXHAUSTED",
  [grpcStatus.FAILED_PRECONDITION]: "FAILED_PRECONDITION",
  [grpcStatus.ABORTED]: "ABORTED",
  [grpcStatus.OUT_OF_RANGE]: "OUT_OF_RANGE",
  [grpcStatus.UNIMPLEMENTED]: "UNIMPLEMENTED",
  [grpcStatus.INTERNAL]: "INTERNAL",
  [grpcStatus.UNAVAILABLE]: "UNAVAILABLE",
  [grpcStatus.DATA_LOSS]: "DATA_LOSS",
  [grpcStatus.UNAUTHENTICATED]: "UNAUTHENTICATED",
};

/** A grpc-js error as a SwarmError naming the manager and the call. */
export function fromGrpcError(err: ServiceError, target: string, what: string): SwarmError {
  const code = STATUS_CODES[err.code] ?? "UNKNOWN";
  return new SwarmError(code, `dispatcher ${what} at ${target}: ${err.details || err.message}`, { cause: err });
}

export class GrpcDispatcherConnection implements DispatcherConnection {
  readonly target: string;
  readonly nodeId: string;
  private readonly client: DispatcherClient;

  constructor(addr: string, nodeId: string, creds: ChannelCredentials) {
    this.target = addr;
    this.nodeId = nodeId;
    this.client = new DispatcherClient(addr, creds, {
      "grpc.ssl_target_name_override": MANAGER_SERVER_NAME,
      "grpc.default_authority": MANAGER_SERVER_NAME,
      "grpc.max_receive_message_length": 128 * 1024 * 1024,
      // Fail fast on a dead manager so the agent moves on to the next one.
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 1000,
      // Each connection object dials its own connection (credentials are shared
      // across sessions now, and would otherwise let the global pool share one).
      "grpc.use_local_subchannel_pool": 1,
    });
  }

  session(request: SessionRequest, handlers: StreamHandlers<SessionMessage>): StreamHandle {
    return this.stream(this.client.session(request, new Metadata()), handlers, "Session");
  }

  assignments(
    request: AssignmentsRequest,
    handlers: StreamHandlers<AssignmentsMessage>,
  ): StreamHandle {
    return this.stream(this.client.assignments(request, new Metadata()), handlers, "Assignments");
  }

  heartbeat(request: HeartbeatRequest, timeoutMs: number) {
    return new Promise<HeartbeatResponse>((resolve, reject) => {
      this.client.heartbeat(request, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(fromGrpcError(err, this.target, "Heartbeat")) : resolve(res),
      );
    });
  }

  updateTaskStatus(request: UpdateTaskStatusRequest, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.client.updateTaskStatus(request, new Metadata(), { deadline: Date.now() + timeoutMs }, (err) =>
        err ? reject(fromGrpcError(err, this.target, "UpdateTaskStatus")) : resolve(),
      );
    });
  }

  close(): void {
    this.client.close();
  }

  private stream<T>(call: ClientReadableStream<T>, handlers: StreamHandlers<T>, what: string): StreamHandle {
    let ended = false;
    let cancelled = false;
    const end = (error?: Error) => {
      if (ended) return;
      ended = true;
      handlers.onEnd(error);
    };
    call.on("data", (m: T) => {
      if (!ended) handlers.onMessage(m);
    });
    call.on("error", (err: ServiceError) => {
      end(cancelled ? undefined : fromGrpcError(err, this.target, what));
    });
    call.on("end", () => {
      end(cancelled ? undefined : new SwarmError("UNAVAILABLE", `dispatcher ${what} stream at ${this.target} ended`));
    });
    return {
      cancel: () => {
        if (ended) return;
        cancelled = true;
        call.cancel();
        end();
      },
    };
  }
}
