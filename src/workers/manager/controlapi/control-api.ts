// The Control service: SwarmKit's docker.swarmkit.v1.Control handlers over
// a ControlBackend. Reads are answered from the local store on any manager;
// writes run on the leader, are forwarded to it from a follower, and fail
// fast with UNAVAILABLE when no manager leads. Methods we do not implement
// answer UNIMPLEMENTED.
import { status as Status, type MethodDefinition, type sendUnaryData, type ServerUnaryCall, type UntypedHandleCall } from "@grpc/grpc-js";
import { ControlService, type ControlServer } from "../../../shared/api/index.js";
import { SwarmError } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import type { ControlBackend } from "./backend.js";
import * as clusters from "./clusters.js";
import type { HandlerContext } from "./context.js";
import { NO_LEADER_TEXT, toServiceError, toStatus } from "./errors.js";
import {
  isWriteMethod,
  READ_METHODS,
  WRITE_METHODS,
  type ImplementedMethod,
  type MethodRequest,
  type MethodResponse,
  type WriteMethod,
} from "./methods.js";
import * as networks from "./networks.js";
import * as nodes from "./nodes.js";
import { badRequestMessage, RawWrite, withRawWrites } from "./request-decode.js";
import * as secrets from "./secrets.js";
import * as services from "./services.js";
import * as tasks from "./tasks.js";

const log = getLogger("controlapi");

/** Control's definition as the control socket serves it: writes undecoded, encoded answers passed through. */
export const RAW_CONTROL = withRawWrites(ControlService, isWriteMethod);

/** A failed call, logged once whichever way it came: an internal failure as an error, a refusal at debug. */
function logFailure(method: string, err: unknown): void {
  const s = toStatus(err, method);
  if (s.code === Status.INTERNAL || s.code === Status.UNKNOWN) log.error({ method, err }, "control API call failed");
  else log.debug({ method, code: s.code, details: s.details }, "control API call refused");
}

type Handler<M extends ImplementedMethod> = (
  ctx: HandlerContext,
  req: MethodRequest<M>,
) => MethodResponse<M> | Promise<MethodResponse<M>>;

const HANDLERS: { [M in ImplementedMethod]: Handler<M> } = {
  getNode: nodes.getNode,
  listNodes: nodes.listNodes,
  updateNode: nodes.updateNode,
  removeNode: nodes.removeNode,
  getTask: tasks.getTask,
  listTasks: tasks.listTasks,
  removeTask: tasks.removeTask,
  getService: services.getService,
  listServices: services.listServices,
  createService: services.createService,
  updateService: services.updateService,
  removeService: services.removeService,
  listServiceStatuses: services.listServiceStatuses,
  getNetwork: networks.getNetwork,
  listNetworks: networks.listNetworks,
  createNetwork: networks.createNetwork,
  removeNetwork: networks.removeNetwork,
  getCluster: clusters.getCluster,
  listClusters: clusters.listClusters,
  updateCluster: clusters.updateCluster,
  getSecret: secrets.getSecret,
  updateSecret: secrets.updateSecret,
  listSecrets: secrets.listSecrets,
  createSecret: secrets.createSecret,
  removeSecret: secrets.removeSecret,
  getConfig: secrets.getConfig,
  updateConfig: secrets.updateConfig,
  listConfigs: secrets.listConfigs,
  createConfig: secrets.createConfig,
  removeConfig: secrets.removeConfig,
};

const UNIMPLEMENTED_METHODS = [
  "getExtension",
  "createExtension",
  "removeExtension",
  "getResource",
  "updateResource",
  "listResources",
  "createResource",
  "removeResource",
  "createVolume",
  "getVolume",
  "updateVolume",
  "listVolumes",
  "removeVolume",
] as const;

export interface ControlApiOptions {
  /** Clock for update statuses and blacklist expiry (default: Date). */
  now?: () => Date;
}

/** Direct (in-process) calls with the same semantics as the gRPC handlers, for the lead's wiring and tests. */
export class ControlApi {
  private readonly ctx: HandlerContext;

  constructor(
    private readonly backend: ControlBackend,
    options: ControlApiOptions = {},
  ) {
    this.ctx = { backend, now: options.now ?? (() => new Date()) };
  }

  /** Serve one call: forward or refuse writes off the leader, run the handler otherwise. */
  async call<M extends ImplementedMethod>(method: M, request: MethodRequest<M>): Promise<MethodResponse<M>> {
    const bad = badRequestMessage(request);
    if (bad !== undefined) throw new SwarmError("INVALID_ARGUMENT", bad);
    if (isWriteMethod(method) && !this.backend.isLeader()) {
      return (await this.forward(method, request as MethodRequest<WriteMethod>)) as MethodResponse<M>;
    }
    return await HANDLERS[method](this.ctx, request);
  }

  /** A write a follower relayed (ControlForwarder): served, and a failure logged, as the same call on the control socket would be; the answer encoded. */
  async relayed(method: WriteMethod, request: Buffer): Promise<Buffer> {
    const def = RAW_CONTROL[method] as MethodDefinition<unknown, unknown>;
    try {
      return def.responseSerialize(await this.serve(method, def.requestDeserialize(request)));
    } catch (err) {
      logFailure(method, err);
      throw err;
    }
  }

  /** A call off the wire: a RawWrite on a follower goes to the leader as bytes, anything else through call(). */
  private serve(method: ImplementedMethod, request: unknown): Promise<unknown> {
    if (!(request instanceof RawWrite)) return this.call(method, request as MethodRequest<typeof method>);
    if (isWriteMethod(method) && !this.backend.isLeader() && this.backend.forwardRaw) {
      if (!this.backend.hasLeader()) return Promise.reject(new SwarmError("UNAVAILABLE", NO_LEADER_TEXT));
      return this.backend.forwardRaw(method, request.bytes);
    }
    return this.call(method, request.decode() as MethodRequest<typeof method>);
  }

  private async forward<M extends WriteMethod>(method: M, request: MethodRequest<M>): Promise<MethodResponse<M>> {
    if (!this.backend.hasLeader()) throw new SwarmError("UNAVAILABLE", NO_LEADER_TEXT);
    if (!this.backend.forward) {
      throw new SwarmError("UNAVAILABLE", "this manager is not the leader and cannot forward writes to the leader");
    }
    return await this.backend.forward(method, request);
  }

  /** grpc-js handlers for ControlService. */
  handlers(): ControlServer {
    const out: Record<string, UntypedHandleCall> = {};
    for (const method of [...READ_METHODS, ...WRITE_METHODS]) {
      out[method] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        this.serve(method, call.request).then(
          (response) => callback(null, response),
          (err: unknown) => {
            logFailure(method, err);
            callback(toServiceError(err, method));
          },
        );
      };
    }
    for (const method of UNIMPLEMENTED_METHODS) {
      out[method] = (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        callback(toServiceError(new SwarmError("UNIMPLEMENTED", `Control.${method} is not implemented by this manager`), method));
      };
    }
    return out as unknown as ControlServer;
  }
}
