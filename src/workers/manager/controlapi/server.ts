// The control socket: gRPC over TLS on a unix socket, as SwarmKit serves it.
// The server presents the node's own certificate and asks for none; the
// socket's mode (0600) is the access control, so SwarmKit's swarmctl, which
// dials with verification off, works unchanged.
import { chmod, mkdir, unlink } from "node:fs/promises";
import { clearStaleSocket } from "../socket-file.js";
import { dirname } from "node:path";
import { createServer, type Socket } from "node:net";
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from "node:tls";
import { Server, ServerCredentials, status as Status, type ServerOptions } from "@grpc/grpc-js";
import {
  HealthCheckResponse_ServingStatus,
  HealthService,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthServer,
} from "../../../shared/api/index.js";
import { SwarmError } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import type { ControlBackend } from "./backend.js";
import { ControlApi, RAW_CONTROL, type ControlApiOptions } from "./control-api.js";
import { AuthorityRewritingStream } from "./h2-authority.js";
import { isAcceptableAuthority } from "./hpack-authority.js";
import { GRPC_MAX_MSG_SIZE } from "../../../shared/grpc-limits.js";

const log = getLogger("controlapi");

/** The Health service name SwarmKit's local socket reports. */
export const CONTROL_HEALTH_SERVICE = "ControlAPI";

export interface ControlServerOptions extends ControlApiOptions {
  socketPath: string;
  /**
   * The node's certificate and key. Read at every new connection, so a
   * renewal that updates this object in place reaches new connections.
   */
  tls: { certPem: string; keyPem: string; caPem?: string };
  backend: ControlBackend;
  /** How long a connection may take to finish its TLS handshake (Node's default, 120 s, when unset). */
  handshakeTimeoutMs?: number;
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

/**
 * Whether a connection goes through the :authority rewriter. gRPC clients
 * derive the TLS server name (SNI) from the authority: grpc-go dialing a
 * unix socket sends the socket path as both, grpc-js sends a host name. A
 * server name nghttp2 would accept as :authority lets the connection skip
 * the rewriter and stay on Node's native TLS→HTTP/2 path (the rewriter makes
 * every read and write cross JavaScript); no or any other server name gets
 * the rewriter. A client with an acceptable server name but a refused
 * :authority is reset by nghttp2, as it was without the rewriter.
 */
function needsAuthorityRewrite(socket: TLSSocket): boolean {
  return typeof socket.servername !== "string" || !isAcceptableAuthority(socket.servername);
}

/**
 * A TLS server that only handshakes (never listens), serving the certificate
 * `tls` holds when each connection arrives: a renewal that updates `tls` in
 * place reaches new connections.
 */
function tlsTerminator(tls: ControlServerOptions["tls"], handshakeTimeoutMs?: number): { server: TlsServer; refresh(): void } {
  let certPem = tls.certPem;
  let keyPem = tls.keyPem;
  const server = createTlsServer({ cert: certPem, key: keyPem, ALPNProtocols: ["h2"], ...(handshakeTimeoutMs ? { handshakeTimeout: handshakeTimeoutMs } : {}) });
  return {
    server,
    refresh() {
      if (tls.certPem === certPem && tls.keyPem === keyPem) return;
      certPem = tls.certPem;
      keyPem = tls.keyPem;
      try {
        server.setSecureContext({ cert: certPem, key: keyPem });
        log.info("control socket serves the renewed node certificate");
      } catch (err) {
        log.warn({ err }, "cannot use the renewed node certificate on the control socket; keeping the previous one");
      }
    },
  };
}

/** The control server's grpc-js options (also what the benchmarks' grpc-js floors run with). */
export function controlServerOptions(): ServerOptions {
  return {
    // Like SwarmKit's control server: requests are capped, answers are not. A List answer of a
    // large cluster passes 4 MiB; capping it would fail the call on the server.
    "grpc.max_receive_message_length": GRPC_MAX_MSG_SIZE,
    // channelz bookkeeping costs ~3% of a control call and nothing reads it.
    "grpc.enable_channelz": 0,
  };
}

export async function startControlServer(opts: ControlServerOptions): Promise<RunningControlServer> {
  const { socketPath } = opts;
  await mkdir(dirname(socketPath), { recursive: true, mode: 0o700 });
  await clearStaleSocket(socketPath);
  const api = new ControlApi(opts.backend, opts);
  const server = new Server(controlServerOptions());
  // Writes arrive undecoded: a follower forwards their bytes to the leader as they are.
  server.addService(RAW_CONTROL, api.handlers());
  server.addService(HealthService, healthHandlers());
  // grpc-js does not bind the socket: we terminate TLS ourselves so that a
  // connection whose :authority nghttp2 would refuse (grpc-go sends the
  // socket path) can pass through the :authority rewriter (h2-authority.ts).
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const terminator = tlsTerminator(opts.tls, opts.handshakeTimeoutMs);
  // Node only reports a handshake timeout (it does not close the socket): a
  // client that connects and never handshakes would hold its socket forever.
  terminator.server.on("tlsClientError", (err, tlsSocket: TLSSocket) => {
    log.debug({ err }, "control connection failed its TLS handshake");
    tlsSocket.destroy();
  });
  terminator.server.on("secureConnection", (tlsSocket: TLSSocket) => {
    tlsSocket.on("error", (err) => log.debug({ err }, "control connection failed"));
    injector.injectConnection(needsAuthorityRewrite(tlsSocket) ? new AuthorityRewritingStream(tlsSocket) : tlsSocket);
  });
  const sockets = new Set<Socket>();
  const listener = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", (err) => log.debug({ err }, "control connection failed"));
    terminator.refresh();
    terminator.server.emit("connection", socket);
  });
  // The umask window between listen and chmod is closed at once; the socket's directory is 0700.
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(socketPath, () => {
      listener.off("error", reject);
      resolve();
    });
  }).catch((err: unknown) => {
    server.forceShutdown();
    throw new SwarmError("UNAVAILABLE", `cannot listen on control socket ${socketPath}: ${(err as Error).message}`, { cause: err });
  });
  listener.on("error", (err) => log.warn({ err }, "control socket listener failed"));
  await chmod(socketPath, 0o600);
  log.info({ socket: socketPath }, "control API listening");

  let stopped = false;
  return {
    socketPath,
    api,
    async stop(graceMs = 2000): Promise<void> {
      if (stopped) return;
      stopped = true;
      listener.close();
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
      for (const socket of sockets) socket.destroy();
      await unlink(socketPath).catch(() => undefined);
    },
  };
}
