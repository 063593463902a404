// The remote API listener: one grpc-js server on TCP with TLS, where every
// RPC is authorised by the caller's certificate before its handler runs
// (SwarmKit's authenticated wrappers around each service). Client
// certificates are asked for but optional, so that a joining node can reach
// the CA endpoints; every other method refuses a caller without one.
import {
  Server,
  type MethodDefinition,
  type ServerOptions,
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
import { createServer } from "node:net";
import { networkInterfaces } from "node:os";
import { formatHostPort, type HostPort } from "../../../shared/config.js";
import { SwarmError } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import { toServiceError } from "../controlapi/errors.js";
import { authorize, type AuthorizationPolicy, type Caller, type ClusterAuthView } from "./caller.js";
import { CurrentTls, type TlsSource } from "../../../shared/current-tls.js";
import { optionalClientCertCredentials, type ServerTls } from "./tls-provider.js";
import { GRPC_MAX_MSG_SIZE } from "../../../shared/grpc-limits.js";

const log = getLogger("remoteapi");

const SHUTDOWN_GRACE_MS = 2000;
/** How often a deferred bind (startOrDefer) tries again. */
export const LATE_BIND_RETRY_MS = 1000;

interface BindOptions {
  /**
   * When the listen address is not on any interface yet (EADDRNOTAVAIL, e.g.
   * at boot before the network is up), do not fail: keep trying to bind in
   * the background every `retryMs` and serve once it works. Any other error
   * (a port in use, no permission) still fails start().
   */
  deferUnavailable?: boolean;
  retryMs?: number;
}

export interface RemoteApiServerOptions {
  listen: HostPort;
  /** The node's TLS material; a CurrentTls holder makes renewals reach new connections. */
  tls: TlsSource;
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

/** The remote API server's grpc-js options (also what bench:replication's grpc-js floor runs with). */
export function remoteApiServerOptions(): ServerOptions {
  return {
    "grpc.max_receive_message_length": GRPC_MAX_MSG_SIZE,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.min_ping_interval_without_data_ms": 1000,
    // channelz bookkeeping is per call and per message; nothing reads it.
    "grpc.enable_channelz": 0,
  };
}

export class RemoteApiServer {
  private readonly server: Server;
  private readonly tlsProvider: CurrentTls;
  private bound: HostPort | undefined;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly boundWaiters = new Set<{ resolve: (hp: HostPort) => void; reject: (err: Error) => void }>();

  constructor(private readonly opts: RemoteApiServerOptions) {
    this.server = new Server(remoteApiServerOptions());
    this.tlsProvider = CurrentTls.from(opts.tls);
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

  /** Whether the listener is bound (false while a deferred bind is still retrying). */
  get isBound(): boolean {
    return this.bound !== undefined;
  }

  /** Binds the listener; a port in use or a foreign address is one clear error. */
  async start(): Promise<HostPort> {
    const bound = await this.bind({});
    return bound!;
  }

  /**
   * Like start(), but an address that is not on any interface yet
   * (EADDRNOTAVAIL) resolves undefined and keeps retrying in the background
   * (whenBound() tells when it worked). Other errors still reject.
   */
  startOrDefer(retryMs = LATE_BIND_RETRY_MS): Promise<HostPort | undefined> {
    return this.bind({ deferUnavailable: true, retryMs });
  }

  private async bind(opts: BindOptions): Promise<HostPort | undefined> {
    const target = formatHostPort(this.opts.listen);
    // Probe with a plain socket first: grpc-js remembers a failed bind of a
    // fixed port and would return the same failure on every retry.
    const probe = await probeListen(this.opts.listen);
    if (probe === undefined) return this.bindNow();
    if (!opts.deferUnavailable || probe.code !== "EADDRNOTAVAIL") {
      throw new SwarmError("UNAVAILABLE", `cannot listen on remote API address ${target}: ${bindReason(probe)}`);
    }
    const retryMs = opts.retryMs ?? LATE_BIND_RETRY_MS;
    log.warn(
      { addr: target, retryMs },
      `remote API address ${target} is not available on this host yet (no interface has it); the manager runs without its remote API and retries binding every ${retryMs} ms`,
    );
    this.retryBind(target, retryMs, probe.code);
    return undefined;
  }

  /** Resolves with the bound address once the listener is up (at once if it already is). */
  whenBound(): Promise<HostPort> {
    if (this.bound) return Promise.resolve(this.bound);
    if (this.stopped) return Promise.reject(new SwarmError("CANCELLED", "remote API server is stopped"));
    return new Promise((resolve, reject) => this.boundWaiters.add({ resolve, reject }));
  }

  private async bindNow(): Promise<HostPort> {
    const target = formatHostPort(this.opts.listen);
    const port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(target, optionalClientCertCredentials(this.tlsProvider), (err, p) => {
        if (err) reject(new SwarmError("UNAVAILABLE", `cannot listen on remote API address ${target}: ${bindReason(err)}`));
        else resolve(p);
      });
    });
    if (this.stopped) {
      // stop() came while the bind was in flight; tryShutdown does not cancel a pending bind.
      this.server.forceShutdown();
      throw new SwarmError("CANCELLED", `remote API server stopped while binding ${target}`);
    }
    this.bound = { host: this.opts.listen.host, port };
    log.debug({ addr: formatHostPort(this.bound) }, "remote API listening");
    for (const w of this.boundWaiters) w.resolve(this.bound);
    this.boundWaiters.clear();
    return this.bound;
  }

  /** The deferred bind: probe every retryMs; log only when the outcome changes. */
  private retryBind(target: string, retryMs: number, lastCode: string | undefined): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void (async () => {
        if (this.stopped) return;
        const probe = await probeListen(this.opts.listen);
        if (this.stopped) return;
        if (probe === undefined) {
          try {
            const bound = await this.bindNow();
            log.info({ addr: formatHostPort(bound) }, `remote API address ${target} is available now: listening`);
          } catch (err) {
            // Lost a race for the port after the probe: grpc-js will not retry this address. Whoever
            // waits for the bind (a raft joiner) gets the error instead of waiting forever.
            log.error({ addr: target, err: (err as Error).message }, "binding the remote API failed after the address became available; restart swarmd");
            for (const w of this.boundWaiters) w.reject(err as Error);
            this.boundWaiters.clear();
          }
          return;
        }
        if (probe.code !== lastCode) {
          log.warn({ addr: target, reason: bindReason(probe) }, `remote API address ${target} still cannot be bound; retrying every ${retryMs} ms`);
        }
        this.retryBind(target, retryMs, probe.code);
      })();
    }, retryMs);
  }

  /** Serve a renewed certificate from now on (new connections; open ones keep theirs). */
  updateTls(tls: ServerTls): void {
    this.tlsProvider.update(tls);
  }

  /** The TLS material served to new connections. */
  get tls(): CurrentTls {
    return this.tlsProvider;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const w of this.boundWaiters) w.reject(new SwarmError("CANCELLED", "remote API server stopped before its address could be bound"));
    this.boundWaiters.clear();
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

/** Tries to listen on the address with a plain TCP socket: undefined if it works, else the OS error. */
function probeListen(addr: HostPort): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", (err: NodeJS.ErrnoException) => resolve(err));
    probe.listen({ host: addr.host, port: addr.port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
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
