// A follower's end of ControlForwarder (proto/swarmkit_ts/forward.proto):
// control writes made on this manager go to the leader over a couple of
// long-lived streams and are answered by id. Why streams: a gRPC call per
// write cost the follower and the leader a call's worth of grpc-js objects
// each, which at 64 writes in flight were promoted out of the young
// generation and paid for with old-generation pauses that stalled every
// write. A leader that does not serve the stream (UNIMPLEMENTED) gets a call
// per write, as before.
import { Metadata, status as Status, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import {
  ControlForwarderClient,
  ControlService,
  type ForwardedResults,
  type ForwardedWrite,
  type ForwardedWrites,
} from "../../shared/api/index.js";
import { SwarmError } from "../../shared/errors.js";
import { GRPC_MAX_MSG_SIZE } from "../../shared/grpc-limits.js";
import { getLogger } from "../../shared/logging.js";
import { BatchedSender } from "./controlapi/forward-batch.js";
import type { WriteMethod } from "./controlapi/methods.js";
import type { LeaderConnection } from "./leader-connection.js";
import { NO_LEADER } from "./raft/raft-node.js";

const log = getLogger("manager/forward");

/**
 * A request larger than this goes to the leader as a call of its own: in a
 * stream message, with its id and method around it, it could pass the 4 MiB
 * the leader's remote API takes (the control socket takes up to 4 MiB).
 */
const STREAM_MAX_REQUEST_BYTES = GRPC_MAX_MSG_SIZE - 4096;

/** How long a leader that answered the stream with UNIMPLEMENTED gets a call per write before the stream is tried again (it may be upgraded in place). */
const PER_CALL_RETRY_MS = 60_000;

interface Pending {
  resolve(response: Buffer): void;
  reject(err: Error): void;
  expires: number;
  method: WriteMethod;
  request: Buffer;
}

interface LeaderStream {
  addr: string;
  call: ClientDuplexStream<ForwardedWrites, ForwardedResults>;
  out: BatchedSender<ForwardedWrite, ForwardedWrites>;
  pending: Map<number, Pending>;
}

export interface WriteForwarderOptions {
  /** A forwarded write fails with DEADLINE_EXCEEDED after this long. */
  deadlineMs: number;
  /** A call per write, for a leader without the stream. */
  perCall(method: WriteMethod, request: Buffer): Promise<Buffer>;
  /** After this long (default a minute) a leader without the stream is offered it again. */
  perCallRetryMs?: number;
  /** Streams to the leader, taken in turn (default 2). */
  streams?: number;
}

/** About a write's encoded size in a batch. */
const writeSize = (w: ForwardedWrite): number => w.request.length + w.method.length + 16;

/** A gRPC status as the error a forwarded unary call would have rejected with. */
function statusError(code: Status, details: string): ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new Metadata() });
}

export class WriteForwarder {
  /**
   * Open streams to the current leader. More than one because grpc-js sends
   * a stream's next message only once the previous one is written out, a
   * loop turn later: with writes taken in turn by two streams, 8 in flight
   * through a follower went from 1,650–1,795 to 1,927–2,121 writes/s.
   */
  private streams: Array<LeaderStream | undefined> = [];
  private nextStream = 0;
  private nextId = 1;
  /** Leader addresses that answered the stream with UNIMPLEMENTED, and until when to leave them be. */
  private readonly perCallLeaders = new Map<string, number>();
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;
  private inFlightCount = 0;

  constructor(
    private readonly conn: LeaderConnection,
    private readonly opts: WriteForwarderOptions,
  ) {}

  /** Writes relayed and not yet answered. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Runs a control write on the leader; resolves with its encoded response. */
  forward(method: WriteMethod, request: Buffer): Promise<Buffer> {
    this.inFlightCount++;
    const done = (): void => {
      this.inFlightCount--;
    };
    const p = this.relay(method, request);
    p.then(done, done);
    return p;
  }

  private relay(method: WriteMethod, request: Buffer): Promise<Buffer> {
    if (this.closed) return Promise.reject(new SwarmError("UNAVAILABLE", "this manager is stopping"));
    const link = this.conn.client(ControlForwarderClient);
    if (!link) return Promise.reject(new SwarmError("UNAVAILABLE", NO_LEADER));
    if (request.length > STREAM_MAX_REQUEST_BYTES) return this.opts.perCall(method, request);
    const perCallUntil = this.perCallLeaders.get(link.addr);
    if (perCallUntil !== undefined) {
      if (Date.now() < perCallUntil) return this.opts.perCall(method, request);
      this.perCallLeaders.delete(link.addr);
    }
    const s = this.streamTo(link.addr, link.client);
    const id = this.nextId++;
    return new Promise<Buffer>((resolve, reject) => {
      s.pending.set(id, { resolve, reject, expires: Date.now() + this.opts.deadlineMs, method, request });
      this.armSweeper();
      s.out.send({ id, method: ControlService[method].path, request });
    });
  }

  /** Fails every write in flight and closes the streams. */
  close(): void {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    const streams = this.streams;
    this.streams = [];
    for (const s of streams) if (s) this.fail(s, statusError(Status.UNAVAILABLE, "this manager is stopping"), true);
  }

  private streamTo(addr: string, client: ControlForwarderClient): LeaderStream {
    const old = this.streams.find((s) => s !== undefined);
    if (old && old.addr !== addr) {
      // The leader changed: LeaderConnection closed the old channel, which ends those streams.
      const streams = this.streams;
      this.streams = [];
      for (const s of streams) if (s) this.fail(s, statusError(Status.UNAVAILABLE, `the leader changed from ${s.addr} while the write was in flight`), true);
    }
    const want = Math.max(1, this.opts.streams ?? 2);
    const i = this.nextStream++ % want;
    const cur = this.streams[i];
    if (cur) return cur;
    const call = client.forward();
    const s: LeaderStream = { addr, call, out: new BatchedSender(call, (writes) => ({ writes }), writeSize), pending: new Map() };
    this.streams[i] = s;
    if (this.streams.filter((x) => x !== undefined).length === 1) log.info({ leader: addr, streams: want }, "forwarding control writes to the leader on a stream");
    s.call.on("data", (batch: ForwardedResults) => {
      for (const r of batch.results) {
        const p = s.pending.get(r.id);
        if (!p) continue; // timed out already
        s.pending.delete(r.id);
        if (r.code === Status.OK) p.resolve(r.response);
        else p.reject(statusError(r.code as Status, r.details));
      }
    });
    s.call.on("error", (err: ServiceError) => this.ended(s, err));
    s.call.on("end", () => this.ended(s, undefined));
    return s;
  }

  /** The stream is over: a leader without the service gets its writes again one call each; otherwise they fail. */
  private ended(s: LeaderStream, err: ServiceError | undefined): void {
    const at = this.streams.indexOf(s);
    if (at >= 0) this.streams[at] = undefined;
    s.out.close();
    if (s.pending.size === 0) return;
    if (err?.code === Status.UNIMPLEMENTED) {
      // Nothing was run: the leader has no handler for the stream. Said once, though every stream learns it.
      const retryInMs = this.opts.perCallRetryMs ?? PER_CALL_RETRY_MS;
      if (!this.perCallLeaders.has(s.addr)) log.info({ leader: s.addr, retryInMs }, "the leader does not take forwarded writes on a stream; forwarding one call per write");
      this.perCallLeaders.set(s.addr, Date.now() + retryInMs);
      for (const p of s.pending.values()) this.opts.perCall(p.method, p.request).then(p.resolve, p.reject);
      s.pending.clear();
      return;
    }
    const code = err?.code;
    // Our own cancel and a lost connection read the same to the caller: the leader could not be reached.
    const failure =
      code === undefined || code === Status.CANCELLED || code === Status.UNAVAILABLE || code === Status.INTERNAL
        ? statusError(Status.UNAVAILABLE, `forwarding to the leader at ${s.addr} failed: ${err?.details || "the stream ended"}`)
        : statusError(code, err!.details);
    this.fail(s, failure, false);
  }

  private fail(s: LeaderStream, err: ServiceError, cancel: boolean): void {
    const pending = [...s.pending.values()];
    s.pending.clear();
    for (const p of pending) p.reject(err);
    if (cancel) {
      s.out.close();
      s.call.cancel();
    }
  }

  /** One timer while writes are in flight, not one per write. */
  private armSweeper(): void {
    if (this.sweeper) return;
    const period = Math.min(1000, this.opts.deadlineMs);
    this.sweeper = setInterval(() => {
      const now = Date.now();
      let left = 0;
      for (const s of this.streams) {
        if (!s) continue;
        for (const [id, p] of s.pending) {
          if (p.expires > now) continue;
          s.pending.delete(id);
          p.reject(statusError(Status.DEADLINE_EXCEEDED, `the leader at ${s.addr} did not answer the forwarded ${p.method} within ${this.opts.deadlineMs} ms`));
        }
        left += s.pending.size;
      }
      if (left === 0) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
      }
    }, period);
    this.sweeper.unref();
  }
}
