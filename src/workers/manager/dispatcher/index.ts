// The Dispatcher service: see docs/dispatcher.md.
export { Dispatcher, hostOf, type DispatcherOptions, type DispatcherClusterConfig, type SessionCallOptions } from "./dispatcher.js";
export { systemClock, type Clock, type Timer } from "./clock.js";
export type { StreamSink } from "./streams.js";
export { localEndpoint, routedEndpoint, type DispatcherEndpoint, type RoutedEndpointOptions } from "./endpoint.js";
export { dispatcherGrpcServer, type IdentityOf } from "./grpc-server.js";
export { localDispatcherApi } from "./local-api.js";
export { forwardingEndpoint, grpcCodeName, NO_LEADER_MESSAGE, type ForwarderOptions } from "./forwarder.js";
export * from "./constants.js";
export { createManagerDispatcher, type ManagerDispatcher, type ManagerDispatcherOptions } from "./wiring.js";
