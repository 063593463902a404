// main → agent worker. The agent worker exposes AgentApi on its main port.
import type { LifecycleState, NodeRole, Pong } from "./common.js";
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

/**
 * What the agent learns from its dispatcher session that main must act on
 * (agent → main, through a sink main passes to watchNode()).
 *  - "node": this node's roles as the managers see them, sent on every
 *    change: `role` is what the CA signs into a renewed certificate,
 *    `desiredRole` what an operator asked for (promote/demote).
 *  - "removed": the cluster refuses this node's certificate (the node was
 *    removed); it can only come back with a new state dir and a join token.
 */
export type AgentNodeEvent =
  | { kind: "node"; role: NodeRole; desiredRole: NodeRole }
  | { kind: "removed"; message: string };

export interface AgentNodeEventSink {
  event(e: AgentNodeEvent): void;
}

export interface AgentApi {
  ping(): Pong;
  status(): Promise<AgentStatus>;
  /** A renewed node certificate: used for the next connections to managers. */
  updateIdentity(tls: IdentityData["tls"]): void;
  /** Main's sink for AgentNodeEvents (pass it wrapped in Comlink.proxy). The last known "node" event is sent at once. */
  watchNode(sink: AgentNodeEventSink): void;
  /** Stop the agent (session, reconciler); leaves running containers alone. */
  stop(): Promise<void>;
}
