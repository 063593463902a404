// When a manager takes its periodic snapshot. SwarmKit snapshots once
// `applied − last snapshot ≥ SnapshotInterval`, which puts every manager's
// snapshot at the same index and so at the same moment: on a shared machine
// (or shared storage) all of them encode and fsync megabytes together, and
// writes stall cluster-wide for that long (measured: 100–230 ms every 10,000
// writes at 64 writers on the 2-core VM). Here each manager keeps the same
// period but its own phase, spread evenly over the interval by its rank among
// the members' raft IDs, so only one of them snapshots at a time while the
// others carry the writes. (Phases taken from the raft ID alone, as at first,
// put two of three managers within a few hundred entries of each other in
// about one cluster in five, and their snapshots overlapped.)
//
// A snapshot encodes, checksums, writes and fsyncs the whole store, so with a
// fixed interval every write pays in proportion to the store's size: at
// 110,000 configs (a 40 MB snapshot) each 400-byte write carried 4 KB of
// snapshot work, and writes/s at 64 writers fell by a quarter. So a snapshot
// also waits until the log since the last one holds at least half that
// snapshot's bytes, as a log-structured store compacts in proportion to what
// was written: a write then pays at most about twice its own size, whatever
// the store's. Small stores are not affected (10,000 entries outweigh half of
// them); the WAL and the in-memory log keep at most about half a snapshot more.

/** This member's offset in [0, interval): where in each interval its snapshots fall. */
export function snapshotPhase(raftId: number, memberIds: readonly number[], interval: number): number {
  if (interval <= 0) return 0;
  const sorted = [...new Set(memberIds)].sort((a, b) => a - b);
  const rank = sorted.indexOf(raftId);
  // Not (yet) in the member list: any stable phase will do.
  if (rank < 0) return raftId % interval;
  return Math.floor((interval * rank) / sorted.length);
}

/**
 * Whether a snapshot is due: the applied index has reached this member's
 * first snapshot point (an index ≡ phase mod interval) that lies at least
 * half an interval after the last snapshot. So snapshots come exactly
 * `interval` entries apart in steady state, always on this member's phase,
 * and a snapshot just installed from the leader, or taken before a restart,
 * is followed by the next one after half to one and a half intervals. An
 * interval of 0 or less turns them off, as in SwarmKit.
 */
export function snapshotDue(applied: number, lastSnapshot: number, interval: number, phaseOf: () => number): boolean {
  if (interval <= 0) return false;
  const earliest = lastSnapshot + Math.ceil(interval / 2);
  if (applied < earliest) return false;
  // Only now: the phase sorts the member list, and the node asks on every Ready.
  const phase = phaseOf();
  const point = earliest + ((((phase - earliest) % interval) + interval) % interval);
  return applied >= point;
}

/** Share of the last snapshot's size the log must have grown by before the next snapshot. */
export const SNAPSHOT_LOG_SHARE = 0.5;

/**
 * Whether the log applied since the last snapshot (`logBytes`, entry data)
 * is large enough, against that snapshot's size, for another snapshot to pay
 * off. No snapshot yet (0 bytes) always is.
 */
export function logOutweighsSnapshot(logBytes: number, lastSnapshotBytes: number, share = SNAPSHOT_LOG_SHARE): boolean {
  return logBytes >= lastSnapshotBytes * share;
}
