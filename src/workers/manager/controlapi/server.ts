// The control socket: gRPC over TLS on a unix socket, as SwarmKit serves it.
// The server presents the node's own certificate and asks for none; the
// socket's mode (0600) is the access control, so SwarmKit's swarmctl, which
// dials with verification off, works unchanged.
import { chmod, mkdir, unlink } from "node:fs/promises";
import { clearStaleSocket } from "../socket-file.js";
import { dirname } from "node:path";
import { Server, ServerCredentials, status as Status } from "@grpc/grpc-js";
import {
  ControlService,
  HealthCheckResponse_ServingStatus,
  HealthService,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthServer,
} from "../../../shared/api/index.js";
import { SwarmError } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import type { ControlBackend } from "./backend.js";
import { ControlApi, type ControlApiOptions } from "./control-api.js";
import { withSafeDecoders } from "./request-decode.js";

const log = getLogger("controlapi");

/** SwarmKit's gRPC message limit (transport.GRPCMaxMsgSize). */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** The Health service name SwarmKit's local socket reports. */
export const CONTROL_HEALTH_SERVICE = "ControlAPI";

export interface ControlServerOptions extends ControlApiOptions {
  socketPath: string;
  tls: { certPem: string; keyPem: string; caPem?: string };
  backend: ControlBackend;
}

export interface RunningControlServer {
  socketPath: string;
  api: ControlApi;
  /** Stop accepting calls, end open ones after a grace period, remove the socket file. */
  stop(graceMs?: number): Promise<void>;
}

function healthHandlers(): HealthServer {
  return {
    check: (call, callback) => {
      const req: HealthCheckRequest = call.request;
      if (req.service !== "" && req.service !== CONTROL_HEALTH_SERVICE) {
        callback({ code: Status.NOT_FOUND, details: `unknown service ${req.service}` });
        return;
      }
      const res: HealthCheckResponse = { status: HealthCheckResponse_ServingStatus.SERVING };
      callback(null, res);
    },
  };
}

export async function startControlServer(opts: ControlServerOptions): Promise<RunningControlServer> {
  const { socketPath } = opts;
  await mkdir(dirname(socketPath), { recursive: true, mode: 0o700 });
  await clearStaleSocket(socketPath);
  const api = new ControlApi(opts.backend, opts);
  const server = new Server({
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
    // channelz bookkeeping costs ~3% of a control call and nothing reads it.
    "grpc.enable_channelz": 0,
  });
  server.addService(withSafeDecoders(ControlService), api.handlers());
  server.addService(HealthService, healthHandlers());
  const creds = ServerCredentials.createSsl(
    opts.tls.caPem !== undefined ? Buffer.from(opts.tls.caPem) : null,
    [{ private_key: Buffer.from(opts.tls.keyPem), cert_chain: Buffer.from(opts.tls.certPem) }],
    false, // clients present no certificate: the socket mode is the access control
  );
  // Bind with a restrictive umask window closed by the chmod right after.
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socketPath}`, creds, (err) => (err ? reject(err) : resolve())),
  ).catch((err: unknown) => {
    server.forceShutdown();
    throw new SwarmError("UNAVAILABLE", `cannot listen on control socket ${socketPath}: ${(err as Error).message}`, { cause: err });
  });
  await chmod(socketPath, 0o600);
  log.info({ socket: socketPath }, "control API listening");

  let stopped = false;
  return {
    socketPath,
    api,
    async stop(graceMs = 2000): Promise<void> {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await unlink(socketPath).catch(() => undefined);
    },
  };
}
