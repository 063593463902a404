// Snapshots bigger than gRPC's message limit travel as several
// StreamRaftMessage requests on one stream (SwarmKit's splitSnapshotData):
// every chunk is the same MsgSnap (same index and metadata) carrying a slice
// of the snapshot data; the receiver concatenates the slices.
import { StreamRaftMessageRequest, raftpb } from "../../../../shared/api/index.js";
import { SwarmError } from "../../../../shared/errors.js";
import { GRPC_MAX_MSG_SIZE } from "../../../../shared/grpc-limits.js";

/** Room for the length prefixes that grow when data is put back into a chunk. */
const FRAMING_SLACK = 64;

/** The wire size of one request carrying `m`. */
export function requestSize(m: raftpb.Message): number {
  return StreamRaftMessageRequest.encode({ message: m }).finish().length;
}

/** Splits a MsgSnap into requests of at most maxMsgSize bytes each (one chunk when it fits). */
export function splitSnapshot(m: raftpb.Message, maxMsgSize = GRPC_MAX_MSG_SIZE): raftpb.Message[] {
  const data = m.snapshot?.data ?? Buffer.alloc(0);
  const bare: raftpb.Message = { ...m, snapshot: { metadata: m.snapshot?.metadata, data: Buffer.alloc(0) } };
  const payload = maxMsgSize - requestSize(bare) - FRAMING_SLACK;
  if (payload <= 0) throw new SwarmError("INVALID_ARGUMENT", `raft snapshot message metadata alone exceeds ${maxMsgSize} bytes`);
  if (data.length <= payload) return [m];
  const chunks: raftpb.Message[] = [];
  for (let off = 0; off < data.length; off += payload) {
    chunks.push({ ...bare, snapshot: { metadata: m.snapshot?.metadata, data: data.subarray(off, Math.min(off + payload, data.length)) } });
  }
  return chunks;
}

/**
 * Receiver side: collects consecutive MsgSnap chunks of one snapshot. A
 * chunk of another snapshot (or another sender) or the end of the stream
 * completes what was collected.
 */
export class SnapshotAssembler {
  private first: raftpb.Message | undefined;
  private parts: Buffer[] = [];
  private bytes = 0;

  /** True if `m` continues the snapshot being collected. */
  continues(m: raftpb.Message): boolean {
    const f = this.first;
    return f !== undefined && m.type === raftpb.MessageType.MsgSnap && m.from === f.from && m.index === f.index &&
      m.term === f.term && m.snapshot?.metadata?.index === f.snapshot?.metadata?.index;
  }

  get pending(): boolean {
    return this.first !== undefined;
  }

  add(m: raftpb.Message): void {
    if (this.first !== undefined && !this.continues(m)) throw new Error("snapshot chunk does not continue the pending snapshot");
    this.first ??= m;
    const d = m.snapshot?.data;
    if (d && d.length > 0) {
      this.parts.push(d);
      this.bytes += d.length;
    }
  }

  /** The reassembled message, or undefined if nothing is pending. */
  take(): raftpb.Message | undefined {
    const f = this.first;
    if (!f) return undefined;
    const data = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.bytes);
    this.first = undefined;
    this.parts = [];
    this.bytes = 0;
    return { ...f, snapshot: { metadata: f.snapshot?.metadata, data } };
  }
}
