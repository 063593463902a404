// Which Control methods this server implements, and which of them write.
// Writes must run on the raft leader: a follower forwards them (or refuses
// them with UNAVAILABLE); reads are answered from the local store.
import type { handleUnaryCall } from "@grpc/grpc-js";
import type { ControlServer } from "../../../shared/api/index.js";

type UnaryOf<K extends keyof ControlServer> =
  ControlServer[K] extends handleUnaryCall<infer Req, infer Res> ? { request: Req; response: Res } : never;

export const READ_METHODS = [
  "getNode",
  "listNodes",
  "getTask",
  "listTasks",
  "getService",
  "listServices",
  "listServiceStatuses",
  "getNetwork",
  "listNetworks",
  "getCluster",
  "listClusters",
  "getSecret",
  "listSecrets",
  "getConfig",
  "listConfigs",
] as const;

export const WRITE_METHODS = [
  "updateNode",
  "removeNode",
  "removeTask",
  "createService",
  "updateService",
  "removeService",
  "createNetwork",
  "removeNetwork",
  "updateCluster",
  "createSecret",
  "updateSecret",
  "removeSecret",
  "createConfig",
  "updateConfig",
  "removeConfig",
] as const;

export type ReadMethod = (typeof READ_METHODS)[number];
export type WriteMethod = (typeof WRITE_METHODS)[number];
export type ImplementedMethod = ReadMethod | WriteMethod;

export type MethodRequest<M extends ImplementedMethod> = UnaryOf<M>["request"];
export type MethodResponse<M extends ImplementedMethod> = UnaryOf<M>["response"];
export type WriteRequest<M extends WriteMethod> = MethodRequest<M>;
export type WriteResponse<M extends WriteMethod> = MethodResponse<M>;

export function isWriteMethod(name: string): name is WriteMethod {
  return (WRITE_METHODS as readonly string[]).includes(name);
}
