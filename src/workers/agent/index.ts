// Agent worker entry. For now a lifecycle only (start, stop, status); the
// dispatcher session, task reconciliation and the Docker executor plug in
// here. Stopping the agent never touches running containers: a restarted
// agent adopts them.
import { workerData } from "node:worker_threads";
import { connectApi, exposeApi } from "../../shared/channel/index.js";
import { freezeConfig } from "../../shared/config.js";
import {
  TEST_CRASH_ENV,
  type AgentApi,
  type AgentBootData,
  type LifecycleState,
  type LocalManagerApi,
} from "../../shared/contracts/index.js";
import { errorMessage } from "../../shared/errors.js";
import { getLogger, initLogging } from "../../shared/logging.js";

const boot = workerData as AgentBootData;
const config = freezeConfig(boot.config);
initLogging(config.logLevel, "agent");
const log = getLogger("agent");

/** Local calls are fast; a slow answer means the manager thread is stuck. */
const LOCAL_CALL_TIMEOUT_MS = 2000;

const localManager = connectApi<LocalManagerApi>(boot.managerPort, { peer: "manager", timeoutMs: LOCAL_CALL_TIMEOUT_MS });
let state: LifecycleState = "starting";

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
    };
  },
  async stop() {
    if (state === "stopped") return;
    state = "stopping";
    localManager.close();
    state = "stopped";
    log.info("agent stopped");
  },
};

exposeApi(agentApi, boot.mainPort);
state = "running";
log.info({ hostname: config.hostname, engineAddr: config.engineAddr }, "agent started");

if (process.env[TEST_CRASH_ENV] === "agent") {
  setTimeout(() => {
    throw new Error(`induced crash for tests (${TEST_CRASH_ENV}=agent)`);
  }, 200);
}

process.on("unhandledRejection", (reason) => {
  throw reason instanceof Error ? reason : new Error(`unhandled rejection: ${errorMessage(reason)}`);
});
