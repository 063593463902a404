// Manager worker entry. Serves ManagerApi to main and LocalManagerApi to the
// agent, and runs the role loop: services run only while the role flag says
// manager; a flip to worker stops them and it waits again, in-process.
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { workerData } from "node:worker_threads";
import { exposeApi } from "../../shared/channel/index.js";
import { freezeConfig } from "../../shared/config.js";
import {
  TEST_CRASH_ENV,
  type LifecycleState,
  type LocalDispatcherApi,
  type LocalManagerApi,
  type ManagerApi,
  type ManagerBootData,
  type ManagerStatus,
  type NodeRole,
} from "../../shared/contracts/index.js";
import { SwarmError, errorCode, errorMessage } from "../../shared/errors.js";
import { CurrentTls } from "../../shared/current-tls.js";
import { getLogger, initLogging } from "../../shared/logging.js";
import { RoleFlag } from "../../shared/role-flag.js";
import { startManagerServices, type ManagerServices } from "./services.js";

const boot = workerData as ManagerBootData;
const config = freezeConfig(boot.config);
initLogging(config.logLevel, "manager");
const log = getLogger("manager");
const flag = RoleFlag.attach(boot.roleBuffer);
/** The node's TLS material as renewals leave it; kept across role changes (services restart with the current one). */
const liveTls = new CurrentTls(boot.identity.tls);

let state: LifecycleState = "starting";
let services: ManagerServices | undefined;
let applied: { generation: number; role: NodeRole; error?: Error } = { generation: -1, role: "worker" };
const waiters = new Set<{ generation: number; resolve: (s: ManagerStatus) => void; reject: (e: Error) => void }>();
const stopping = new AbortController();

function status(): ManagerStatus {
  return {
    state,
    appliedGeneration: applied.generation,
    role: applied.role,
    ...(services ? { services: services.status } : {}),
    ...(applied.error ? { lastError: { message: applied.error.message, ...codeOf(applied.error) } } : {}),
  };
}

function codeOf(err: Error): { code?: string } {
  const code = errorCode(err);
  return code !== undefined ? { code } : {};
}

function settleWaiters(): void {
  for (const w of waiters) {
    if (w.generation > applied.generation) continue;
    waiters.delete(w);
    if (applied.error) w.reject(applied.error);
    else w.resolve(status());
  }
}

/** Role changes and raft removals touch `services` one at a time. */
let serial: Promise<unknown> = Promise.resolve();
function serialized<T>(fn: () => Promise<T>): Promise<T> {
  const run = serial.then(fn);
  serial = run.catch(() => undefined);
  return run;
}

/** A demoted or removed manager forgets its raft log (SwarmKit's clearData): a later promotion joins afresh. */
async function clearRaftData(): Promise<void> {
  const dir = join(config.stateDir, "raft");
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    await rm(join(dir, entry), { recursive: true, force: true });
  }
  log.info({ dir }, "raft data cleared");
}

/** Removed from raft: stop being a manager now; the role flag follows once the certificate says worker. */
function watchRemoval(running: ManagerServices): void {
  running.manager.onRemovedFromRaft(() => {
    void serialized(async () => {
      if (services !== running) return;
      log.warn("this node was removed from the raft cluster: stopping manager services and clearing raft data");
      services = undefined;
      await running.stop();
      await clearRaftData();
    });
  });
}

function apply(role: NodeRole, generation: number): Promise<void> {
  return serialized(() => applyNow(role, generation));
}

async function applyNow(role: NodeRole, generation: number): Promise<void> {
  let error: Error | undefined;
  try {
    if (role === "manager" && !services) {
      log.info({ generation }, "role is manager: starting manager services");
      services = await startManagerServices({ config, identity: boot.identity, tls: liveTls });
      watchRemoval(services);
    } else if (role === "worker" && services) {
      log.info({ generation }, "role is worker: stopping manager services");
      const running = services;
      services = undefined;
      await running.stop();
      // Only a demotion gets here (a stop of swarmd goes through stop()).
      if (generation > 0) await clearRaftData();
    }
  } catch (err) {
    error = err instanceof Error ? err : new Error(String(err));
    // Main reports it (a start-up failure is one line); keep detail at debug.
    log.debug({ err, generation }, "applying role failed");
  }
  applied = { generation, role, ...(error ? { error } : {}) };
  settleWaiters();
}

/** Apply every role change until stopped. Waiting never blocks this thread. */
const roleLoop = (async () => {
  let seen = -1;
  while (!stopping.signal.aborted) {
    const current = flag.read();
    if (current.generation === seen) {
      await flag.waitForChange(seen, stopping.signal);
      continue;
    }
    seen = current.generation;
    await apply(current.role, current.generation);
    if (state === "starting") state = "running";
  }
})();

const managerApi: ManagerApi = {
  ping: () => ({ thread: "manager", at: Date.now() }),
  status,
  awaitRole(generation) {
    if (applied.generation >= generation) {
      return applied.error ? Promise.reject(applied.error) : Promise.resolve(status());
    }
    if (state === "stopping" || state === "stopped") {
      return Promise.reject(new SwarmError("CANCELLED", "manager worker is stopping"));
    }
    return new Promise((resolve, reject) => waiters.add({ generation, resolve, reject }));
  },
  updateIdentity(tls) {
    // The control socket reads boot.identity.tls per connection; the remote API, raft and the
    // leader connection read liveTls per handshake. Open connections keep their certificate.
    Object.assign(boot.identity.tls, tls);
    if (liveTls.update(tls)) log.info({ version: liveTls.version }, "renewed node certificate in use for new connections");
  },
  renewOwnCertificate(csrPem, timeoutMs) {
    if (!services) return Promise.reject(new SwarmError("UNAVAILABLE", "this node is not running as a manager"));
    return services.manager.renewOwnCertificate(csrPem, timeoutMs);
  },
  async stop() {
    if (state === "stopped") return;
    state = "stopping";
    stopping.abort();
    await roleLoop;
    await serial;
    if (services) {
      const running = services;
      services = undefined;
      await running.stop();
    }
    for (const w of waiters) w.reject(new SwarmError("CANCELLED", "manager worker stopped"));
    waiters.clear();
    state = "stopped";
    log.info("manager worker stopped");
  },
};

/** The running manager's dispatcher for the local agent, or UNAVAILABLE while this node is a worker. */
function localDispatcher(): LocalDispatcherApi {
  const d = services?.manager.localDispatcher;
  if (!d) throw new SwarmError("UNAVAILABLE", "this node is not running as a manager");
  return d;
}

const localManagerApi: LocalManagerApi & LocalDispatcherApi = {
  ping: () => ({ thread: "manager", at: Date.now() }),
  role: () => (services ? "manager" : "worker"),
  requireManager() {
    if (!services) throw new SwarmError("UNAVAILABLE", "this node is not running as a manager");
    return { controlSocket: services.status.controlSocket };
  },
  dispatcherSession: (req, sink) => localDispatcher().dispatcherSession(req, sink),
  dispatcherAssignments: (req, sink) => localDispatcher().dispatcherAssignments(req, sink),
  dispatcherCancelStream: (id) => services?.manager.localDispatcher?.dispatcherCancelStream(id),
  dispatcherHeartbeat: (req) => localDispatcher().dispatcherHeartbeat(req),
  dispatcherUpdateTaskStatus: (req) => localDispatcher().dispatcherUpdateTaskStatus(req),
};

exposeApi(managerApi, boot.mainPort);
exposeApi(localManagerApi, boot.agentPort);
log.debug({ role: flag.role }, "manager worker up");

if (process.env[TEST_CRASH_ENV] === "manager") {
  setTimeout(() => {
    throw new Error(`induced crash for tests (${TEST_CRASH_ENV}=manager)`);
  }, 200);
}

// Unhandled rejections in a worker would otherwise be reported without context.
process.on("unhandledRejection", (reason) => {
  throw reason instanceof Error ? reason : new Error(`unhandled rejection: ${errorMessage(reason)}`);
});
