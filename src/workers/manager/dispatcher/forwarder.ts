// A follower's Dispatcher: every call goes to the leader over this manager's
// own mutual-TLS channel, carrying the original caller in the forwarded_cert
// metadata (SwarmKit's raft proxy + ca/forward.go). The leader trusts that
// metadata only because the channel's certificate is a manager's.
import { credentials, Metadata, status as Status, type Channel, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import { DispatcherClient, type DispatcherClient as DispatcherClientType } from "../../../shared/api/index.js";
import { SwarmError } from "../../../shared/errors.js";
import { forwardedMetadata, type Caller } from "../remoteapi/caller.js";
import type { DispatcherEndpoint } from "./endpoint.js";
import type { StreamSink } from "./streams.js";

/** SwarmKit's ErrNoClusterLeader wording as Docker shows it. */
export const NO_LEADER_MESSAGE = "raft: no elected cluster leader";

export interface ForwarderOptions {
  /** A channel to the current leader's remote API (this manager's credentials); undefined when there is none. */
  leaderChannel: () => Channel | undefined | Promise<Channel | undefined>;
  /** Deadline of forwarded unary calls (default 10 s). */
  unaryTimeoutMs?: number;
}

/** The gRPC status name of a numeric code ("NOT_FOUND"), if it is one. */
export function grpcCodeName(code: unknown): string | undefined {
  if (typeof code !== "number") return undefined;
  const name = Status[code];
  return typeof name === "string" ? name : undefined;
}

export function forwardingEndpoint(opts: ForwarderOptions): DispatcherEndpoint {
  const clients = new WeakMap<Channel, DispatcherClientType>();
  const timeout = opts.unaryTimeoutMs ?? 10_000;

  async function client(): Promise<DispatcherClientType> {
    const channel = await opts.leaderChannel();
    if (!channel) throw new SwarmError("UNAVAILABLE", NO_LEADER_MESSAGE);
    let c = clients.get(channel);
    if (!c) {
      // The override channel carries the TLS; these credentials are never used.
      c = new DispatcherClient("leader", credentials.createInsecure(), { channelOverride: channel });
      clients.set(channel, c);
    }
    return c;
  }

  const metadata = (caller: Caller): Metadata => forwardedMetadata(new Metadata(), caller);

  async function pipe<T>(open: () => ClientReadableStream<T>, sink: StreamSink<T>): Promise<void> {
    const call = open();
    let cancelled = false;
    void sink.closed.then(() => {
      cancelled = true;
      call.cancel();
    });
    await new Promise<void>((resolve, reject) => {
      call.on("data", (m: T) => void sink.send(m));
      call.on("error", (err: ServiceError) => (cancelled ? resolve() : reject(err)));
      call.on("end", () => resolve());
    });
  }

  function unaryCall<Req, Res>(
    fn: (c: DispatcherClientType, req: Req, md: Metadata, o: { deadline: Date }, cb: (e: ServiceError | null, r: Res) => void) => void,
  ): (caller: Caller, req: Req) => Promise<Res> {
    return async (caller, req) => {
      const c = await client();
      return new Promise<Res>((resolve, reject) => {
        fn(c, req, metadata(caller), { deadline: new Date(Date.now() + timeout) }, (err, res) => (err ? reject(err) : resolve(res)));
      });
    };
  }

  return {
    async session(caller, req, sink) {
      const c = await client();
      return pipe(() => c.session(req, metadata(caller)), sink);
    },
    async assignments(caller, req, sink) {
      const c = await client();
      return pipe(() => c.assignments(req, metadata(caller)), sink);
    },
    heartbeat: unaryCall((c, req, md, o, cb) => c.heartbeat(req, md, o, cb)),
    updateTaskStatus: unaryCall((c, req, md, o, cb) => c.updateTaskStatus(req, md, o, cb)),
  };
}
