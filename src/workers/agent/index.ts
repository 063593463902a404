// Agent worker entry: builds the Docker executor and the Agent (session,
// reconciler, task DB) from the boot data and serves AgentApi to main.
// Stopping the agent never touches running containers: a restarted agent
// adopts them.
import { statSync } from "node:fs";
import { join } from "node:path";
import { workerData } from "node:worker_threads";
import { connectApi, exposeApi } from "../../shared/channel/index.js";
import { freezeConfig, formatHostPort } from "../../shared/config.js";
import {
  TEST_CRASH_ENV,
  type AgentApi,
  type AgentBootData,
  type AgentNodeEventSink,
  type LifecycleState,
  type LocalDispatcherApi,
  type LocalManagerApi,
} from "../../shared/contracts/index.js";
import { Agent } from "./agent.js";
import { LocalDispatcherConnection } from "./connection/local-connection.js";
import { DockerExecutor } from "./executor/index.js";
import { CurrentTls } from "../../shared/current-tls.js";
import { errorMessage } from "../../shared/errors.js";
import { getLogger, initLogging } from "../../shared/logging.js";

const boot = workerData as AgentBootData;
const config = freezeConfig(boot.config);
initLogging(config.logLevel, "agent");
const log = getLogger("agent");

/** Local calls are fast; a slow answer means the manager thread is stuck. */
const LOCAL_CALL_TIMEOUT_MS = 2000;

// The manager worker serves the local dispatcher on the same port as LocalManagerApi.
const localManager = connectApi<LocalManagerApi & LocalDispatcherApi>(boot.managerPort, {
  peer: "manager",
  timeoutMs: LOCAL_CALL_TIMEOUT_MS,
  // Dispatcher calls may wait for a store commit; the agent bounds them itself (5 s).
  methodTimeoutsMs: { dispatcherSession: 10_000, dispatcherAssignments: 10_000, dispatcherHeartbeat: 10_000, dispatcherUpdateTaskStatus: 10_000 },
});
let state: LifecycleState = "starting";

/**
 * Secret and config files live on a tmpfs when the host has one (/dev/shm),
 * so secret data is never written to a disk; else under the state dir.
 */
function taskFilesRoot(): string {
  try {
    if (statSync("/dev/shm").isDirectory()) return join("/dev/shm", "swarmkit-ts", boot.identity.nodeId);
  } catch {
    // no /dev/shm on this host
  }
  return join(config.stateDir, "worker", "files");
}

/** Main's listeners for role changes and removal (Comlink proxies). */
const nodeSinks = new Set<AgentNodeEventSink>();

/** The node's TLS material as renewals leave it: each new dispatcher connection presents the current certificate. */
const liveTls = new CurrentTls(boot.identity.tls);

const agent = new Agent({
  nodeId: boot.identity.nodeId,
  tls: liveTls,
  stateDir: config.stateDir,
  executor: new DockerExecutor(config.engineAddr, { filesRoot: taskFilesRoot() }),
  hostname: config.hostname,
  genericResources: config.genericNodeResources,
  ...(config.joinAddr ? { extraManagers: [formatHostPort(config.joinAddr)] } : {}),
  onNodeEvent: (e) => {
    for (const sink of nodeSinks) {
      Promise.resolve(sink.event(e)).catch(() => nodeSinks.delete(sink));
    }
  },
  // On a manager host the session goes to this process's own manager.
  localDispatcher: async () => {
    if (localManager.isClosed() || (await localManager.api.role()) !== "manager") return undefined;
    await localManager.api.requireManager();
    return new LocalDispatcherConnection(localManager.api, boot.identity.nodeId);
  },
});

async function localManagerReachable(): Promise<boolean> {
  try {
    await localManager.api.ping();
    return true;
  } catch {
    return false;
  }
}

const agentApi: AgentApi = {
  ping: () => ({ thread: "agent", at: Date.now() }),
  async status() {
    return {
      state,
      hostname: config.hostname,
      engineAddr: config.engineAddr,
      localManagerReachable: await localManagerReachable(),
      ...agent.status(),
    };
  },
  updateIdentity(tls) {
    Object.assign(boot.identity.tls, tls);
    if (liveTls.update(tls)) log.info({ version: liveTls.version }, "renewed node certificate in use for new manager connections");
  },
  watchNode(sink) {
    nodeSinks.add(sink);
    if (agent.lastNodeEvent) void Promise.resolve(sink.event(agent.lastNodeEvent)).catch(() => nodeSinks.delete(sink));
  },
  async stop() {
    if (state === "stopped") return;
    state = "stopping";
    await agent.stop();
    localManager.close();
    state = "stopped";
    log.info("agent stopped");
  },
};

exposeApi(agentApi, boot.mainPort);
agent.start().then(
  () => {
    if (state === "starting") state = "running";
    log.info({ hostname: config.hostname, engineAddr: config.engineAddr }, "agent started");
  },
  (err: unknown) => {
    // Without its task DB the agent cannot run tasks safely: die, main stops the node.
    throw new Error(`agent failed to start: ${errorMessage(err)}`, { cause: err });
  },
);

if (process.env[TEST_CRASH_ENV] === "agent") {
  setTimeout(() => {
    throw new Error(`induced crash for tests (${TEST_CRASH_ENV}=agent)`);
  }, 200);
}

process.on("unhandledRejection", (reason) => {
  throw reason instanceof Error ? reason : new Error(`unhandled rejection: ${errorMessage(reason)}`);
});
