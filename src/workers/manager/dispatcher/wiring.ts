// How a manager runs its Dispatcher, in one call for the manager assembly:
// the service on the remote API (local on the leader, forwarded from
// followers with this manager's own certificate), the leader-only
// start/stop, and the API for the agent of this same process.
import type { Channel } from "@grpc/grpc-js";
import { DispatcherClient, DispatcherService, type Peer } from "../../../shared/api/index.js";
import type { LocalDispatcherApi } from "../../../shared/contracts/index.js";
import type { LeaderConnection } from "../leader-connection.js";
import type { Proposer, MemoryStore } from "../store/index.js";
import { DISPATCHER_POLICIES, MANAGER_ROLE as OU_MANAGER, requestCaller, type RemoteApiServer } from "../remoteapi/index.js";
import { Dispatcher } from "./dispatcher.js";
import { routedEndpoint, type DispatcherEndpoint } from "./endpoint.js";
import { forwardingEndpoint } from "./forwarder.js";
import { dispatcherGrpcServer } from "./grpc-server.js";
import { localDispatcherApi } from "./local-api.js";

export interface ManagerDispatcherOptions {
  store: MemoryStore;
  proposer: Proposer;
  nodeId: string;
  clusterId: string;
  /** This manager's remote API address (recorded for the local agent's calls). */
  advertiseAddr: string;
  /** Raft members as agents should see them. */
  managers: () => Peer[];
  isLeader: () => boolean;
  /** The mutual-TLS connection to the leader when it is another manager. */
  leader: LeaderConnection;
  /** Register the gRPC service here, when the manager has a remote API listener. */
  remote?: RemoteApiServer;
}

export interface ManagerDispatcher {
  readonly dispatcher: Dispatcher;
  readonly endpoint: DispatcherEndpoint;
  /** For ManagerApi/LocalManagerApi: the local agent's calls (leader or forwarded). */
  readonly localApi: LocalDispatcherApi;
  /** A LeaderComponent for Manager.addLeaderComponent. */
  readonly component: { name: string; start(): Promise<void>; stop(): Promise<void> };
  close(): void;
}

export function createManagerDispatcher(o: ManagerDispatcherOptions): ManagerDispatcher {
  const dispatcher = new Dispatcher({ nodeId: o.nodeId, managers: o.managers });
  const leaderChannel = (): Channel | undefined => o.leader.client(DispatcherClient)?.client.getChannel() as Channel | undefined;
  const endpoint = routedEndpoint({ dispatcher, isLeader: o.isLeader, forward: forwardingEndpoint({ leaderChannel }) });
  if (o.remote) {
    o.remote.addService(DispatcherService, dispatcherGrpcServer(endpoint, requestCaller), (m) => DISPATCHER_POLICIES[m] ?? { roles: [OU_MANAGER] });
  }
  // SwarmKit's local requests carry the manager's own identity and address.
  const localApi = localDispatcherApi(endpoint, () => ({
    nodeId: o.nodeId,
    role: OU_MANAGER,
    clusterId: o.clusterId,
    remoteAddr: o.advertiseAddr || "127.0.0.1:0",
  }));
  return {
    dispatcher,
    endpoint,
    localApi,
    component: {
      name: "dispatcher",
      start: () => dispatcher.start(o.store, o.proposer),
      stop: () => dispatcher.stop(),
    },
    close: () => undefined, // the leader connection belongs to the manager
  };
}
