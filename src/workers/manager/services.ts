// The seam between the manager worker's role loop and what a manager runs.
// startManagerServices() is called when the node becomes a manager and the
// returned stop() when it stops being one (or swarmd stops): it binds the
// remote API listener, then starts the Manager (raft + store + control API +
// leader components); stop() undoes it in reverse.
import { setLogger } from "@grpc/grpc-js";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { formatHostPort, type NodeConfig } from "../../shared/config.js";
import type { IdentityData, ManagerServicesStatus } from "../../shared/contracts/index.js";
import type { CurrentTls } from "../../shared/current-tls.js";
import { getLogger } from "../../shared/logging.js";
import { knownManagerAddrs } from "./known-managers.js";
import { Manager } from "./manager.js";
import { RemoteApiServer, advertiseAddress, storeClusterView, type ClusterAuthView } from "./remoteapi/index.js";
import type { MemoryStore } from "./store/index.js";

const log = getLogger("manager-services");

// grpc-js prints its own lines to stderr ("E No address added ..."). Route
// them into our logger at debug: the errors that matter reach us as values.
const grpcLog = getLogger("grpc");
const toDebug = (...parts: unknown[]) => grpcLog.debug(parts.map(String).join(" "));
setLogger({ error: toDebug, info: toDebug, debug: toDebug } as Partial<Console> as Console);

export interface ManagerContext {
  readonly config: NodeConfig;
  readonly identity: IdentityData;
  /** The worker's live TLS material: renewals update it and every endpoint reads it per handshake. */
  readonly tls: CurrentTls;
}

export interface ManagerServices {
  readonly status: ManagerServicesStatus;
  readonly manager: Manager;
  /** Stop everything started, in reverse order. Never throws. */
  stop(): Promise<void>;
}

export async function startManagerServices(ctx: ManagerContext): Promise<ManagerServices> {
  const { config, identity, tls } = ctx;
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        log.warn({ err }, "stopping a manager service failed");
      }
    }
  };
  try {
    await mkdir(join(config.stateDir, "raft"), { recursive: true, mode: 0o700 });

    // The remote API listens first (a port in use fails start-up early); the
    // manager registers its services on it. Authorization reads the removed
    // nodes from the manager's store once it exists.
    let manager: Manager | undefined;
    const remoteServer = new RemoteApiServer({
      listen: config.listenRemoteApi,
      tls,
      cluster: lateClusterView(identity.clusterId, () => manager?.store),
    });
    // An address that is not on any interface yet (the host's network is
    // still coming up) does not stop a manager with a fixed port: it runs
    // without its remote API and binds as soon as the address exists. Its
    // advertised (raft) address is the configured one from the start.
    const listen = config.listenRemoteApi;
    const bound = listen.port !== 0 ? await remoteServer.startOrDefer() : await remoteServer.start();
    stops.push(() => remoteServer.stop());
    const advertiseAddr = formatHostPort(advertiseAddress(bound ?? listen, config.advertiseRemoteApi));

    manager = await Manager.start({
      config,
      identity,
      tls,
      advertiseAddr,
      remote: remoteServer,
      joinCandidates: () => knownManagerAddrs(config.stateDir, identity.nodeId),
    });
    const started = manager;
    stops.push(() => started.stop());

    const status = (): ManagerServicesStatus => ({
      controlSocket: config.listenControlApi,
      remoteApi: remoteServer.isBound ? remoteServer.address : listen,
      ...(remoteServer.isBound ? {} : { remoteApiPending: true }),
    });
    log.info(
      { controlSocket: config.listenControlApi, remoteApi: formatHostPort(bound ?? listen), remoteApiBound: bound !== undefined, advertise: advertiseAddr },
      "manager services started",
    );
    return {
      get status() {
        return status();
      },
      manager: started,
      stop: async () => {
        await stopAll();
        log.info("manager services stopped");
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Authorization's cluster view before and after the manager's store exists. */
function lateClusterView(clusterId: string, store: () => MemoryStore | undefined): ClusterAuthView {
  return {
    id: clusterId,
    isRemoved: (nodeId) => {
      const s = store();
      return s !== undefined && storeClusterView(s, clusterId).isRemoved(nodeId);
    },
  };
}

export { advertiseAddress };
