// How a manager runs its Dispatcher, in one call for the manager assembly:
// the service on the remote API (local on the leader, forwarded from
// followers with this manager's own certificate), the leader-only
// start/stop, and the API for the agent of this same process.
import { credentials, type Channel } from "@grpc/grpc-js";
import { DispatcherClient, DispatcherService, type Peer } from "../../../shared/api/index.js";
import type { LocalDispatcherApi } from "../../../shared/contracts/index.js";
import { MANAGER_ROLE } from "../../../shared/pki/index.js";
import type { Proposer, MemoryStore } from "../store/index.js";
import { DISPATCHER_POLICIES, MANAGER_ROLE as OU_MANAGER, requestCaller, type RemoteApiServer, type ServerTls } from "../remoteapi/index.js";
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
  /** The leader's remote API address when it is another manager. */
  leaderRemoteAddr: () => string | undefined;
  tls: () => ServerTls;
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
  let link: { addr: string; client: DispatcherClient } | undefined;
  const leaderChannel = (): Channel | undefined => {
    const addr = o.leaderRemoteAddr();
    if (!addr) return undefined;
    if (link?.addr !== addr) {
      link?.client.close();
      const t = o.tls();
      const creds = credentials.createSsl(Buffer.from(t.caPem), Buffer.from(t.keyPem), Buffer.from(t.certPem));
      link = { addr, client: new DispatcherClient(addr, creds, { "grpc.ssl_target_name_override": MANAGER_ROLE }) };
    }
    return link.client.getChannel() as Channel;
  };
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
    close: () => link?.client.close(),
  };
}
