// Durable raft state in <state-dir>/raft: the WAL (raft/wal) and snapshot
// files (raft/snap). save() resolves only after an fsync, and concurrent
// saves share fsyncs (group commit): whatever arrives while an fsync is in
// flight is written and synced together in the next round, in call order.

import { readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { SwarmError } from "../../../../shared/errors.js";
import { getLogger } from "../../../../shared/logging.js";
import type { Entry, HardState, Snapshot } from "../core/types.js";
import { ensurePrivateDir, fsyncDir } from "./fs-util.js";
import { TMP_SUFFIX, parseSnapName, snapName } from "./names.js";
import { entryRecord, hardStateRecord, snapshotMarkerRecord, type SnapshotMarker } from "./records.js";
import { readSnapshotFile, writeSnapshotFile } from "./snapshot-file.js";
import { TermRuns } from "./term-runs.js";
import { DEFAULT_SEGMENT_SIZE, Wal, type Repair, type SegmentInfo, type WalItem } from "./wal.js";

const log = getLogger("raft/storage");

export interface RaftStorageOptions {
  /** Segment size limit; new segments are preallocated to it. Default 64 MiB. */
  segmentSize?: number;
  /** Old snapshot files kept by compact() besides the newest. Default 0 (SwarmKit's KeepOldSnapshots). */
  keepOldSnapshots?: number;
  /** Metadata written into every segment header of a new WAL (SwarmKit: the local RaftMember). */
  metadata?: Uint8Array;
}

export interface RecoveredState {
  hardState: HardState;
  snapshot: Snapshot | null;
  /** Entries after the snapshot, contiguous. */
  entries: Entry[];
  /** The WAL's metadata (from options when the WAL was just created). */
  metadata: Uint8Array;
  /** Torn tails cut off while opening (each was also logged as a warning). */
  repairs: Repair[];
  /** True if no WAL existed and a fresh one was created. */
  fresh: boolean;
}

export interface StorageStats {
  saves: number;
  /** Group-commit rounds: each is one write per touched segment plus one fsync. */
  flushes: number;
  fsyncs: number;
  /** Fsyncs run on the event loop's thread instead of the pool. */
  inlineFsyncs: number;
  bytesWritten: number;
  segmentsCreated: number;
  /** Snapshot files written (taken here or installed from the leader). */
  snapshotsSaved: number;
}

/**
 * How long a commit-index-only record may stay in the page cache before it is
 * fsynced on its own. Usually the next save's fsync covers it much sooner.
 */
export const LAZY_COMMIT_SYNC_MS = 10;

interface Pending {
  items: WalItem[];
  /** False for a commit-index-only record: written in order, fsynced by the next save (or the lazy timer). */
  sync: boolean;
  /** The caller does nothing until this save is durable: fsync on the loop thread (WriteAheadLog.sync). */
  inline: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class RaftStorage {
  private pending: Pending[] = [];
  private flushQueued = false;
  private lazySync: NodeJS.Timeout | undefined;
  /** Serialises every WAL operation (flushes, releases, close). */
  private chain: Promise<void> = Promise.resolve();
  private failed: unknown = null;
  private closed = false;
  private saves = 0;
  private flushes = 0;
  private snapshotsSaved = 0;
  /** The log as of every save() call so far (durable or not). */
  private readonly terms: TermRuns;
  private snapMarker: SnapshotMarker | null;

  private constructor(
    readonly dir: string,
    private readonly wal: Wal,
    private readonly snapDir: string,
    private readonly keepOldSnapshots: number,
    state: { marker: SnapshotMarker | null; entries: Entry[] },
  ) {
    this.snapMarker = state.marker;
    this.terms = new TermRuns(state.marker?.index ?? 0, state.marker?.term ?? 0, state.entries);
  }

  /** Opens (or creates) the raft directory and recovers its state exactly. */
  static async open(dir: string, opts: RaftStorageOptions = {}): Promise<{ storage: RaftStorage; state: RecoveredState }> {
    const segmentSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    if (!Number.isInteger(segmentSize) || segmentSize < 4096) throw new SwarmError("INVALID_ARGUMENT", `segment size ${segmentSize} is too small (minimum 4096)`);
    const walDir = join(dir, "wal");
    const snapDir = join(dir, "snap");
    const created = [await ensurePrivateDir(dir), await ensurePrivateDir(walDir), await ensurePrivateDir(snapDir)];
    if (created.some(Boolean)) {
      await fsyncDir(join(dir, ".."));
      await fsyncDir(dir);
    }

    const snapFiles = await listSnapshots(snapDir, true);
    const { wal, replayed, repairs, created: fresh } = await Wal.open(walDir, segmentSize, opts.metadata ?? new Uint8Array(0));
    try {
      if (fresh && snapFiles.length > 0)
        throw new SwarmError("DATA_LOSS", `snapshot files exist in ${snapDir} (${snapFiles.map((s) => s.name).join(", ")}) but the WAL in ${walDir} is missing — refusing to start`);

      let snapshot: Snapshot | null = null;
      const marker = replayed.marker;
      if (marker) {
        const name = snapName(marker.term, marker.index);
        if (!snapFiles.some((s) => s.name === name))
          throw new SwarmError(
            "DATA_LOSS",
            `the WAL's newest snapshot marker (index ${marker.index}, term ${marker.term}) names ${join(snapDir, name)}, which is missing — refusing to start`,
          );
        snapshot = await readSnapshotFile(snapDir, name);
        if (snapshot.metadata.index !== marker.index || snapshot.metadata.term !== marker.term)
          throw new SwarmError("DATA_LOSS", `snapshot file ${join(snapDir, name)} at offset 20 holds index ${snapshot.metadata.index}, term ${snapshot.metadata.term}, not what its name says — refusing to start`);
      }
      // A snapshot file newer than the newest marker was written by a save that crashed before its
      // marker: nothing refers to it and the WAL still holds everything it covers, so it can go.
      for (const s of snapFiles) {
        if (s.index > (marker?.index ?? 0)) {
          log.warn({ file: join(snapDir, s.name) }, "removing snapshot file that no WAL marker refers to (crash during a snapshot save)");
          await unlink(join(snapDir, s.name));
        }
      }

      const storage = new RaftStorage(dir, wal, snapDir, opts.keepOldSnapshots ?? 0, { marker, entries: replayed.entries });
      return {
        storage,
        state: { hardState: replayed.hardState, snapshot, entries: replayed.entries, metadata: replayed.metadata, repairs, fresh },
      };
    } catch (err) {
      await wal.close().catch(() => undefined);
      throw err;
    }
  }

  /** Index of the last entry saved (or of the snapshot when the log after it is empty). Includes saves not yet durable. */
  lastIndex(): number {
    return this.terms.lastIndex;
  }

  lastTerm(): number {
    return this.terms.lastTerm;
  }

  /** Index of the first entry the WAL holds after the snapshot. */
  firstIndex(): number {
    return this.terms.firstIndex;
  }

  /** Term of entry i (or of the snapshot at its index); undefined outside firstIndex-1..lastIndex. */
  term(i: number): number | undefined {
    return this.terms.term(i);
  }

  /** The newest saved snapshot's (index, term), or null. */
  snapshotMarker(): SnapshotMarker | null {
    return this.snapMarker;
  }

  stats(): StorageStats {
    const w = this.wal.stats;
    return { saves: this.saves, flushes: this.flushes, fsyncs: w.fsyncs, inlineFsyncs: w.inlineFsyncs, bytesWritten: w.bytesWritten, segmentsCreated: w.segmentsCreated, snapshotsSaved: this.snapshotsSaved };
  }

  segments(): readonly SegmentInfo[] {
    return this.wal.listSegments();
  }

  /**
   * Appends entries, then the hard state, and resolves once both are fsynced.
   * An entry at an index at or below the last one replaces the log from there.
   * `inlineSync`: the caller has nothing to overlap with the fsync (see
   * WriteAheadLog.sync); a round that also carries other callers' saves
   * still syncs in the thread pool.
   */
  save(hardState: HardState | null, entries: readonly Entry[], opts: { inlineSync?: boolean } = {}): Promise<void> {
    try {
      this.checkUsable();
    } catch (err) {
      return Promise.reject(err);
    }
    const items: WalItem[] = [];
    for (const e of entries) items.push({ kind: "entry", index: e.index, record: entryRecord(e) });
    // Entries first: a torn write can then lose the hard state with them but never keep a commit index without its entries.
    if (hardState) items.push({ kind: "hardState", hardState: { ...hardState }, record: hardStateRecord(hardState) });
    const p = this.enqueue(items, true, opts.inlineSync ?? false);
    this.terms.append(entries);
    this.saves++;
    return p;
  }

  /**
   * Records a hard state whose only change is the commit index, without an
   * fsync of its own: raft does not need it durable (a lost commit index is
   * learned again from the leader), so it is written in order with the other
   * records and becomes durable with the next save's fsync, or after
   * LAZY_COMMIT_SYNC_MS at the latest. Kept on disk because
   * --force-new-cluster keeps exactly the entries the persisted commit covers;
   * a process crash keeps it (page cache), a power loss within that window
   * may not — as etcd, which never syncs a commit-only change.
   */
  saveCommit(hardState: HardState): void {
    if (this.closed || this.failed) return;
    const items: WalItem[] = [{ kind: "hardState", hardState: { ...hardState }, record: hardStateRecord(hardState) }];
    this.enqueue(items, false).catch(() => undefined); // a failure marks the storage failed; the next save reports it
  }

  /**
   * Writes the snapshot file atomically, then a marker for it in the WAL, and
   * resolves once both are durable. Save later entries after this resolves.
   */
  async saveSnapshot(snap: Snapshot): Promise<void> {
    this.checkUsable();
    const { index, term } = snap.metadata;
    const cur = this.snapMarker;
    if (cur && (index < cur.index || (index === cur.index && term !== cur.term)))
      throw new SwarmError("FAILED_PRECONDITION", `snapshot at index ${index} (term ${term}) is older than the saved one at index ${cur.index} (term ${cur.term})`);
    if (cur && index === cur.index) return;
    const t0 = performance.now();
    await writeSnapshotFile(this.snapDir, snap);
    const t1 = performance.now();
    const marker = { index, term };
    await this.enqueue([{ kind: "marker", marker, record: snapshotMarkerRecord(marker) }]);
    log.debug({ index, fileMs: Math.round(t1 - t0), markerMs: Math.round(performance.now() - t1) }, "saved snapshot");
    this.snapMarker = marker;
    this.terms.restore(index, term);
    this.snapshotsSaved++;
  }

  /**
   * Deletes what the newest snapshot makes unnecessary: WAL segments whose
   * entries all lie below min(index, snapshot index), and snapshot files
   * older than the newest beyond keepOldSnapshots.
   */
  compact(index: number): Promise<{ segments: string[]; snapshots: string[] }> {
    return this.run(async () => {
      const upTo = Math.min(index, this.snapMarker?.index ?? 0);
      const segments = upTo > 0 ? await this.wal.releaseTo(upTo) : [];
      const snapshots: string[] = [];
      const newest = this.snapMarker?.index;
      if (newest !== undefined) {
        const old = (await listSnapshots(this.snapDir)).filter((s) => s.index < newest).sort((a, b) => b.index - a.index);
        for (const s of old.slice(this.keepOldSnapshots)) {
          await unlink(join(this.snapDir, s.name));
          snapshots.push(s.name);
        }
        if (snapshots.length > 0) await fsyncDir(this.snapDir);
      }
      if (segments.length + snapshots.length > 0) log.debug({ segments, snapshots }, "compacted raft storage");
      return { segments, snapshots };
    });
  }

  /** Waits for pending saves, then closes the WAL (which syncs what is still unsynced). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelLazySync();
    await this.chain;
    await this.wal.close();
  }

  private checkUsable(): void {
    if (this.closed) throw new SwarmError("FAILED_PRECONDITION", `raft storage in ${this.dir} is closed`);
    if (this.failed) throw new SwarmError("INTERNAL", `raft storage in ${this.dir} failed earlier and cannot be trusted: ${(this.failed as Error).message}`, { cause: this.failed });
  }

  private enqueue(items: WalItem[], sync = true, inline = false): Promise<void> {
    try {
      this.checkUsable();
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ items, sync, inline, resolve, reject });
      if (!this.flushQueued) {
        this.flushQueued = true;
        void this.run(() => this.flush()).catch(() => undefined);
      }
    });
  }

  private run<T>(op: () => Promise<T>): Promise<T> {
    const result = this.chain.then(op);
    this.chain = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private scheduleLazySync(): void {
    if (this.lazySync) return;
    this.lazySync = setTimeout(() => {
      this.lazySync = undefined;
      if (this.closed || this.failed) return;
      void this.run(async () => {
        try {
          await this.wal.sync();
        } catch (err) {
          this.failed ??= err;
          log.error({ err, dir: this.dir }, "raft WAL fsync failed; storage is now read-only");
        }
      });
    }, LAZY_COMMIT_SYNC_MS);
    this.lazySync.unref();
  }

  private cancelLazySync(): void {
    if (this.lazySync) clearTimeout(this.lazySync);
    this.lazySync = undefined;
  }

  /** One group-commit round: everything pending now, in call order, one fsync. */
  private async flush(): Promise<void> {
    this.flushQueued = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      if (this.failed) throw this.failed;
      const items = batch.length === 1 ? batch[0]!.items : batch.flatMap((p) => p.items);
      const sync = batch.some((p) => p.sync);
      const inline = sync && batch.every((p) => p.inline || !p.sync);
      if (sync) this.cancelLazySync();
      await this.wal.append(items, sync, inline);
      if (!sync) this.scheduleLazySync();
      this.flushes++;
    } catch (err) {
      // After a failed write or fsync the page cache state is unknown (fsyncgate): refuse all further writes.
      this.failed ??= err;
      log.error({ err, dir: this.dir }, "raft WAL write failed; storage is now read-only");
      for (const p of batch) p.reject(err);
      return;
    }
    for (const p of batch) p.resolve();
  }
}

/** Snapshot files by name; on open (only) also removes temp files of saves that crashed. */
async function listSnapshots(snapDir: string, removeTemp = false): Promise<{ name: string; term: number; index: number }[]> {
  const out: { name: string; term: number; index: number }[] = [];
  for (const name of await readdir(snapDir)) {
    const parsed = parseSnapName(name);
    if (parsed) out.push({ name, ...parsed });
    else if (removeTemp && name.endsWith(TMP_SUFFIX)) {
      log.warn({ file: join(snapDir, name) }, "removing leftover temporary snapshot file");
      await unlink(join(snapDir, name));
    }
  }
  return out;
}
