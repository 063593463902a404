// main → agent worker. The agent worker exposes AgentApi on its main port.
import type { LifecycleState, Pong } from "./common.js";
import type { IdentityData } from "./identity.js";

export interface AgentStatus {
  state: LifecycleState;
  hostname: string;
  engineAddr: string;
  /** Whether the local manager answered over the manager↔agent channel. */
  localManagerReachable: boolean;
  /** The dispatcher session (absent before the agent has started). */
  session?: { connected: boolean; manager?: string; sessionId?: string; lastError?: string };
  /** Assigned tasks with their current and desired TaskState values. */
  tasks?: Array<{ id: string; state: number; desiredState: number }>;
  /** The known managers, as in state.json. */
  managers?: Array<{ node_id: string; addr: string }>;
}

export interface AgentApi {
  ping(): Pong;
  status(): Promise<AgentStatus>;
  /** A renewed node certificate: used for the next connections to managers. */
  updateIdentity(tls: IdentityData["tls"]): void;
  /** Stop the agent (session, reconciler); leaves running containers alone. */
  stop(): Promise<void>;
}
