// File names in raft/wal and raft/snap. Fixed-width hex makes lexical order
// equal numeric order, so a directory listing shows the history at a glance.

const WAL_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;
const SNAP_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

export const TMP_SUFFIX = ".tmp";

function hex16(n: number): string {
  return n.toString(16).padStart(16, "0");
}

/** `<seq>-<firstIndex>.wal`: seq counts segments, firstIndex is the first entry index expected in it. */
export function walName(seq: number, firstIndex: number): string {
  return `${hex16(seq)}-${hex16(firstIndex)}.wal`;
}

export function parseWalName(name: string): { seq: number; firstIndex: number } | null {
  const m = WAL_RE.exec(name);
  if (!m) return null;
  return { seq: parseInt(m[1]!, 16), firstIndex: parseInt(m[2]!, 16) };
}

/** `<term>-<index>.snap`, as etcd and SwarmKit name them. */
export function snapName(term: number, index: number): string {
  return `${hex16(term)}-${hex16(index)}.snap`;
}

export function parseSnapName(name: string): { term: number; index: number } | null {
  const m = SNAP_RE.exec(name);
  if (!m) return null;
  return { term: parseInt(m[1]!, 16), index: parseInt(m[2]!, 16) };
}
