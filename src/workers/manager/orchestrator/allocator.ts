// The allocator step, reduced to what this project needs (SwarmKit's
// manager/allocator with no networks to allocate): every NEW task moves to
// PENDING so the scheduler takes it. Done in one batch per committed
// transaction.
import { TaskState } from "../../../shared/api/index.js";
import { getLogger } from "../../../shared/logging.js";
import type { ChangeEvent, MemoryStore, Proposer, ReadTx } from "../store/index.js";
import { writeChunked } from "./batch-writer.js";
import { stateOf, withStatus } from "./task.js";
import { WatchLoop } from "./watch-loop.js";

const log = getLogger("allocator");

export const PENDING_MESSAGE = "pending task scheduling";

export class TaskAllocator {
  readonly name = "allocator";
  private readonly loop: WatchLoop;
  private readonly fresh = new Set<string>();

  constructor(
    private readonly store: MemoryStore,
    private readonly proposer: Proposer,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.loop = new WatchLoop(
      store,
      {
        init: (tx) => this.init(tx),
        afterInit: () => this.allocate(),
        onEvent: (ev) => this.onEvent(ev),
        onCommit: () => this.allocate(),
      },
      { kinds: ["task"], log },
    );
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  private init(tx: ReadTx): void {
    this.fresh.clear();
    for (const t of tx.find("task", { taskStates: [TaskState.NEW] })) this.fresh.add(t.id);
  }

  private onEvent(ev: ChangeEvent): void {
    if (ev.kind !== "task") return;
    if (ev.action === "remove") this.fresh.delete(ev.object.id);
    else if (stateOf(ev.object) === TaskState.NEW) this.fresh.add(ev.object.id);
  }

  private async allocate(): Promise<void> {
    if (this.fresh.size === 0) return;
    const ids = [...this.fresh];
    this.fresh.clear();
    const now = this.now();
    await writeChunked(this.store, this.proposer, log, "moving new tasks to pending", ids, (tx, id) => {
      const t = tx.get("task", id);
      if (t === undefined || stateOf(t) !== TaskState.NEW) return;
      tx.update("task", withStatus(t, TaskState.PENDING, PENDING_MESSAGE, now));
    });
  }
}
