// What main hands each worker in workerData at spawn. Ports are transferred.
import type { MessagePort } from "node:worker_threads";
import type { NodeConfig } from "../config.js";
import type { IdentityData } from "./identity.js";

export interface ManagerBootData {
  /** Plain clone of the frozen NodeConfig (freeze it again on arrival). */
  config: NodeConfig;
  /** The node's TLS identity (the root CA key only on a bootstrapping node). */
  identity: IdentityData;
  /** The role flag's buffer (RoleFlag.attach). */
  roleBuffer: SharedArrayBuffer;
  /** Serves ManagerApi to main. */
  mainPort: MessagePort;
  /** Serves LocalManagerApi to the agent worker. */
  agentPort: MessagePort;
}

export interface AgentBootData {
  config: NodeConfig;
  /** The node's TLS identity, without the root CA key. */
  identity: IdentityData;
  roleBuffer: SharedArrayBuffer;
  /** Serves AgentApi to main. */
  mainPort: MessagePort;
  /** Connects to the manager worker's LocalManagerApi. */
  managerPort: MessagePort;
}

/**
 * Test-only hook: a worker whose name is in this variable throws an uncaught
 * error shortly after start, so tests can exercise crash handling.
 */
export const TEST_CRASH_ENV = "SWARMD_TEST_CRASH";
