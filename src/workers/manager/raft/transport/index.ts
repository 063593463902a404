// Raft between managers over gRPC: transport, Raft service, join client.
export { GrpcRaftTransport, type GrpcTransportOptions } from "./transport.js";
export { RaftMessageService, raftServiceHandlers, type RaftServiceOptions } from "./raft-service.js";
export { peerCredentials, peerChannelOptions, dialRaft, dialRaftMembership, MAX_BACKOFF_MS, type PeerTls } from "./dial.js";
export { toWireMessage, fromWireMessage } from "./convert.js";
export { splitSnapshot, SnapshotAssembler } from "./snapshot-chunks.js";
export { isMemberRemovedError, DEFAULT_PEER_OPTIONS, type PeerOptions } from "./peer.js";
export { RaftNetwork, JOIN_TIMEOUT_MS, type RaftNetworkOptions, type ServiceRegistry } from "./network.js";
