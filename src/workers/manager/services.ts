// The seam between the manager worker's role loop and what a manager runs.
// startManagerServices() is called when the node becomes a manager and the
// returned stop() when it stops being one (or swarmd stops). Today the
// services are the two gRPC listeners with no gRPC service registered yet;
// raft, the store, the CA, the dispatcher and the control API plug in here,
// in start order, and stop in reverse.
import { Server, ServerCredentials, setLogger } from "@grpc/grpc-js";
import { chmod, lstat, mkdir, unlink } from "node:fs/promises";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { formatHostPort, type HostPort, type NodeConfig } from "../../shared/config.js";
import type { ManagerServicesStatus } from "../../shared/contracts/index.js";
import { SwarmError, errorCode, errorMessage } from "../../shared/errors.js";
import { getLogger } from "../../shared/logging.js";

const log = getLogger("manager-services");

// grpc-js prints its own lines to stderr ("E No address added ..."). Route
// them into our logger at debug: the errors that matter reach us as values.
const grpcLog = getLogger("grpc");
const toDebug = (...parts: unknown[]) => grpcLog.debug(parts.map(String).join(" "));
setLogger({ error: toDebug, info: toDebug, debug: toDebug } as Partial<Console> as Console);

/** How long a graceful gRPC shutdown may take before open calls are cut. */
const SHUTDOWN_GRACE_MS = 2000;

export interface ManagerContext {
  readonly config: NodeConfig;
}

export interface ManagerServices {
  readonly status: ManagerServicesStatus;
  /** Stop everything started, in reverse order. Never throws. */
  stop(): Promise<void>;
}

export async function startManagerServices(ctx: ManagerContext): Promise<ManagerServices> {
  const { config } = ctx;
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

    const control = await listenControlSocket(config.listenControlApi);
    stops.push(control.stop);

    const remote = await listenRemoteApi(config.listenRemoteApi);
    stops.push(remote.stop);

    const status: ManagerServicesStatus = { controlSocket: config.listenControlApi, remoteApi: remote.bound };
    log.info({ controlSocket: status.controlSocket, remoteApi: formatHostPort(remote.bound) }, "manager services started");
    return {
      status,
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

interface Listener {
  stop(): Promise<void>;
}

/** The control API socket: 0600, a stale socket replaced, a live one refused. */
async function listenControlSocket(path: string): Promise<Listener> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await clearStaleSocket(path);
  const server = new Server();
  await bind(server, `unix:${path}`, `control socket ${path}`);
  try {
    await chmod(path, 0o600);
  } catch (err) {
    await shutdown(server);
    throw new SwarmError("INTERNAL", `control socket ${path}: cannot set mode 0600: ${errorMessage(err)}`);
  }
  return {
    stop: async () => {
      await shutdown(server);
      await unlink(path).catch((err: unknown) => {
        if (errorCode(err) !== "ENOENT") throw err;
      });
    },
  };
}

/** The remote API (TCP). Plaintext until the TLS issue lands; no services yet. */
async function listenRemoteApi(addr: HostPort): Promise<Listener & { bound: HostPort }> {
  const server = new Server();
  const port = await bind(server, formatHostPort(addr), `remote API address ${formatHostPort(addr)}`);
  return { bound: { host: addr.host, port }, stop: () => shutdown(server) };
}

function bind(server: Server, target: string, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(target, ServerCredentials.createInsecure(), (err, port) => {
      if (err) reject(new SwarmError("UNAVAILABLE", `cannot listen on ${what}: ${bindReason(err)}`));
      else resolve(port);
    });
  });
}

/** grpc-js wraps the OS error in "No address added out of total 1 resolved: ..."; keep the OS part. */
function bindReason(err: Error): string {
  if (/EADDRINUSE/.test(err.message)) return "address already in use";
  if (/EACCES/.test(err.message)) return "permission denied";
  if (/EADDRNOTAVAIL/.test(err.message)) return "address not available on this host";
  return err.message.replace(/^No address added out of total \d+ resolved:?\s*/, "");
}

async function shutdown(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, SHUTDOWN_GRACE_MS);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * A socket file left by a crashed swarmd is removed; one that still accepts
 * connections belongs to a live process and is an error, as is any other
 * kind of file at that path.
 */
async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if (errorCode(err) === "ENOENT") return;
    throw new SwarmError("FAILED_PRECONDITION", `control socket ${path}: ${errorMessage(err)}`);
  }
  if (!isSocket) {
    throw new SwarmError("FAILED_PRECONDITION", `control socket path ${path} is taken by a file that is not a socket`);
  }
  if (await acceptsConnections(path)) {
    throw new SwarmError("FAILED_PRECONDITION", `control socket ${path} is in use by another process`);
  }
  log.info({ path }, "removing stale control socket");
  await unlink(path);
}

function acceptsConnections(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}
