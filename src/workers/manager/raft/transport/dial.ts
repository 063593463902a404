// Client connections from one manager to another's remote API: mutual TLS
// with this node's certificate and the cluster root CA. Node certificates
// carry DNS SANs [role, node ID], not addresses, so the expected server name
// is the manager role (as SwarmKit's own dialer does).
import type { ChannelCredentials, ChannelOptions } from "@grpc/grpc-js";
import { RaftClient, RaftMembershipClient } from "../../../../shared/api/index.js";
import { mutualTlsCredentials, type TlsSource } from "../../../../shared/current-tls.js";
import { MANAGER_ROLE } from "../../remoteapi/caller.js";
import { GRPC_MAX_MSG_SIZE } from "../../../../shared/grpc-limits.js";

export interface PeerTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** Reconnect backoff ceiling (SwarmKit's dial backoff max). */
export const MAX_BACKOFF_MS = 8000;

/**
 * Client credentials for raft and membership calls. Given the worker's
 * CurrentTls, every new connection (a first dial or a reconnect) presents
 * the certificate current at its handshake, so a renewal reaches raft too.
 */
export function peerCredentials(tls: PeerTls | TlsSource): ChannelCredentials {
  return mutualTlsCredentials(tls);
}

export function peerChannelOptions(): ChannelOptions {
  return {
    "grpc.ssl_target_name_override": MANAGER_ROLE,
    "grpc.default_authority": MANAGER_ROLE,
    "grpc.max_send_message_length": GRPC_MAX_MSG_SIZE,
    "grpc.max_receive_message_length": GRPC_MAX_MSG_SIZE,
    // grpc-js's own reconnect backoff grows to 120 s by default; a manager
    // coming back must be reached within our own backoff ceiling.
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": MAX_BACKOFF_MS,
    "grpc.keepalive_time_ms": 10_000,
    "grpc.keepalive_timeout_ms": 5_000,
    // One connection per peer client, never shared with another client's channel.
    "grpc.use_local_subchannel_pool": 1,
    // channelz bookkeeping is per message on the raft stream; nothing reads it.
    "grpc.enable_channelz": 0,
  };
}

export function dialRaft(addr: string, creds: ChannelCredentials): RaftClient {
  return new RaftClient(addr, creds, peerChannelOptions());
}

export function dialRaftMembership(addr: string, creds: ChannelCredentials): RaftMembershipClient {
  return new RaftMembershipClient(addr, creds, peerChannelOptions());
}
