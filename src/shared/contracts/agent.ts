// main → agent worker. The agent worker exposes AgentApi on its main port.
import type { LifecycleState, Pong } from "./common.js";

export interface AgentStatus {
  state: LifecycleState;
  hostname: string;
  engineAddr: string;
  /** Whether the local manager answered over the manager↔agent channel. */
  localManagerReachable: boolean;
}

export interface AgentApi {
  ping(): Pong;
  status(): Promise<AgentStatus>;
  /** Stop the agent (session, reconciler); leaves running containers alone. */
  stop(): Promise<void>;
}
