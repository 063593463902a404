// Everything a manager needs to run raft over the network, in one object:
// the transport to its peers, the Raft and RaftMembership services on its
// remote API listener, and the client side of joining an existing cluster.
import { Metadata, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";
import type { ServerSurfaceCall } from "@grpc/grpc-js/build/src/server-call.js";
import { RaftMembershipService, RaftService, type JoinResponse } from "../../../../shared/api/index.js";
import { SwarmError, errorMessage } from "../../../../shared/errors.js";
import { getLogger } from "../../../../shared/logging.js";
import { RAFT_MEMBERSHIP_POLICIES, RAFT_POLICIES, policyFromTable } from "../../remoteapi/policies.js";
import type { AuthorizationPolicy, Caller } from "../../remoteapi/caller.js";
import { MembershipService } from "../membership-service.js";
import type { JoinInfo, RaftNode } from "../raft-node.js";
import type { TlsSource } from "../../../../shared/current-tls.js";
import { dialRaftMembership } from "./dial.js";
import { RaftMessageService } from "./raft-service.js";
import { GrpcRaftTransport } from "./transport.js";

const log = getLogger("raft/network");

/** SwarmKit's reqTimeout for the Join call (5 s + 2 × ElectionTick × 1 s tick). */
export const JOIN_TIMEOUT_MS = 25_000;

/** The part of the remote API server this needs (RemoteApiServer implements it). */
export interface ServiceRegistry {
  addService(definition: ServiceDefinition, implementation: UntypedServiceImplementation, policyFor: (method: string) => AuthorizationPolicy): void;
}

export interface RaftNetworkOptions {
  /** This manager's TLS material; a CurrentTls holder makes renewals reach new connections. */
  tls: TlsSource;
  /** Where Raft and RaftMembership are served (the remote API listener). */
  remote: ServiceRegistry;
  /** The authorised caller of a call (remoteapi's requestCaller). */
  callerOf: (call: ServerSurfaceCall) => Caller | undefined;
}

export class RaftNetwork {
  readonly transport: GrpcRaftTransport;
  private node: RaftNode | undefined;
  private readonly raftService: RaftMessageService;

  constructor(private readonly opts: RaftNetworkOptions) {
    this.transport = new GrpcRaftTransport({ tls: opts.tls });
    this.raftService = new RaftMessageService({ node: () => this.node });
    const membership = new MembershipService({ node: () => this.node, callerOf: opts.callerOf, credentials: this.transport.credentials });
    opts.remote.addService(
      RaftService,
      this.raftService.handlers() as unknown as UntypedServiceImplementation,
      policyFromTable(RAFT_POLICIES, "Raft"),
    );
    opts.remote.addService(
      RaftMembershipService,
      membership.handlers() as unknown as UntypedServiceImplementation,
      policyFromTable(RAFT_MEMBERSHIP_POLICIES, "RaftMembership"),
    );
  }

  /** The raft node the services step messages into (undefined: drop them). */
  setNode(node: RaftNode | undefined): void {
    this.node = node;
  }

  /**
   * Asks the manager at `joinAddr` (any member: a follower forwards to the
   * leader) to add this node, advertised at `advertiseAddr`. The answer
   * starts the raft node in join mode.
   */
  async join(joinAddr: string, advertiseAddr: string, timeoutMs = JOIN_TIMEOUT_MS): Promise<JoinInfo> {
    const client = dialRaftMembership(joinAddr, this.transport.credentials);
    try {
      const res = await new Promise<JoinResponse>((resolve, reject) =>
        client.join({ addr: advertiseAddr }, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, r) => (err ? reject(err) : resolve(r))),
      );
      log.info({ joinAddr, raftId: res.raftId.toString(16), members: res.members.length }, "joined the raft cluster");
      return { raftId: res.raftId, members: res.members.map((m) => ({ raftId: m.raftId, nodeId: m.nodeId, addr: m.addr })) };
    } catch (err) {
      const details = (err as { details?: unknown }).details;
      throw new SwarmError("UNAVAILABLE", `can't initialize raft node: joining the raft cluster through ${joinAddr} failed: ${typeof details === "string" ? details : errorMessage(err)}`, {
        cause: err,
      });
    } finally {
      client.close();
    }
  }

  /** Stops serving raft (incoming streams end) and closes the connections to peers. */
  async close(): Promise<void> {
    this.node = undefined;
    this.raftService.close();
    await this.transport.close();
  }
}
