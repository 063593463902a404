// Client side of the control socket, as SwarmKit's swarmctl dials it: gRPC
// over TLS on a unix socket with server verification off (the socket's file
// mode is the access control; the server presents the node certificate).
import { credentials, type ChannelCredentials, type ChannelOptions } from "@grpc/grpc-js";
import { ControlClient, HealthClient } from "./api/index.js";
import { CLIENT_MAX_RECEIVE_BYTES, GRPC_MAX_MSG_SIZE } from "./grpc-limits.js";

/** TLS that accepts whatever certificate the control socket presents. */
export function controlClientCredentials(): ChannelCredentials {
  return credentials.createSsl(null, null, null, {
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
  });
}

/** grpc-js address of a unix socket path. */
export function controlSocketAddress(socketPath: string): string {
  return socketPath.startsWith("unix:") ? socketPath : `unix://${socketPath}`;
}

/** The channel options swarmctl's client uses (exported for benchmarks that build their own client). */
export const CONTROL_CLIENT_OPTIONS: ChannelOptions = {
  // The certificate names swarm-manager/<node ID>, never "localhost"; verification is off anyway.
  "grpc.ssl_target_name_override": "swarm-manager",
  "grpc.default_authority": "swarm-manager",
  "grpc.max_receive_message_length": CLIENT_MAX_RECEIVE_BYTES,
  // No request the server would refuse leaves.
  "grpc.max_send_message_length": GRPC_MAX_MSG_SIZE,
  // Per-call channelz bookkeeping; nothing reads it.
  "grpc.enable_channelz": 0,
};

export function connectControl(socketPath: string, options: ChannelOptions = {}): ControlClient {
  return new ControlClient(controlSocketAddress(socketPath), controlClientCredentials(), { ...CONTROL_CLIENT_OPTIONS, ...options });
}

export function connectControlHealth(socketPath: string, options: ChannelOptions = {}): HealthClient {
  return new HealthClient(controlSocketAddress(socketPath), controlClientCredentials(), { ...CONTROL_CLIENT_OPTIONS, ...options });
}
