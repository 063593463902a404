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

export function raftServiceHandlers(opts: RaftServiceOptions): RaftServer {
  return {
    processRaftMessage(call, callback: sendUnaryData<ProcessRaftMessageResponse>) {
      try {
        deliver(opts.node(), call.request.message);
        callback(null, {});
      } catch (err) {
        callback(toServiceError(err, "ProcessRaftMessage") as ServiceError);
      }
    },

    streamRaftMessage(call, callback: sendUnaryData<StreamRaftMessageResponse>) {
      const snap = new SnapshotAssembler();
      let done = false;
      const fail = (err: unknown): void => {
        if (done) return;
        done = true;
        callback(toServiceError(err, "StreamRaftMessage") as ServiceError);
      };
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
        callback(null, {});
      });
      call.on("error", (err) => {
        // The client went away (or cancelled): a partial snapshot is dropped.
        done = true;
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
