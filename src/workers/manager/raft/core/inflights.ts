// A ring buffer of the appends in flight to one follower: the last index and
// byte size of each, so acks free them in order (etcd's tracker.Inflights).

export class Inflights {
  private start = 0;
  count = 0;
  bytes = 0;
  private readonly indexes: Float64Array;
  private readonly sizes: Float64Array;

  constructor(
    readonly capacity: number,
    readonly maxBytes: number,
  ) {
    this.indexes = new Float64Array(capacity);
    this.sizes = new Float64Array(capacity);
  }

  add(index: number, bytes: number): void {
    if (this.count === this.capacity) throw new Error("raft: inflights overflow");
    let slot = this.start + this.count;
    if (slot >= this.capacity) slot -= this.capacity;
    this.indexes[slot] = index;
    this.sizes[slot] = bytes;
    this.count++;
    this.bytes += bytes;
  }

  /** Frees every inflight append whose last index is <= to. */
  freeLE(to: number): void {
    if (this.count === 0 || to < this.indexes[this.start]!) return;
    let i = 0;
    let idx = this.start;
    let freedBytes = 0;
    for (; i < this.count; i++) {
      if (to < this.indexes[idx]!) break;
      freedBytes += this.sizes[idx]!;
      if (++idx >= this.capacity) idx -= this.capacity;
    }
    this.count -= i;
    this.bytes -= freedBytes;
    this.start = this.count === 0 ? 0 : idx;
  }

  full(): boolean {
    return this.count === this.capacity || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  reset(): void {
    this.count = 0;
    this.start = 0;
    this.bytes = 0;
  }
}
