// Sends a ControlForwarder stream's items in batches. grpc-js writes a
// stream's messages one at a time, the next only once the previous one has
// been written out, which takes an event-loop turn: with a message per item,
// 64 forwarded writes took 64 turns, and while a manager encoded a snapshot
// (4 ms slices between turns) that was a 100–170 ms stall of every write in
// flight. Here the items sent in one go (a commit answers many writes at
// once) leave together in one message once the current microtasks have run,
// and whatever queues up while a message is being written goes out together
// in the next one. A batch stops short of a byte budget, so that a message
// stays within what the other end accepts (4 MiB) when large writes travel
// together; an item over the budget goes alone.

/** Default byte budget of one batch: a quarter of the 4 MiB a remote API accepts, leaving room for framing. */
export const FORWARD_BATCH_MAX_BYTES = 1024 * 1024;

/** The part of a grpc-js writable stream this needs. */
export interface MessageSink<M> {
  write(message: M, callback: (err?: Error | null) => void): boolean;
}

export class BatchedSender<T, M> {
  private queued: T[] = [];
  private writing = false;
  private scheduled = false;
  private closed = false;
  private drained: (() => void) | undefined;

  constructor(
    private readonly sink: MessageSink<M>,
    /** Wraps a batch into the stream's message type. */
    private readonly wrap: (items: T[]) => M,
    /** An item's encoded size, about (what counts towards the budget). */
    private readonly sizeOf: (item: T) => number,
    private readonly maxBatchBytes = FORWARD_BATCH_MAX_BYTES,
  ) {}

  send(item: T): void {
    if (this.closed) return;
    this.queued.push(item);
    if (this.writing || this.scheduled) return;
    // After the microtasks already queued: the other answers of the same commit are among them.
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      if (!this.writing) this.flush();
    });
  }

  /** Calls `fn` once everything sent so far has been handed to the stream (at once if it has). */
  whenDrained(fn: () => void): void {
    if (this.closed || (!this.writing && !this.scheduled && this.queued.length === 0)) fn();
    else this.drained = fn;
  }

  /** Drops what is queued; nothing more is sent. */
  close(): void {
    this.closed = true;
    this.queued = [];
  }

  private flush(): void {
    if (this.closed || this.queued.length === 0) {
      const fn = this.drained;
      this.drained = undefined;
      fn?.();
      return;
    }
    // At least one item; more while they fit the budget.
    let bytes = this.sizeOf(this.queued[0]!);
    let n = 1;
    while (n < this.queued.length) {
      const next = this.sizeOf(this.queued[n]!);
      if (bytes + next > this.maxBatchBytes) break;
      bytes += next;
      n++;
    }
    const batch = this.queued.splice(0, n);
    this.writing = true;
    this.sink.write(this.wrap(batch), () => {
      // A failed write ends the stream; its own error handler fails what was in it.
      this.writing = false;
      this.flush();
    });
  }
}
