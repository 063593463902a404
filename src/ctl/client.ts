// The control API client: gRPC over TLS on the manager's unix socket. As with
// SwarmKit's swarmctl, the server certificate is not verified — the socket's
// file permissions are the access control — and no client certificate is sent.
import { resolve as resolvePath } from "node:path";
import { Metadata, status, type CallOptions, type ClientUnaryCall, type ServiceError } from "@grpc/grpc-js";
import { connectControl } from "../shared/control-client.js";
import {
  type ControlClient,
  CreateConfigRequest, CreateSecretRequest, CreateServiceRequest,
  GetClusterRequest, GetConfigRequest, GetNodeRequest, GetSecretRequest, GetServiceRequest, GetTaskRequest,
  ListClustersRequest, ListConfigsRequest, ListNetworksRequest, ListNodesRequest, ListSecretsRequest,
  ListServicesRequest, ListTasksRequest,
  RemoveConfigRequest, RemoveNodeRequest, RemoveSecretRequest, RemoveServiceRequest, RemoveTaskRequest,
  UpdateClusterRequest, UpdateNodeRequest, UpdateServiceRequest,
  type CreateConfigResponse, type CreateSecretResponse, type CreateServiceResponse,
  type GetClusterResponse, type GetConfigResponse, type GetNodeResponse, type GetSecretResponse,
  type GetServiceResponse, type GetTaskResponse,
  type ListClustersResponse, type ListConfigsResponse, type ListNetworksResponse, type ListNodesResponse,
  type ListSecretsResponse, type ListServicesResponse, type ListTasksResponse,
  type RemoveConfigResponse, type RemoveNodeResponse, type RemoveSecretResponse, type RemoveServiceResponse,
  type RemoveTaskResponse, type UpdateClusterResponse, type UpdateNodeResponse, type UpdateServiceResponse,
} from "../shared/api/index.js";

/** What a request builder accepts: the generated fromPartial's argument (deep-partial). */
type In<C extends { fromPartial(o: never): unknown }> = Parameters<C["fromPartial"]>[0];

/** The Control RPCs swarmctl uses, as promises. Tests substitute fakes. */
export interface ControlApi {
  getNode(r: In<typeof GetNodeRequest>): Promise<GetNodeResponse>;
  listNodes(r: In<typeof ListNodesRequest>): Promise<ListNodesResponse>;
  updateNode(r: In<typeof UpdateNodeRequest>): Promise<UpdateNodeResponse>;
  removeNode(r: In<typeof RemoveNodeRequest>): Promise<RemoveNodeResponse>;
  getTask(r: In<typeof GetTaskRequest>): Promise<GetTaskResponse>;
  listTasks(r: In<typeof ListTasksRequest>): Promise<ListTasksResponse>;
  removeTask(r: In<typeof RemoveTaskRequest>): Promise<RemoveTaskResponse>;
  getService(r: In<typeof GetServiceRequest>): Promise<GetServiceResponse>;
  listServices(r: In<typeof ListServicesRequest>): Promise<ListServicesResponse>;
  createService(r: In<typeof CreateServiceRequest>): Promise<CreateServiceResponse>;
  updateService(r: In<typeof UpdateServiceRequest>): Promise<UpdateServiceResponse>;
  removeService(r: In<typeof RemoveServiceRequest>): Promise<RemoveServiceResponse>;
  getCluster(r: In<typeof GetClusterRequest>): Promise<GetClusterResponse>;
  listClusters(r: In<typeof ListClustersRequest>): Promise<ListClustersResponse>;
  updateCluster(r: In<typeof UpdateClusterRequest>): Promise<UpdateClusterResponse>;
  getSecret(r: In<typeof GetSecretRequest>): Promise<GetSecretResponse>;
  listSecrets(r: In<typeof ListSecretsRequest>): Promise<ListSecretsResponse>;
  createSecret(r: In<typeof CreateSecretRequest>): Promise<CreateSecretResponse>;
  removeSecret(r: In<typeof RemoveSecretRequest>): Promise<RemoveSecretResponse>;
  getConfig(r: In<typeof GetConfigRequest>): Promise<GetConfigResponse>;
  listConfigs(r: In<typeof ListConfigsRequest>): Promise<ListConfigsResponse>;
  createConfig(r: In<typeof CreateConfigRequest>): Promise<CreateConfigResponse>;
  removeConfig(r: In<typeof RemoveConfigRequest>): Promise<RemoveConfigResponse>;
  listNetworks(r: In<typeof ListNetworksRequest>): Promise<ListNetworksResponse>;
  close(): void;
}

/** A failed RPC, carrying the gRPC status; its message is the server's description. */
export class RpcError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = "RpcError";
  }
}

/** The gRPC status of an error thrown by ControlApi, if it is one. */
export function rpcCode(err: unknown): status | undefined {
  return err instanceof RpcError ? err.code : undefined;
}

type UnaryFn<Q, R> = (
  req: Q,
  md: Metadata,
  opts: Partial<CallOptions>,
  cb: (err: ServiceError | null, res: R) => void,
) => ClientUnaryCall;

export interface DialOptions {
  /** Per-call deadline (SwarmKit's swarmctl has none; a hung manager should not hang the CLI forever). */
  callTimeoutMs?: number;
}

/** The gRPC target for a socket path; relative paths resolve against the working directory. */
export function socketTarget(socketPath: string): string {
  return `unix://${resolvePath(socketPath)}`;
}

/** Opens a client on the control socket. Nothing is sent until the first call. */
export function dialControl(socketPath: string, opts: DialOptions = {}): ControlApi {
  // The shared helper sets up TLS without server verification (swarmctl's InsecureSkipVerify)
  // and takes answers up to 128 MiB: large clusters list many tasks.
  const client = connectControl(resolvePath(socketPath));
  const timeout = opts.callTimeoutMs ?? 60_000;

  function unary<Q, R>(name: keyof ControlClient, codec: { fromPartial(o: never): Q }) {
    const fn = client[name] as unknown as UnaryFn<Q, R>;
    return (input: unknown): Promise<R> =>
      new Promise<R>((resolve, reject) => {
        const req = codec.fromPartial(input as never);
        fn.call(client, req, new Metadata(), { deadline: Date.now() + timeout }, (err, res) => {
          if (err) reject(toRpcError(err));
          else resolve(res);
        });
      });
  }

  return {
    getNode: unary("getNode", GetNodeRequest),
    listNodes: unary("listNodes", ListNodesRequest),
    updateNode: unary("updateNode", UpdateNodeRequest),
    removeNode: unary("removeNode", RemoveNodeRequest),
    getTask: unary("getTask", GetTaskRequest),
    listTasks: unary("listTasks", ListTasksRequest),
    removeTask: unary("removeTask", RemoveTaskRequest),
    getService: unary("getService", GetServiceRequest),
    listServices: unary("listServices", ListServicesRequest),
    createService: unary("createService", CreateServiceRequest),
    updateService: unary("updateService", UpdateServiceRequest),
    removeService: unary("removeService", RemoveServiceRequest),
    getCluster: unary("getCluster", GetClusterRequest),
    listClusters: unary("listClusters", ListClustersRequest),
    updateCluster: unary("updateCluster", UpdateClusterRequest),
    getSecret: unary("getSecret", GetSecretRequest),
    listSecrets: unary("listSecrets", ListSecretsRequest),
    createSecret: unary("createSecret", CreateSecretRequest),
    removeSecret: unary("removeSecret", RemoveSecretRequest),
    getConfig: unary("getConfig", GetConfigRequest),
    listConfigs: unary("listConfigs", ListConfigsRequest),
    createConfig: unary("createConfig", CreateConfigRequest),
    removeConfig: unary("removeConfig", RemoveConfigRequest),
    listNetworks: unary("listNetworks", ListNetworksRequest),
    close: () => client.close(),
  };
}

function toRpcError(err: ServiceError): RpcError {
  // grpc-js wraps dial failures ("No connection established. Last error: Error: connect ENOENT …. Resolution note: …").
  const details = (err.details || err.message)
    .replace(/^No connection established\. Last error: (Error: )?/, "")
    .replace(/\. Resolution note:.*$/s, "");
  // SwarmKit's swarmctl shows only the status description, and dial failures as "connection error: …".
  if (err.code === status.UNAVAILABLE) return new RpcError(err.code, `connection error: ${details}`);
  if (err.code === status.DEADLINE_EXCEEDED) return new RpcError(err.code, `context deadline exceeded: ${details}`);
  return new RpcError(err.code, details);
}
