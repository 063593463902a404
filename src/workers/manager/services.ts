// The seam between the manager worker's role loop and what a manager runs.
// startManagerServices() is called when the node becomes a manager and the
// returned stop() when it stops being one (or swarmd stops): it binds the
// remote API listener, then starts the Manager (raft + store + control API +
// leader components); stop() undoes it in reverse.
import { Server, ServerCredentials, setLogger } from "@grpc/grpc-js";
import { mkdir } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { formatHostPort, type HostPort, type NodeConfig } from "../../shared/config.js";
import type { IdentityData, ManagerServicesStatus } from "../../shared/contracts/index.js";
import { SwarmError } from "../../shared/errors.js";
import { getLogger } from "../../shared/logging.js";
import { Manager } from "./manager.js";

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
  readonly identity: IdentityData;
}

export interface ManagerServices {
  readonly status: ManagerServicesStatus;
  readonly manager: Manager;
  /** Stop everything started, in reverse order. Never throws. */
  stop(): Promise<void>;
}

export async function startManagerServices(ctx: ManagerContext): Promise<ManagerServices> {
  const { config, identity } = ctx;
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

    const remote = await listenRemoteApi(config.listenRemoteApi);
    stops.push(remote.stop);
    const advertiseAddr = formatHostPort(advertiseAddress(remote.bound, config.advertiseRemoteApi));

    const manager = await Manager.start({ config, identity, advertiseAddr });
    stops.push(() => manager.stop());

    const status: ManagerServicesStatus = { controlSocket: config.listenControlApi, remoteApi: remote.bound };
    log.info({ controlSocket: status.controlSocket, remoteApi: formatHostPort(remote.bound), advertise: advertiseAddr }, "manager services started");
    return {
      status,
      manager,
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

/**
 * The address to advertise: the flag if given, else the listen address if it
 * names a host, else this host's first external IPv4 (never 0.0.0.0 as
 * SwarmKit's first manager advertises), else loopback.
 */
export function advertiseAddress(bound: HostPort, advertise?: HostPort): HostPort {
  if (advertise) return { host: advertise.host, port: advertise.port || bound.port };
  if (bound.host !== "0.0.0.0" && bound.host !== "::" && bound.host !== "") return bound;
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === "IPv4" && !a.internal) return { host: a.address, port: bound.port };
    }
  }
  return { host: "127.0.0.1", port: bound.port };
}

interface Listener {
  stop(): Promise<void>;
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
