// One open server stream, independent of its transport: messages go to a
// sink in order; the stream ends once, either because the receiver went away
// (resolve) or because the dispatcher ends it (reject with a SwarmError).
import { SwarmError, errorMessage } from "../../../shared/errors.js";

export interface StreamSink<T> {
  /** Deliver one message; a returned promise is awaited before the next send. */
  send(message: T): void | Promise<void>;
  /** Resolves when the receiving side has gone away (client cancelled, connection lost). */
  readonly closed: Promise<void>;
}

export class ServerStream<T> {
  private chain: Promise<void> = Promise.resolve();
  /** No more sends are accepted. */
  private closing = false;
  /** The receiver is gone: queued sends are dropped too. */
  private gone = false;
  private readonly cleanups: Array<() => void> = [];
  private settle!: { resolve: () => void; reject: (e: Error) => void };
  /** Settles when the stream has ended: resolved when the receiver left, rejected when the dispatcher ended it. */
  readonly done: Promise<void>;

  constructor(private readonly sink: StreamSink<T>) {
    this.done = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    const gone = () => {
      this.gone = true;
      this.end();
    };
    sink.closed.then(gone, gone);
  }

  get isEnded(): boolean {
    return this.closing;
  }

  onEnd(fn: () => void): void {
    if (this.closing) fn();
    else this.cleanups.push(fn);
  }

  send(message: T): void {
    if (this.closing) return;
    this.chain = this.chain.then(async () => {
      if (this.gone) return;
      try {
        await this.sink.send(message);
      } catch (err) {
        this.gone = true;
        this.end(new SwarmError("UNAVAILABLE", `stream send failed: ${errorMessage(err)}`));
      }
    });
  }

  /** End the stream after the messages already sent; with an error, the receiver gets it. */
  end(error?: Error): void {
    if (this.closing) return;
    this.closing = true;
    for (const fn of this.cleanups.splice(0)) {
      try {
        fn();
      } catch {
        // a failing cleanup must not keep the stream open
      }
    }
    void this.chain.then(() => (error ? this.settle.reject(error) : this.settle.resolve()));
  }
}
