// When a manager takes its periodic snapshot. SwarmKit snapshots once
// `applied − last snapshot ≥ SnapshotInterval`, which puts every manager's
// snapshot at the same index and so at the same moment: on a shared machine
// (or shared storage) all of them encode and fsync megabytes together, and
// writes stall cluster-wide for that long (measured: 100–230 ms every 10,000
// writes at 64 writers on the 2-core VM). Here each manager keeps the same
// period but its own phase, taken from its raft ID, so at most one of them is
// usually snapshotting while the others carry the writes.

/** This member's offset in [0, interval): where in each interval its snapshots fall. */
export function snapshotPhase(raftId: number, interval: number): number {
  return interval > 0 ? raftId % interval : 0;
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
export function snapshotDue(applied: number, lastSnapshot: number, interval: number, raftId: number): boolean {
  if (interval <= 0) return false;
  const earliest = lastSnapshot + Math.ceil(interval / 2);
  if (applied < earliest) return false;
  const phase = snapshotPhase(raftId, interval);
  const point = earliest + ((((phase - earliest) % interval) + interval) % interval);
  return applied >= point;
}
