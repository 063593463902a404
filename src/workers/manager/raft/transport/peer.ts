// One remote raft member: a bounded queue of outgoing messages and a loop
// that keeps one long-lived StreamRaftMessage client stream open to it and
// writes the queue in order. Snapshots go on a stream of their own, split
// into chunks below gRPC's message limit, and their outcome is reported to
// raft. A broken stream reports the peer unreachable and reconnects with
// exponential backoff (max 8 s). A peer that never implemented streaming is
// sent to with unary ProcessRaftMessage calls instead.
import { Metadata, connectivityState, status as Status, type ChannelCredentials, type ClientWritableStream, type ServiceError } from "@grpc/grpc-js";
import type { RaftClient, StreamRaftMessageRequest } from "../../../../shared/api/index.js";
import { errorMessage } from "../../../../shared/errors.js";
import { getLogger } from "../../../../shared/logging.js";
import { MessageType, type Message } from "../core/index.js";
import { MEMBER_REMOVED } from "../raft-node.js";
import { toWireMessage } from "./convert.js";
import { MAX_BACKOFF_MS, dialRaft } from "./dial.js";
import { splitSnapshot } from "./snapshot-chunks.js";

const log = getLogger("raft/transport");


export interface PeerEvents {
  reportUnreachable(id: number): void;
  reportSnapshotStatus(id: number, ok: boolean): void;
  /** A peer told us this node was removed from the raft group. */
  nodeRemoved(): void;
}

export interface PeerOptions {
  queueSize: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  connectTimeoutMs: number;
  /** Per unary send (SwarmKit's SendTimeout). */
  sendTimeoutMs: number;
  /**
   * Longest a snapshot send may go without progress: no chunk taken by the
   * stream, or no answer after the last. Not a bound on the whole send, so a
   * snapshot of any size gets through a slow link (SwarmKit's fixed send
   * timeout failed large snapshots, moby/swarmkit#3113).
   */
  snapshotTimeoutMs: number;
  maxMessageBytes: number;
}

export const DEFAULT_PEER_OPTIONS: PeerOptions = {
  queueSize: 4096,
  initialBackoffMs: 100,
  maxBackoffMs: MAX_BACKOFF_MS,
  connectTimeoutMs: 5000,
  sendTimeoutMs: 2000,
  snapshotTimeoutMs: 60_000,
  maxMessageBytes: 4 << 20,
};

type PeerState = "connecting" | "up" | "down";

export function isMemberRemovedError(err: unknown): boolean {
  const e = err as Partial<ServiceError> | null;
  return !!e && e.code === Status.NOT_FOUND && typeof e.details === "string" && e.details.includes(MEMBER_REMOVED);
}

export class Peer {
  private client: RaftClient;
  private queue: Message[] = [];
  private head = 0;
  private state: PeerState = "connecting";
  private wake: (() => void) | undefined;
  private closed = false;
  private unary = false;
  private since: number | undefined;
  private backoff: number;
  private sleepTimer: NodeJS.Timeout | undefined;
  private stream: ClientWritableStream<StreamRaftMessageRequest> | undefined;
  private readonly done: Promise<void>;

  constructor(
    readonly id: number,
    private addrValue: string,
    private readonly creds: ChannelCredentials,
    private readonly events: PeerEvents,
    private readonly opts: PeerOptions,
  ) {
    this.client = dialRaft(addrValue, creds);
    this.backoff = opts.initialBackoffMs;
    this.done = this.run().catch((err: unknown) => log.error({ peer: hex(id), err: errorMessage(err) }, "raft peer loop failed"));
  }

  get addr(): string {
    return this.addrValue;
  }

  /** When the current connection came up (ms since epoch), undefined while not connected. */
  get activeSince(): number | undefined {
    return this.since;
  }

  /** Queues a message; a full queue or a peer known to be down drops it and tells raft. */
  enqueue(m: Message): void {
    if (this.closed) return;
    if (this.state === "down" || this.queue.length - this.head >= this.opts.queueSize) {
      this.dropped(m);
      return;
    }
    this.queue.push(m);
    this.wake?.();
  }

  /** A new address for this member (conf change UpdateNode): reconnect there. */
  updateAddr(addr: string): void {
    if (addr === this.addrValue || this.closed) return;
    log.info({ peer: hex(this.id), from: this.addrValue, to: addr }, "raft peer address changed");
    const old = this.client;
    this.addrValue = addr;
    this.client = dialRaft(addr, this.creds);
    this.backoff = this.opts.initialBackoffMs;
    old.close(); // breaks the current stream; the loop reconnects to the new address
    this.stream?.cancel();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.since = undefined;
    this.stream?.end();
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.sleepTimer = undefined;
    this.wake?.();
    this.client.close();
    await this.done;
    this.failQueue(false);
  }

  // ---- the loop

  private async run(): Promise<void> {
    while (!this.closed) {
      this.state = "connecting";
      const ready = await this.connect();
      if (this.closed) return;
      if (!ready) {
        this.state = "down";
        this.since = undefined;
        this.failQueue(true);
        log.debug({ peer: hex(this.id), addr: this.addrValue }, "raft peer not reachable");
        await this.sleep(this.nextBackoff());
        continue;
      }
      this.state = "up";
      this.since ??= Date.now();
      const started = Date.now();
      const err = this.unary ? await this.pumpUnary() : await this.pumpStream();
      if (this.closed) return;
      this.since = undefined;
      if (err && (err as Partial<ServiceError>).code === Status.UNIMPLEMENTED && !this.unary) {
        log.info({ peer: hex(this.id) }, "peer does not stream raft messages, using ProcessRaftMessage");
        this.unary = true;
        continue;
      }
      if (isMemberRemovedError(err)) {
        log.warn({ peer: hex(this.id) }, "peer says this member was removed from the raft cluster");
        this.events.nodeRemoved();
      }
      log.debug({ peer: hex(this.id), err: err ? errorMessage(err) : undefined }, "raft stream to peer ended");
      this.events.reportUnreachable(this.id);
      if (Date.now() - started > 2000) this.backoff = this.opts.initialBackoffMs;
      this.state = "down";
      this.failQueue(true);
      await this.sleep(this.nextBackoff());
    }
  }

  private nextBackoff(): number {
    const b = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.opts.maxBackoffMs);
    return b;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        if (!this.closed) return;
        this.wake = undefined;
        resolve();
      };
      this.sleepTimer = setTimeout(() => {
        this.sleepTimer = undefined;
        this.wake = undefined;
        resolve();
      }, ms);
    });
  }

  /** Waits for the channel to be READY; false on a failed attempt or timeout. */
  private connect(): Promise<boolean> {
    const channel = this.client.getChannel();
    const deadline = Date.now() + this.opts.connectTimeoutMs;
    return new Promise((resolve) => {
      let sawAttempt = false;
      const check = (): void => {
        if (this.closed) return resolve(false);
        let st: connectivityState;
        try {
          st = channel.getConnectivityState(true);
        } catch {
          return resolve(false); // closed channel (address changed)
        }
        if (st === connectivityState.READY) return resolve(true);
        if (st === connectivityState.SHUTDOWN) return resolve(false);
        if (st === connectivityState.TRANSIENT_FAILURE && sawAttempt) return resolve(false);
        if (st === connectivityState.CONNECTING || st === connectivityState.IDLE) sawAttempt = true;
        channel.watchConnectivityState(st, deadline, (err) => (err ? resolve(false) : check()));
      };
      check();
    });
  }

  /** The next queued message; undefined once the peer closes or `broken()` turns true. */
  private async next(broken: () => boolean): Promise<Message | undefined> {
    while (!this.closed && !broken()) {
      if (this.head < this.queue.length) {
        const m = this.queue[this.head]!;
        this.queue[this.head++] = undefined as unknown as Message;
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        return m;
      }
      await new Promise<void>((resolve) => {
        this.wake = () => {
          this.wake = undefined;
          resolve();
        };
      });
    }
    return undefined;
  }

  /** Writes the queue onto one long-lived stream until it breaks; resolves with why. */
  private async pumpStream(): Promise<unknown> {
    let failure: unknown;
    let ended!: () => void;
    const endedP = new Promise<void>((resolve) => (ended = resolve));
    const stream = this.client.streamRaftMessage((err) => {
      failure = err ?? new Error("raft stream closed by the peer");
      ended();
      this.wake?.();
    });
    stream.on("error", () => undefined); // reported through the callback
    this.stream = stream;
    const broken = (): boolean => failure !== undefined;
    try {
      for (;;) {
        const m = await this.next(broken);
        if (!m) break;
        if (m.type === MessageType.Snap) {
          await this.sendSnapshot(m);
          continue;
        }
        if (!stream.write({ message: toWireMessage(m) })) {
          await Promise.race([new Promise((r) => stream.once("drain", r)), endedP]);
        }
      }
    } finally {
      this.stream = undefined;
    }
    if (this.closed) return undefined;
    stream.cancel();
    return failure;
  }

  private async pumpUnary(): Promise<unknown> {
    let failure: unknown;
    for (;;) {
      const m = await this.next(() => failure !== undefined);
      if (!m) return failure;
      if (m.type === MessageType.Snap) {
        if (!(await this.sendSnapshot(m))) failure = new Error("snapshot send failed");
        continue;
      }
      const err = await new Promise<ServiceError | null>((resolve) =>
        this.client.processRaftMessage({ message: toWireMessage(m) }, new Metadata(), { deadline: Date.now() + this.opts.sendTimeoutMs }, (e) => resolve(e)),
      );
      if (err) failure = err;
    }
  }

  /** One snapshot on its own stream, in chunks; tells raft whether it arrived. */
  private async sendSnapshot(m: Message): Promise<boolean> {
    const chunks = splitSnapshot(toWireMessage(m), this.opts.maxMessageBytes);
    let finished!: () => void;
    const finishedP = new Promise<void>((resolve) => (finished = resolve));
    let ended = false;
    let stalled = false;
    const err = await new Promise<ServiceError | null>((resolve) => {
      let watchdog: NodeJS.Timeout | undefined;
      const call = this.client.streamRaftMessage((e) => {
        ended = true;
        clearTimeout(watchdog);
        finished();
        resolve(e);
      });
      // Re-armed whenever the stream takes a chunk; never once the call has ended.
      const progressed = (): void => {
        clearTimeout(watchdog);
        if (ended) return;
        watchdog = setTimeout(() => {
          stalled = true;
          call.cancel();
        }, this.opts.snapshotTimeoutMs);
      };
      call.on("error", () => undefined);
      progressed();
      void (async () => {
        for (const c of chunks) {
          if (!call.write({ message: c })) await Promise.race([new Promise((r) => call.once("drain", r)), finishedP]);
          if (ended) return; // failed or cancelled: the rest has nowhere to go
          progressed();
        }
        call.end();
      })();
    });
    const bytes = m.snapshot?.data.length ?? 0;
    if (err) {
      const why = stalled ? `no progress for ${this.opts.snapshotTimeoutMs} ms` : errorMessage(err);
      log.warn({ peer: hex(this.id), index: m.snapshot?.metadata.index, bytes, err: why }, "sending snapshot failed");
      if (isMemberRemovedError(err)) this.events.nodeRemoved();
      this.events.reportSnapshotStatus(this.id, false);
      this.events.reportUnreachable(this.id);
      return false;
    }
    log.info({ peer: hex(this.id), index: m.snapshot?.metadata.index, bytes, chunks: chunks.length }, "sent snapshot");
    this.events.reportSnapshotStatus(this.id, true);
    return true;
  }

  private dropped(m: Message): void {
    if (m.type === MessageType.Snap) this.events.reportSnapshotStatus(this.id, false);
    this.events.reportUnreachable(this.id);
  }

  /** Drops everything queued (a snapshot among them is reported failed). */
  private failQueue(report: boolean): void {
    let unreachable = false;
    for (let i = this.head; i < this.queue.length; i++) {
      const m = this.queue[i]!;
      if (report && m.type === MessageType.Snap) this.events.reportSnapshotStatus(this.id, false);
      unreachable = true;
    }
    this.queue = [];
    this.head = 0;
    if (report && unreachable) this.events.reportUnreachable(this.id);
  }
}

export function hex(id: number): string {
  return id.toString(16);
}
