// The MessageChannel-facing adapter (LocalDispatcherApi), without comlink.
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import type { SessionMessage } from "../../src/shared/api/index.js";
import type { StreamEndError } from "../../src/shared/contracts/index.js";
import { localDispatcherApi, localEndpoint } from "../../src/workers/manager/dispatcher/index.js";
import { harness, settle } from "./harness.js";

describe("local dispatcher API", () => {
  it("streams to a sink, cancels with a plain end(), and keeps error codes", async () => {
    const h = await harness();
    const api = localDispatcherApi(localEndpoint(h.dispatcher), () => ({
      nodeId: "node1",
      role: "swarm-manager",
      clusterId: "c",
      remoteAddr: "10.0.0.1:4242",
    }));
    const got: SessionMessage[] = [];
    const ends: Array<StreamEndError | undefined> = [];
    const id = await api.dispatcherSession({ sessionId: "", description: undefined }, { next: (m) => got.push(m), end: (e) => ends.push(e) });
    await h.clock.advance(100);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.node?.status?.addr, "10.0.0.1");
    const hb = await api.dispatcherHeartbeat({ sessionId: got[0]!.sessionId });
    assert.deepEqual(hb.period, { seconds: 5, nanos: 0 });
    api.dispatcherCancelStream(id);
    await settle();
    assert.deepEqual(ends, [undefined]);
    await assert.rejects(api.dispatcherHeartbeat({ sessionId: "bad" }), (e: Error & { code?: string }) => e.code === "INVALID_ARGUMENT" && e.message === "session invalid");

    // A refused stream ends with the code.
    const ends2: Array<StreamEndError | undefined> = [];
    await api.dispatcherAssignments({ sessionId: "bad" }, { next: () => undefined, end: (e) => ends2.push(e) });
    await settle();
    assert.deepEqual(ends2, [{ code: "INVALID_ARGUMENT", message: "session invalid" }]);
    await h.dispatcher.stop();
  });
});
