// The node's desired role, shared between threads without messages: an
// Int32Array over a SharedArrayBuffer that only the main thread writes.
// Slot ROLE holds the role, slot GENERATION counts every write, so a waiter
// can tell "changed and changed back" from "never changed".
// Waiting uses Atomics.waitAsync: the manager worker must keep serving its
// ports and timers while it waits (Atomics.wait would freeze its event loop).

export type NodeRole = "worker" | "manager";

const ROLE = 0;
const GENERATION = 1;
const SLOTS = 2;
const ROLE_CODES: Record<NodeRole, number> = { worker: 0, manager: 1 };

function decode(code: number): NodeRole {
  return code === ROLE_CODES.manager ? "manager" : "worker";
}

export interface RoleState {
  role: NodeRole;
  generation: number;
}

export class RoleFlag {
  private readonly cells: Int32Array;

  private constructor(buffer: SharedArrayBuffer) {
    if (buffer.byteLength < SLOTS * Int32Array.BYTES_PER_ELEMENT) throw new RangeError("role flag buffer too small");
    this.cells = new Int32Array(buffer, 0, SLOTS);
  }

  /** A new flag (main thread), starting at generation 0 with `role`. */
  static create(role: NodeRole): RoleFlag {
    const flag = new RoleFlag(new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT));
    Atomics.store(flag.cells, ROLE, ROLE_CODES[role]);
    return flag;
  }

  /** A view of a flag created by another thread (pass `buffer` in workerData). */
  static attach(buffer: SharedArrayBuffer): RoleFlag {
    return new RoleFlag(buffer);
  }

  get buffer(): SharedArrayBuffer {
    return this.cells.buffer as SharedArrayBuffer;
  }

  get role(): NodeRole {
    return decode(Atomics.load(this.cells, ROLE));
  }

  get generation(): number {
    return Atomics.load(this.cells, GENERATION);
  }

  /**
   * A consistent {role, generation} pair. The writer stores the role before
   * bumping the generation, so re-reading until the generation is stable
   * gives a role at least as new as the generation returned.
   */
  read(): RoleState {
    for (;;) {
      const generation = Atomics.load(this.cells, GENERATION);
      const role = decode(Atomics.load(this.cells, ROLE));
      if (Atomics.load(this.cells, GENERATION) === generation) return { role, generation };
    }
  }

  /** Set the desired role and wake waiters. Main thread only. Returns the new generation. */
  set(role: NodeRole): number {
    Atomics.store(this.cells, ROLE, ROLE_CODES[role]);
    const generation = Atomics.add(this.cells, GENERATION, 1) + 1;
    Atomics.notify(this.cells, GENERATION);
    return generation;
  }

  /**
   * Resolves once the generation differs from `seen`, or when `signal`
   * aborts. Never blocks the calling thread. Note: a pending waitAsync does
   * not keep a worker alive; the caller's ports must.
   */
  async waitForChange(seen: number, signal?: AbortSignal): Promise<RoleState> {
    while (Atomics.load(this.cells, GENERATION) === seen) {
      if (signal?.aborted) break;
      const result = Atomics.waitAsync(this.cells, GENERATION, seen);
      if (!result.async) continue; // value was already different
      if (!signal) {
        await result.value;
        continue;
      }
      let onAbort: (() => void) | undefined;
      const aborted = new Promise<void>((resolve) => {
        onAbort = resolve;
        signal.addEventListener("abort", onAbort, { once: true });
      });
      await Promise.race([result.value, aborted]);
      signal.removeEventListener("abort", onAbort!);
    }
    return this.read();
  }
}
