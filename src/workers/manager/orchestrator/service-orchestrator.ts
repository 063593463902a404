// What the replicated and global orchestrators share: a watch loop over
// services, tasks, nodes and the cluster that rebuilds state on init, marks
// work per event and acts once per committed transaction, and a rolling-update
// supervisor that is cancelled on stop.
import type { Logger } from "../../../shared/logging.js";
import type { ChangeEvent, MemoryStore, Proposer, ReadTx } from "../store/index.js";
import type { RestartSupervisor } from "./restart-supervisor.js";
import { UpdateSupervisor } from "./updater.js";
import { WatchLoop } from "./watch-loop.js";

export interface OrchestratorOptions {
  now?: () => Date;
}

export abstract class ServiceOrchestrator {
  protected readonly now: () => Date;
  protected readonly updater: UpdateSupervisor;
  private readonly loop: WatchLoop;

  constructor(
    protected readonly store: MemoryStore,
    protected readonly proposer: Proposer,
    protected readonly restarts: RestartSupervisor,
    opts: OrchestratorOptions,
    log: Logger,
  ) {
    this.now = opts.now ?? (() => new Date());
    this.updater = new UpdateSupervisor(store, proposer, restarts, { now: this.now });
    this.loop = new WatchLoop(
      store,
      {
        init: (tx) => this.init(tx),
        afterInit: () => this.tick(),
        onEvent: (ev) => this.onEvent(ev),
        onCommit: () => this.tick(),
      },
      { kinds: ["service", "task", "node", "cluster"], log },
    );
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await this.updater.cancelAll();
  }

  /** Rebuild this orchestrator's view from the store (at start and after a watch reset). */
  protected abstract init(tx: ReadTx): void;
  /** Mark the work one change calls for. */
  protected abstract onEvent(ev: ChangeEvent): void;
  /** Do the marked work (once per committed transaction). */
  protected abstract tick(): Promise<void>;
}
