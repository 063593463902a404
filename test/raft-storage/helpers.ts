// Shared fixtures for the raft storage tests.
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Entry, EntryType, Snapshot } from "../../src/workers/manager/raft/core/types.js";

export async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "raft-storage-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return join(dir, "raft");
}

/** A deterministic entry whose data varies with index and term. */
export function entry(index: number, term: number, size = 24): Entry {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (index * 31 + term * 7 + i * 13) & 0xff;
  return { index, term, type: 0 as EntryType, data };
}

export function entries(from: number, to: number, term: number, size?: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term, size));
  return out;
}

export function snapshot(index: number, term: number, size = 100): Snapshot {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 17 + index) & 0xff;
  return { metadata: { index, term, confState: { voters: [1, 2, 3], learners: [9] } }, data };
}

export async function copyDir(from: string, to: string): Promise<void> {
  await rm(to, { recursive: true, force: true });
  await cp(from, to, { recursive: true });
}
