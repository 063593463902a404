// Typed contracts between the three threads. Each port carries one
// direction: main→manager (ManagerApi), main→agent (AgentApi),
// agent→manager (LocalManagerApi). Extend by adding methods here.
export type { Pong, LifecycleState, NodeRole } from "./common.js";
export type { ManagerApi, ManagerStatus, ManagerServicesStatus } from "./manager.js";
export type { AgentApi, AgentStatus, AgentNodeEvent, AgentNodeEventSink } from "./agent.js";
export type { LocalManagerApi } from "./local-manager.js";
export type { LocalDispatcherApi, DispatcherStreamSink, StreamEndError } from "./local-dispatcher.js";

export type { ManagerBootData, AgentBootData } from "./boot.js";
export { TEST_CRASH_ENV } from "./boot.js";
export type { IdentityData } from "./identity.js";
