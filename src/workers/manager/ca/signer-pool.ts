// A small pool of signing threads (piscina) for the CA: a burst of joins is
// signed in parallel and never runs on the thread that ticks raft.
import { availableParallelism } from "node:os";
import { Piscina } from "piscina";
import { SwarmError, deserializeError } from "../../../shared/errors.js";
import { getLogger } from "../../../shared/logging.js";
import type { SignRequest } from "../../../shared/pki/sign-node-cert.js";
import { signerExecArgv } from "./signer-exec-argv.js";
import type { SignResult } from "./sign-worker.js";

const log = getLogger("ca/signer-pool");

/** Worked out once per process (it may start a probe thread). */
let execArgvMemo: { argv: string[] | undefined } | undefined;

export interface SignerPoolOptions {
  /** Signing threads; default min(2, cores). */
  threads?: number;
  /** Requests waiting beyond this are refused with RESOURCE_EXHAUSTED. */
  maxQueue?: number;
  /** Threads idle this long exit (a new request restarts them). */
  idleTimeoutMs?: number;
}

export class SignerPool {
  private pool: Piscina | undefined;
  private readonly opts: Required<SignerPoolOptions>;

  constructor(opts: SignerPoolOptions = {}) {
    this.opts = {
      threads: Math.max(1, opts.threads ?? Math.min(2, availableParallelism())),
      maxQueue: opts.maxQueue ?? 1024,
      idleTimeoutMs: opts.idleTimeoutMs ?? 60_000,
    };
  }

  get running(): boolean {
    return this.pool !== undefined;
  }

  get threads(): number {
    return this.opts.threads;
  }

  /** Starts the threads and waits until each has loaded the signing code. */
  async start(): Promise<void> {
    if (this.pool) return;
    // The compiled task module sits next to this file (dist/ or build/).
    execArgvMemo ??= { argv: signerExecArgv() };
    const execArgv = execArgvMemo.argv;
    const pool = new Piscina({
      filename: new URL("./sign-worker.js", import.meta.url).href,
      minThreads: this.opts.threads,
      maxThreads: this.opts.threads,
      maxQueue: this.opts.maxQueue,
      idleTimeout: this.opts.idleTimeoutMs,
      ...(execArgv ? { execArgv } : {}),
    });
    this.pool = pool;
    try {
      await Promise.all(Array.from({ length: this.opts.threads }, () => pool.run(null, { name: "warmUp" })));
    } catch (err) {
      this.pool = undefined;
      await pool.destroy().catch(() => undefined);
      throw new SwarmError("INTERNAL", `cannot start the CA signer threads: ${(err as Error).message}`, { cause: err });
    }
    log.debug({ threads: this.opts.threads }, "CA signer pool started");
  }

  /** Stops the threads; signings still in flight fail with UNAVAILABLE. */
  async stop(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await pool.destroy();
  }

  /** Signs one CSR; rejects with a SwarmError whose code says why. */
  async sign(req: SignRequest): Promise<string> {
    const pool = this.pool;
    if (!pool) throw new SwarmError("UNAVAILABLE", "CA signer is stopped");
    let result: SignResult;
    try {
      result = (await pool.run(req)) as SignResult;
    } catch (err) {
      throw this.poolError(err);
    }
    if (!result.ok) throw deserializeError(result.error);
    return result.certPem;
  }

  /** Requests waiting for a free thread. */
  get queued(): number {
    return this.pool?.queueSize ?? 0;
  }

  private poolError(err: unknown): SwarmError {
    const msg = (err as Error).message ?? String(err);
    if (!this.pool) return new SwarmError("UNAVAILABLE", "CA signer is stopped", { cause: err });
    if (/queue is at limit/i.test(msg)) {
      return new SwarmError("RESOURCE_EXHAUSTED", "CA signer is overloaded, retry later", { cause: err });
    }
    return new SwarmError("INTERNAL", `CA signer failed: ${msg}`, { cause: err });
  }
}
