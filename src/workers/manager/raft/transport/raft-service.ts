// The server side of the raft transport: SwarmKit's Raft service. Messages
// are stepped into the local raft node in the order they arrive; a stream may
// carry many messages (our peers keep one open) or the chunks of one
// snapshot (reassembled before stepping). Authorization (managers of this
// cluster only, RAFT_POLICIES) is the remote API server's job.
import { status as Status, type ServiceError, type sendUnaryData } from "@grpc/grpc-js";
import {
  type ProcessRaftMessageResponse,
  type RaftServer,
  type ResolveAddressResponse,
  type StreamRaftMessageRequest,
  type StreamRaftMessageResponse,
  raftpb,
} from "../../../../shared/api/index.js";
import { SwarmError } from "../../../../shared/errors.js";
import { getLogger } from "../../../../shared/logging.js";
import { toServiceError } from "../../controlapi/errors.js";
import type { RaftNode } from "../raft-node.js";
import { fromWireMessage } from "./convert.js";
import { SnapshotAssembler } from "./snapshot-chunks.js";

const log = getLogger("raft/transport");

export interface RaftServiceOptions {
  /** The running raft node; undefined while it is not (yet) running — messages are then dropped. */
  node: () => RaftNode | undefined;
}

/** Steps one wire message into the node (dropped when no node runs or it is not addressed to it). */
function deliver(node: RaftNode | undefined, wire: raftpb.Message | undefined): void {
  if (!wire) throw new SwarmError("INVALID_ARGUMENT", "raft message is missing");
  if (!node) return;
  if (wire.to !== node.raftId) {
    log.debug({ to: wire.to.toString(16), self: node.raftId.toString(16) }, "dropping raft message addressed to another member");
    return;
  }
  // Only the leader proposes (SwarmKit drops forwarded proposals too).
  if (wire.type === raftpb.MessageType.MsgProp) return;
  node.step(fromWireMessage(wire));
}

/** Handlers plus control over the long-lived streams peers keep open to us. */
export class RaftMessageService {
  private readonly open = new Set<(err: unknown) => void>();
  private closed = false;

  constructor(private readonly opts: RaftServiceOptions) {}

  /**
   * Ends every incoming stream and refuses new ones (this manager stops):
   * otherwise a graceful server shutdown waits on peers' streams forever.
   */
  close(): void {
    this.closed = true;
    for (const end of [...this.open]) end(new SwarmError("UNAVAILABLE", "raft: this manager is stopping"));
    this.open.clear();
  }

  handlers(): RaftServer {
    const opts = this.opts;
    const stopping = (): SwarmError | undefined => (this.closed ? new SwarmError("UNAVAILABLE", "raft: this manager is stopping") : undefined);
    return {
      processRaftMessage(call, callback: sendUnaryData<ProcessRaftMessageResponse>) {
        try {
          const err = stopping();
          if (err) throw err;
          deliver(opts.node(), call.request.message);
          callback(null, {});
        } catch (err) {
          callback(toServiceError(err, "ProcessRaftMessage") as ServiceError);
        }
      },

      streamRaftMessage: (call, callback: sendUnaryData<StreamRaftMessageResponse>) => {
        const snap = new SnapshotAssembler();
        let done = false;
        const fail = (err: unknown): void => {
          if (done) return;
          done = true;
          this.open.delete(fail);
          callback(toServiceError(err, "StreamRaftMessage") as ServiceError);
        };
        const refused = stopping();
        if (refused) return fail(refused);
        this.open.add(fail);
        const flushSnapshot = (): void => {
          const m = snap.take();
          if (m) deliver(opts.node(), m);
        };
        call.on("data", (req: StreamRaftMessageRequest) => {
          if (done) return;
          try {
            const m = req.message;
            if (m?.type === raftpb.MessageType.MsgSnap) {
              if (snap.pending && !snap.continues(m)) flushSnapshot();
              snap.add(m);
              return;
            }
            flushSnapshot();
            deliver(opts.node(), m);
          } catch (err) {
            fail(err);
          }
        });
        call.on("end", () => {
          if (done) return;
          try {
            flushSnapshot();
          } catch (err) {
            fail(err);
            return;
          }
          done = true;
          this.open.delete(fail);
          callback(null, {});
        });
        call.on("error", (err) => {
          // The client went away (or cancelled): a partial snapshot is dropped.
          done = true;
          this.open.delete(fail);
          log.debug({ err: err.message }, "raft stream from peer ended with an error");
        });
      },

      resolveAddress(call, callback: sendUnaryData<ResolveAddressResponse>) {
        const node = opts.node();
        const member = node?.members().find((m) => m.raftId === call.request.raftId);
        if (!member) {
          callback({ code: Status.NOT_FOUND, details: `member ${call.request.raftId.toString(16)} not found` } as ServiceError);
          return;
        }
        callback(null, { addr: member.addr });
      },
    };
  }
}

/** The Raft service's handlers (without stream control; see RaftMessageService). */
export function raftServiceHandlers(opts: RaftServiceOptions): RaftServer {
  return new RaftMessageService(opts).handlers();
}
