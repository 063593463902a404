// Client side of the control socket, as SwarmKit's swarmctl dials it: gRPC
// over TLS on a unix socket with server verification off (the socket's file
// mode is the access control; the server presents the node certificate).
import { connect as tlsConnect } from "node:tls";
import { credentials, type ChannelCredentials, type ChannelOptions, type MethodDefinition } from "@grpc/grpc-js";
import { ControlClient, ControlService, HealthClient } from "./api/index.js";
import { UnaryGrpcClient } from "./unary-client.js";

/** The name clients give the control socket's server: its certificate says swarm-manager/<node ID>, never "localhost". */
const CONTROL_AUTHORITY = "swarm-manager";

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
  // Verification is off anyway.
  "grpc.ssl_target_name_override": CONTROL_AUTHORITY,
  "grpc.default_authority": CONTROL_AUTHORITY,
  "grpc.max_receive_message_length": 4 * 1024 * 1024,
  "grpc.max_send_message_length": 4 * 1024 * 1024,
  // Per-call channelz bookkeeping; nothing reads it.
  "grpc.enable_channelz": 0,
};

export function connectControl(socketPath: string, options: ChannelOptions = {}): ControlClient {
  return new ControlClient(controlSocketAddress(socketPath), controlClientCredentials(), { ...CONTROL_CLIENT_OPTIONS, ...options });
}

export function connectControlHealth(socketPath: string, options: ChannelOptions = {}): HealthClient {
  return new HealthClient(controlSocketAddress(socketPath), controlClientCredentials(), { ...CONTROL_CLIENT_OPTIONS, ...options });
}

type ControlDefinitions = typeof ControlService;
export type ControlMethod = keyof ControlDefinitions;
export type ControlRequest<M extends ControlMethod> = Parameters<ControlDefinitions[M]["requestSerialize"]>[0];
export type ControlResponse<M extends ControlMethod> = ReturnType<ControlDefinitions[M]["responseDeserialize"]>;

/**
 * Control calls over the lean unary client (unary-client.ts): the same
 * socket, TLS and messages as connectControl's grpc-js client, at about half
 * its CPU per call — for callers that make many calls over one connection.
 */
export class ControlUnaryClient {
  private readonly client: UnaryGrpcClient;

  constructor(socketPath: string) {
    const path = socketPath.startsWith("unix://") ? socketPath.slice("unix://".length) : socketPath;
    this.client = new UnaryGrpcClient({
      authority: CONTROL_AUTHORITY,
      connect: () => tlsConnect({ path, ALPNProtocols: ["h2"], servername: CONTROL_AUTHORITY, rejectUnauthorized: false, checkServerIdentity: () => undefined }),
    });
  }

  async call<M extends ControlMethod>(method: M, request: ControlRequest<M>, timeoutMs?: number): Promise<ControlResponse<M>> {
    const def = ControlService[method] as unknown as MethodDefinition<ControlRequest<M>, ControlResponse<M>>;
    const bytes = await this.client.call(def.path, def.requestSerialize(request), timeoutMs === undefined ? {} : { timeoutMs });
    return def.responseDeserialize(bytes);
  }

  close(): void {
    this.client.close();
  }
}
