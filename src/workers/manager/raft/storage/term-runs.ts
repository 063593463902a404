// The terms of the stored log as runs (first index of each term), so the
// storage can answer lastIndex/lastTerm/term(i) synchronously without keeping
// entries in memory. Terms change rarely, so this stays tiny.

import type { Entry } from "../core/types.js";

export class TermRuns {
  /** Runs in index order: entries from runs[k].start up to the next run's start have runs[k].term. */
  private runs: { start: number; term: number }[] = [];
  /** Index and term just before the first entry (the snapshot's, or 0/0). */
  private baseIndex: number;
  private baseTerm: number;
  private lastIdx: number;

  constructor(baseIndex: number, baseTerm: number, entries: readonly Entry[]) {
    this.baseIndex = baseIndex;
    this.baseTerm = baseTerm;
    this.lastIdx = baseIndex;
    this.append(entries);
  }

  get firstIndex(): number {
    return this.baseIndex + 1;
  }

  get lastIndex(): number {
    return this.lastIdx;
  }

  get lastTerm(): number {
    return this.term(this.lastIdx)!;
  }

  /** The term of entry i, the snapshot's term for its index, undefined outside the stored range. */
  term(i: number): number | undefined {
    if (i === this.baseIndex) return this.baseTerm;
    if (i < this.baseIndex || i > this.lastIdx) return undefined;
    for (let k = this.runs.length - 1; k >= 0; k--) if (this.runs[k]!.start <= i) return this.runs[k]!.term;
    return undefined;
  }

  /** Appends with raft's overwrite rule: an entry at or below the last index replaces the log from there. */
  append(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.index <= this.baseIndex) continue;
      if (e.index <= this.lastIdx) {
        while (this.runs.length > 0 && this.runs[this.runs.length - 1]!.start >= e.index) this.runs.pop();
      }
      this.lastIdx = e.index;
      const tail = this.runs[this.runs.length - 1];
      if (!tail || tail.term !== e.term) this.runs.push({ start: e.index, term: e.term });
    }
  }

  /** Applies a snapshot at (index, term): keeps the log after it if the log agrees at index, else drops it all. */
  restore(index: number, term: number): void {
    if (this.term(index) === term && index <= this.lastIdx) {
      const keep = this.runs.filter((r) => r.start > index);
      const covering = [...this.runs].reverse().find((r) => r.start <= index);
      if (covering && index < this.lastIdx && (keep.length === 0 || keep[0]!.start > index + 1)) keep.unshift({ start: index + 1, term: covering.term });
      this.runs = keep;
    } else {
      this.runs = [];
      this.lastIdx = index;
    }
    this.baseIndex = index;
    this.baseTerm = term;
  }
}
