// The benchmarks' lean control-socket client: Control calls over the unary
// gRPC client in unary-client.ts, with the same socket, TLS (verification
// off), :authority and messages as swarmctl's grpc-js client, at about half
// its CPU per call. swarmd and swarmctl use grpc-js, as the design asks; this
// exists so that a benchmark's figures measure the server, not the client.
import { connect as tlsConnect } from "node:tls";
import type { MethodDefinition } from "@grpc/grpc-js";
import { ControlService } from "../../src/shared/api/index.js";
import { UnaryGrpcClient } from "./unary-client.js";

/** What swarmctl's grpc-js client calls the server (grpc.default_authority, TLS server name). */
const CONTROL_AUTHORITY = "swarm-manager";

type ControlDefinitions = typeof ControlService;
export type ControlMethod = keyof ControlDefinitions;
export type ControlRequest<M extends ControlMethod> = Parameters<ControlDefinitions[M]["requestSerialize"]>[0];
export type ControlResponse<M extends ControlMethod> = ReturnType<ControlDefinitions[M]["responseDeserialize"]>;

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
