// Public surface of the Docker executor.
export { DockerExecutor } from "./docker-executor.js";
export { DockerClient, type ContainerDetails, type DockerClientOptions, type EventSubscription } from "./docker-client.js";
export { ContainerController, exitErrorMessage, type PrepareResult, type StartResult } from "./container-controller.js";
export { advanceTask, runTask, type TaskStepStatus, type TaskStepResult } from "./task-step.js";
export { TaskState, taskStateName, isTerminalState, type TaskStateName, type TaskStateValue } from "./task-state.js";
export { EngineError, isEngineError, mapEngineError, type EngineErrorReason } from "./engine-errors.js";
export { parseEngineAddr, DEFAULT_ENGINE_ADDR, type EngineEndpoint } from "./engine-address.js";
export {
  taskName,
  containerLabels,
  containerCreateOptions,
  stopTimeoutSeconds,
  DEFAULT_STOP_GRACE_MS,
  SYSTEM_LABEL_PREFIX,
  LABEL_TASK,
  LABEL_TASK_ID,
  LABEL_TASK_NAME,
  LABEL_NODE_ID,
  LABEL_SERVICE_ID,
  LABEL_SERVICE_NAME,
} from "./container-spec.js";
export { TaskFiles, fileTarget, parseId, SECRETS_DIR, CONFIGS_DIR, type TaskFile } from "./task-files.js";
export type * from "./types.js";
