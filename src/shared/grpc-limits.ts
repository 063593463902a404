// gRPC message limits, the same for every server and client of the daemon.

/** SwarmKit's transport.GRPCMaxMsgSize: the largest message a server takes, and what raft sends. */
export const GRPC_MAX_MSG_SIZE = 4 << 20;

/**
 * The largest answer a client takes. Answers are not capped by the servers
 * (SwarmKit caps requests only), and List answers grow with the cluster:
 * Docker raised its client's limit for them after users hit 4 MiB.
 */
export const CLIENT_MAX_RECEIVE_BYTES = 128 << 20;
