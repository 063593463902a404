// Raft storage: WAL segments and snapshot files under <state-dir>/raft.
export { RaftStorage, type RaftStorageOptions, type RecoveredState, type StorageStats } from "./raft-storage.js";
export { DEFAULT_SEGMENT_SIZE, type Repair, type SegmentInfo } from "./wal.js";
export { measureFsyncLatency, type FsyncLatency } from "./fsync-latency.js";
export type { SnapshotMarker } from "./records.js";
