// The leader's end of ControlForwarder (proto/swarmkit_ts/forward.proto):
// every write a follower relays on its stream is served as the same call on
// the control socket would be, and answered by id as soon as it is done, so
// writes in flight run side by side as separate calls would. Streams from
// each follower replace a gRPC call per forwarded write: at 64 writes in flight
// through a follower, those calls' objects were most of what the two
// managers' young generations promoted, and the old-generation collections
// they caused stalled every write in flight.
import { status as Status, type ServerDuplexStream } from "@grpc/grpc-js";
import {
  ControlService,
  type ControlForwarderServer,
  type ForwardedResult,
  type ForwardedResults,
  type ForwardedWrite,
  type ForwardedWrites,
} from "../../../shared/api/index.js";
import type { ControlApi } from "./control-api.js";
import { BatchedSender } from "./forward-batch.js";
import { toStatus } from "./errors.js";
import { WRITE_METHODS, type WriteMethod } from "./methods.js";

const EMPTY = Buffer.alloc(0);

/** Control write methods by gRPC path. */
const WRITE_BY_PATH = new Map<string, WriteMethod>(WRITE_METHODS.map((m) => [ControlService[m].path, m]));

/** About an answer's encoded size in a batch. */
const resultSize = (r: ForwardedResult): number => r.response.length + r.details.length + 16;

export interface ForwardServiceOptions {
  /** Why this stream's caller may no longer relay writes (removed from the cluster since it connected), or undefined. */
  refusal?: (call: ServerDuplexStream<ForwardedWrites, ForwardedResults>) => string | undefined;
}

export function controlForwarderHandlers(api: Pick<ControlApi, "relayed">, opts: ForwardServiceOptions = {}): ControlForwarderServer {
  return {
    forward(call: ServerDuplexStream<ForwardedWrites, ForwardedResults>) {
      let inFlight = 0;
      let halfClosed = false;
      let done = false;
      const out = new BatchedSender<ForwardedResult, ForwardedResults>(call, (results) => ({ results }), resultSize);
      const answer = (r: ForwardedResult): void => {
        if (!done && !call.cancelled) out.send(r);
      };
      const refuse = (id: number, code: Status, details: string): void => answer({ id, code, details, response: EMPTY });
      // The follower closed its side: finish once every write it sent is answered.
      const maybeEnd = (): void => {
        if (halfClosed && inFlight === 0 && !done) {
          done = true;
          out.whenDrained(() => call.end());
        }
      };
      const serve = (w: ForwardedWrite): void => {
        const method = WRITE_BY_PATH.get(w.method);
        if (method === undefined) return refuse(w.id, Status.UNIMPLEMENTED, `${w.method || "(no method)"} is not a Control write this manager relays`);
        const refusal = opts.refusal?.(call);
        if (refusal !== undefined) return refuse(w.id, Status.PERMISSION_DENIED, refusal);
        inFlight++;
        api.relayed(method, w.request).then(
          (response) => answer({ id: w.id, code: Status.OK, details: "", response }),
          (err: unknown) => {
            const s = toStatus(err, method);
            refuse(w.id, s.code, s.details);
          },
        ).finally(() => {
          inFlight--;
          maybeEnd();
        });
      };
      call.on("data", (batch: ForwardedWrites) => {
        for (const w of batch.writes) serve(w);
      });
      call.on("end", () => {
        halfClosed = true;
        maybeEnd();
      });
      // Cancelled by the follower (its leader changed, it stopped): answers have nowhere to go.
      call.on("error", () => {
        done = true;
        out.close();
      });
    },
  };
}
