// The in-memory raft log: a snapshot base (index, term) followed by entries,
// with the commit, applied and durable ("stable") marks. It merges etcd's
// MemoryStorage and unstable log: the application persists what Ready hands
// out, and the core keeps everything it still needs in memory.
import type { Entry, Snapshot } from "./types.js";

/** Returned by term() for an index outside the log (compacted or not yet there). */
export const TERM_UNAVAILABLE = -1;

export class RaftLog {
  /** Index and term of the last compacted entry (the log's base). */
  baseIndex = 0;
  baseTerm = 0;
  /** entries[i].index === baseIndex + 1 + i */
  entries: Entry[] = [];
  committed = 0;
  /** Last index handed to the application for applying. */
  applying = 0;
  /** Last index the application acknowledged as applied. */
  applied = 0;
  /** Last index known durable. */
  stabled = 0;

  firstIndex(): number {
    return this.baseIndex + 1;
  }

  lastIndex(): number {
    return this.baseIndex + this.entries.length;
  }

  lastTerm(): number {
    const n = this.entries.length;
    return n === 0 ? this.baseTerm : this.entries[n - 1]!.term;
  }

  /** The term at index i, or TERM_UNAVAILABLE if it is compacted or beyond the end. */
  term(i: number): number {
    if (i === this.baseIndex) return this.baseTerm;
    const off = i - this.baseIndex - 1;
    if (off < 0 || off >= this.entries.length) return TERM_UNAVAILABLE;
    return this.entries[off]!.term;
  }

  entryAt(i: number): Entry {
    const e = this.entries[i - this.baseIndex - 1];
    if (e === undefined) throw new Error(`raft: entry ${i} not in log [${this.firstIndex()}, ${this.lastIndex()}]`);
    return e;
  }

  matchTerm(i: number, t: number): boolean {
    const lt = this.term(i);
    return lt !== TERM_UNAVAILABLE && lt === t;
  }

  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries [lo, hi) limited to maxBytes of data (at least one entry). The
   * caller checks lo > baseIndex. Returns a fresh array.
   */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    const last = this.lastIndex();
    if (hi > last + 1) hi = last + 1;
    if (lo >= hi) return [];
    if (lo <= this.baseIndex) throw new Error(`raft: slice from compacted index ${lo} (first ${this.firstIndex()})`);
    const start = lo - this.baseIndex - 1;
    let end = hi - this.baseIndex - 1;
    if (maxBytes > 0) {
      let size = 0;
      for (let k = start; k < end; k++) {
        size += this.entries[k]!.data.length;
        if (size > maxBytes && k > start) {
          end = k;
          break;
        }
      }
    }
    return this.entries.slice(start, end);
  }

  /** Appends entries that follow on from or overwrite the uncommitted suffix. */
  append(ents: readonly Entry[]): void {
    if (ents.length === 0) return;
    const after = ents[0]!.index - 1;
    if (after < this.committed) {
      throw new Error(`raft: append after ${after} would overwrite committed ${this.committed}`);
    }
    const last = this.lastIndex();
    if (after < last) {
      this.entries.length = after - this.baseIndex;
      if (this.stabled > after) this.stabled = after;
    } else if (after > last) {
      throw new Error(`raft: append at ${after + 1} leaves a gap after ${last}`);
    }
    for (let i = 0; i < ents.length; i++) this.entries.push(ents[i]!);
  }

  /** The first index among ents whose term conflicts with ours (0 if none). */
  findConflict(ents: readonly Entry[]): number {
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i]!;
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index <= i whose term is <= t (0 if none); when the log below
   * is compacted, the lowest known index is returned.
   */
  findConflictByTerm(i: number, t: number): number {
    for (; i > 0; i--) {
      const ourTerm = this.term(i);
      if (ourTerm === TERM_UNAVAILABLE) return i;
      if (ourTerm <= t) return i;
    }
    return 0;
  }

  /** Follower append: -1 on mismatch, else the last index covered by the message. */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number {
    if (!this.matchTerm(index, logTerm)) return -1;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) throw new Error(`raft: entry ${ci} conflicts with committed entry (committed ${this.committed})`);
      this.append(ci === ents[0]!.index ? ents : ents.slice(ci - index - 1));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  commitTo(c: number): void {
    if (c > this.committed) {
      if (c > this.lastIndex()) throw new Error(`raft: commit ${c} beyond last index ${this.lastIndex()}`);
      this.committed = c;
    }
  }

  /** Discards entries up to and including i; i becomes the base. */
  compact(i: number): void {
    if (i <= this.baseIndex) return;
    if (i > this.applied) throw new Error(`raft: compact ${i} beyond applied ${this.applied}`);
    const t = this.term(i);
    this.entries.splice(0, i - this.baseIndex);
    this.baseIndex = i;
    this.baseTerm = t;
  }

  /** Replaces the whole log with a snapshot's base. */
  restore(s: Snapshot): void {
    this.entries = [];
    this.baseIndex = s.metadata.index;
    this.baseTerm = s.metadata.term;
    this.committed = s.metadata.index;
    this.stabled = s.metadata.index;
  }
}
