// The remote API listener: one grpc-js server on TCP with TLS, where every
// RPC is authorised by the caller's certificate before its handler runs
// (SwarmKit's authenticated wrappers around each service). Client
// certificates are asked for but optional, so that a joining node can reach
// the CA endpoints; every other method refuses a caller without one.
import {
  Server,
  type MethodDefinition,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from "@grpc/grpc-js";
import type { ServerSurfaceCall } from "@grpc/grpc-js/build/src/server-call.js";
import { networkInterfaces } from "node:os";
import { formatHostPort, type HostPort } from "../../../shared/config.js";
import { SwarmError } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import { toServiceError } from "../controlapi/errors.js";
import { authorize, type AuthorizationPolicy, type Caller, type ClusterAuthView } from "./caller.js";
import { MemoryCertificateProvider, optionalClientCertCredentials, type ServerTls } from "./tls-provider.js";

const log = getLogger("remoteapi");

/** Largest message accepted (SwarmKit's transport.GRPCMaxMsgSize). */
export const MAX_MESSAGE_BYTES = 4 << 20;
const SHUTDOWN_GRACE_MS = 2000;

export interface RemoteApiServerOptions {
  listen: HostPort;
  tls: ServerTls;
  /** Cluster ID and removed nodes, read at every call. */
  cluster: ClusterAuthView;
}

// The authorised caller of each call in flight (undefined: no certificate, insecure method).
const callers = new WeakMap<ServerSurfaceCall, Caller | undefined>();

/** The caller authorised for this call (undefined when an insecure method was called without a certificate). */
export function requestCaller(call: ServerSurfaceCall): Caller | undefined {
  return callers.get(call);
}

/** The gRPC method name of a path: "/pkg.Service/Method" → "Method". */
export function methodName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

export class RemoteApiServer {
  private readonly server: Server;
  private readonly tlsProvider: MemoryCertificateProvider;
  private bound: HostPort | undefined;
  private stopped = false;

  constructor(private readonly opts: RemoteApiServerOptions) {
    this.server = new Server({
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.http2.min_ping_interval_without_data_ms": 1000,
      // channelz bookkeeping is per call and per message; nothing reads it.
      "grpc.enable_channelz": 0,
    });
    this.tlsProvider = new MemoryCertificateProvider(opts.tls);
  }

  /** The address actually bound (port resolved when 0). */
  get address(): HostPort {
    if (!this.bound) throw new SwarmError("FAILED_PRECONDITION", "remote API server is not started");
    return this.bound;
  }

  /**
   * Registers a service; every handler is wrapped with authorization.
   * policyFor gets the gRPC method name (e.g. "IssueNodeCertificate") and
   * must answer for every method of the definition.
   */
  addService(
    definition: ServiceDefinition,
    implementation: UntypedServiceImplementation,
    policyFor: (method: string) => AuthorizationPolicy,
  ): void {
    const wrapped: UntypedServiceImplementation = {};
    for (const [key, def] of Object.entries(definition)) {
      const handler = implementation[key];
      if (!handler) continue; // grpc-js answers UNIMPLEMENTED
      wrapped[key] = this.guard(def, policyFor(methodName(def.path)), handler);
    }
    this.server.addService(definition, wrapped);
  }

  private guard(def: MethodDefinition<unknown, unknown>, policy: AuthorizationPolicy, handler: UntypedHandleCall): UntypedHandleCall {
    const method = methodName(def.path);
    const check = (call: ServerSurfaceCall): unknown => {
      try {
        callers.set(call, authorize(call, policy, this.opts.cluster));
        return undefined;
      } catch (err) {
        log.debug({ method, peer: call.getPeer(), err: (err as Error).message }, "remote API call refused");
        return toServiceError(err, method);
      }
    };
    if (!def.responseStream) {
      // unary or client streaming: errors go to the callback
      const h = handler as (call: ServerSurfaceCall, cb: sendUnaryData<unknown>) => void;
      return ((call: ServerUnaryCall<unknown, unknown> | ServerReadableStream<unknown, unknown>, cb: sendUnaryData<unknown>) => {
        const err = check(call);
        if (err) return cb(err as Parameters<sendUnaryData<unknown>>[0]);
        h(call, cb);
      }) as UntypedHandleCall;
    }
    const h = handler as (call: ServerSurfaceCall) => void;
    return ((call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>) => {
      const err = check(call);
      if (err) {
        call.emit("error", err);
        return;
      }
      h(call);
    }) as UntypedHandleCall;
  }

  /** Binds the listener; a port in use or a foreign address is one clear error. */
  async start(): Promise<HostPort> {
    const target = formatHostPort(this.opts.listen);
    const port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(target, optionalClientCertCredentials(this.tlsProvider), (err, p) => {
        if (err) reject(new SwarmError("UNAVAILABLE", `cannot listen on remote API address ${target}: ${bindReason(err)}`));
        else resolve(p);
      });
    });
    this.bound = { host: this.opts.listen.host, port };
    log.debug({ addr: formatHostPort(this.bound) }, "remote API listening");
    return this.bound;
  }

  /** Serve a renewed certificate from now on (new connections). */
  updateTls(tls: ServerTls): void {
    this.tlsProvider.update(tls);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, SHUTDOWN_GRACE_MS);
      timer.unref();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** grpc-js wraps the OS error in "No address added out of total 1 resolved: ..."; keep the OS part. */
function bindReason(err: Error): string {
  if (/EADDRINUSE/.test(err.message)) return "address already in use";
  if (/EACCES/.test(err.message)) return "permission denied";
  if (/EADDRNOTAVAIL/.test(err.message)) return "address not available on this host";
  return err.message.replace(/^No address added out of total \d+ resolved:?\s*/, "");
}

/**
 * The address other nodes should use: --advertise-remote-api if given (its
 * port defaults to the bound one), else the listen address if it names a
 * host, else this host's first external IPv4 — never 0.0.0.0, which
 * SwarmKit's first manager advertises — else loopback.
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
