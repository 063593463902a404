// The manager's Control API (docs/control-api.md).
export { ControlApi, type ControlApiOptions } from "./control-api.js";
export { startControlServer, CONTROL_HEALTH_SERVICE, type ControlServerOptions, type RunningControlServer } from "./server.js";
export { canRemoveMember, type ControlBackend, type RaftMemberInfo } from "./backend.js";
export {
  READ_METHODS,
  WRITE_METHODS,
  isWriteMethod,
  type ReadMethod,
  type WriteMethod,
  type WriteRequest,
  type WriteResponse,
  type MethodRequest,
  type MethodResponse,
} from "./methods.js";
export { NO_LEADER_TEXT, toStatus } from "./errors.js";
export { withSafeDecoders } from "./request-decode.js";
export { redactCluster } from "./clusters.js";
export { DEFAULT_CLUSTER_NAME } from "../store/index.js";
export { redactSecret, MAX_SECRET_SIZE, MAX_CONFIG_SIZE } from "./secrets.js";
export { MAX_REPLICAS } from "./validate-service.js";
