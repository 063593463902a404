// Session registration, heartbeats and node up/down detection.
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { NodeStatus_State, type SessionMessage } from "../../src/shared/api/index.js";
import { isId } from "../../src/shared/ids.js";
import { Collector, MANAGER_ID, ROOT_CA_PEM, codeOf, harness, nodeObj, openSession, settle, track } from "./harness.js";

describe("dispatcher sessions", () => {
  it("registers a node: READY with the caller's IP and description, first message complete", async () => {
    const h = await harness();
    const s = await openSession(h, "node1", { hostname: "worker-a", remoteAddr: "192.168.1.7:50123" });
    assert.equal(s.status.state, "open");
    assert.equal(s.sink.messages.length, 1);
    const first = s.sink.messages[0]!;
    assert.ok(isId(first.sessionId), `session ID ${first.sessionId}`);
    assert.equal(first.node?.id, "node1");
    assert.equal(first.node?.status?.state, NodeStatus_State.READY);
    assert.equal(first.node?.status?.addr, "192.168.1.7");
    assert.equal(first.node?.description?.hostname, "worker-a");
    assert.deepEqual(first.managers, [{ peer: { nodeId: MANAGER_ID, addr: "10.0.0.1:4242" }, weight: 10 }]);
    assert.equal(Buffer.from(first.RootCA).toString(), ROOT_CA_PEM);
    const stored = h.store.get("node", "node1")!;
    assert.equal(stored.status?.state, NodeStatus_State.READY);
    assert.equal(stored.status?.message, "");
    assert.equal(stored.description?.hostname, "worker-a");
    await h.dispatcher.stop();
  });

  it("sends a new message when the node object or the manager list changes", async () => {
    const h = await harness();
    const s = await openSession(h, "node1");
    await h.write((tx) => {
      const n = structuredClone(tx.get("node", "node1")!);
      n.spec!.annotations!.labels = { zone: "a" };
      tx.update("node", n);
    });
    await settle();
    assert.equal(s.sink.messages.length, 2);
    assert.deepEqual(s.sink.last?.node?.spec?.annotations?.labels, { zone: "a" });
    assert.equal(s.sink.last?.sessionId, s.sessionId);

    h.managers.push({ nodeId: "manager2", addr: "10.0.0.2:4242" });
    h.dispatcher.managersChanged();
    await settle();
    assert.equal(s.sink.messages.length, 3);
    assert.deepEqual(
      s.sink.last?.managers.map((m) => m.peer?.nodeId),
      [MANAGER_ID, "manager2"],
    );
    h.dispatcher.managersChanged(); // unchanged: nothing sent
    await settle();
    assert.equal(s.sink.messages.length, 3);
    await h.dispatcher.stop();
  });

  it("refuses a node that is not in the store", async () => {
    const h = await harness();
    await assert.rejects(h.dispatcher.session("ghost", { sessionId: "", description: undefined }, new Collector()), (e: Error) => {
      assert.equal(codeOf(e), "NOT_FOUND");
      assert.equal(e.message, "node not found");
      return true;
    });
    await h.dispatcher.stop();
  });

  it("rate-limits registrations: more than 3 within 8 s are refused", async () => {
    const h = await harness();
    // node1 is in the registry as UNKNOWN (leader start), so every registration counts.
    for (let i = 0; i < 3; i++) {
      const s = await openSession(h, "node1");
      assert.equal(s.status.state, "open", `registration ${i + 1}`);
      await h.clock.advance(1000);
    }
    const sink = new Collector();
    await assert.rejects(h.dispatcher.session("node1", { sessionId: "", description: undefined }, sink as never), (e: Error) => {
      assert.equal(codeOf(e), "UNAVAILABLE");
      assert.equal(e.message, "node node1 exceeded rate limit count of registrations");
      return true;
    });
    await h.clock.advance(8_001);
    // The refused attempt has not reset the window's start; 8 s after the last success it is open again.
    const again = await openSession(h, "node1");
    assert.equal(again.status.state, "open");
    await h.dispatcher.stop();
  });

  it("re-opening with the current session ID keeps the session", async () => {
    const h = await harness();
    const a = await openSession(h, "node1");
    a.sink.close();
    await settle();
    const b = await openSession(h, "node1", { sessionId: a.sessionId });
    assert.equal(b.sessionId, a.sessionId);
    await h.dispatcher.stop();
  });

  it("a new registration ends the old session's stream with 'session invalid'", async () => {
    const h = await harness();
    const a = await openSession(h, "node1");
    const b = await openSession(h, "node1");
    assert.notEqual(a.sessionId, b.sessionId);
    await settle();
    assert.equal(a.status.state, "failed");
    assert.equal(codeOf(a.status.error), "INVALID_ARGUMENT");
    assert.equal(a.status.error?.message, "session invalid");
    assert.equal(b.status.state, "open");
    await h.dispatcher.stop();
  });

  it("heartbeats keep a node alive and return the cluster's period", async () => {
    const h = await harness();
    const s = await openSession(h, "node1");
    for (let i = 0; i < 12; i++) {
      const res = await h.dispatcher.heartbeat("node1", { sessionId: s.sessionId });
      assert.deepEqual(res.period, { seconds: 5, nanos: 0 });
      await h.clock.advance(5_000);
    }
    assert.equal(s.status.state, "open");
    assert.equal(h.store.get("node", "node1")!.status?.state, NodeStatus_State.READY);
    await h.dispatcher.stop();
  });

  it("uses the heartbeat period from the cluster object, live", async () => {
    const h = await harness({ heartbeatSeconds: 2 });
    const s = await openSession(h, "node1");
    assert.deepEqual((await h.dispatcher.heartbeat("node1", { sessionId: s.sessionId })).period, { seconds: 2, nanos: 0 });
    await h.write((tx) => {
      const c = structuredClone(tx.get("cluster", "cluster1")!);
      c.spec!.dispatcher = { heartbeatPeriod: { seconds: 7, nanos: 0 } };
      tx.update("cluster", c);
    });
    await settle();
    assert.deepEqual((await h.dispatcher.heartbeat("node1", { sessionId: s.sessionId })).period, { seconds: 7, nanos: 0 });
    // A cluster change is also pushed to open sessions.
    assert.equal(s.sink.messages.length, 2);
    await h.dispatcher.stop();
  });

  it("jitters the period within ±0.5 s", async () => {
    let r = 0;
    const h = await harness({ start: false });
    const { Dispatcher } = await import("../../src/workers/manager/dispatcher/dispatcher.js");
    const d = new Dispatcher({ nodeId: MANAGER_ID, managers: () => [], clock: h.clock, random: () => r });
    await d.start(h.store, h.proposer);
    const sink = new Collector<SessionMessage>();
    const s = track(d.session("node1", { sessionId: "", description: undefined }, sink));
    await h.clock.advance(100);
    assert.equal(s.state, "open");
    const sid = sink.messages[0]!.sessionId;
    r = 0;
    assert.deepEqual((await d.heartbeat("node1", { sessionId: sid })).period, { seconds: 4, nanos: 500_000_000 });
    r = 0.999999;
    const hi = (await d.heartbeat("node1", { sessionId: sid })).period!;
    assert.ok(hi.seconds === 5 && hi.nanos >= 499_000_000, JSON.stringify(hi));
    await d.stop();
  });

  it("missed heartbeats: node DOWN 'heartbeat failure' after 3 periods, session dropped", async () => {
    const h = await harness();
    const s = await openSession(h, "node1");
    await h.dispatcher.heartbeat("node1", { sessionId: s.sessionId });
    await h.clock.advance(14_900);
    assert.equal(s.status.state, "open", "still within 3 × 5 s");
    await h.clock.advance(200); // expiry, then the 100 ms batch
    const n = h.store.get("node", "node1")!;
    assert.equal(n.status?.state, NodeStatus_State.DOWN);
    assert.equal(n.status?.message, "heartbeat failure");
    assert.equal(n.status?.addr, "192.168.1.7", "the address is kept");
    assert.equal(s.status.state, "failed");
    assert.equal(codeOf(s.status.error), "NOT_FOUND");
    assert.equal(s.status.error?.message, "node not registered");
    await assert.rejects(h.dispatcher.heartbeat("node1", { sessionId: s.sessionId }), /node not registered/);
    await h.dispatcher.stop();
  });

  it("session checks: empty or stale session ID is invalid, unknown node is not registered", async () => {
    const h = await harness({ nodes: [nodeObj("node1"), nodeObj("node2")] });
    const s = await openSession(h, "node1");
    await assert.rejects(h.dispatcher.heartbeat("node1", { sessionId: "" }), (e: Error) => codeOf(e) === "INVALID_ARGUMENT" && e.message === "session invalid");
    await assert.rejects(h.dispatcher.heartbeat("node1", { sessionId: "nope" }), (e: Error) => codeOf(e) === "INVALID_ARGUMENT");
    // node2 only has an UNKNOWN entry: no session yet.
    await assert.rejects(h.dispatcher.heartbeat("node2", { sessionId: s.sessionId }), (e: Error) => codeOf(e) === "INVALID_ARGUMENT");
    await assert.rejects(h.dispatcher.heartbeat("node9", { sessionId: s.sessionId }), (e: Error) => codeOf(e) === "NOT_FOUND" && e.message === "node not registered");
    await assert.rejects(
      h.dispatcher.updateTaskStatus("node1", { sessionId: "stale", updates: [] }),
      (e: Error) => codeOf(e) === "INVALID_ARGUMENT",
    );
    await assert.rejects(
      h.dispatcher.assignments("node1", { sessionId: "stale" }, new Collector()),
      (e: Error) => codeOf(e) === "INVALID_ARGUMENT",
    );
    await h.dispatcher.stop();
  });

  it("on start, live nodes become UNKNOWN with 6 periods of grace; DOWN nodes stay DOWN", async () => {
    const h = await harness({
      start: false,
      nodes: [nodeObj("node1", "a", NodeStatus_State.READY), nodeObj("node2", "b", NodeStatus_State.DOWN), nodeObj("node3", "c", NodeStatus_State.READY)],
    });
    await h.dispatcher.start(h.store, h.proposer);
    const n1 = h.store.get("node", "node1")!;
    assert.equal(n1.status?.state, NodeStatus_State.UNKNOWN);
    assert.equal(n1.status?.message, 'Node moved to "unknown" state due to leadership change in cluster');
    assert.equal(h.store.get("node", "node2")!.status?.state, NodeStatus_State.DOWN);
    const s3 = await openSession(h, "node3");
    assert.equal(s3.status.state, "open");
    await h.clock.advance(29_000);
    assert.equal(h.store.get("node", "node1")!.status?.state, NodeStatus_State.UNKNOWN, "6 × 5 s not yet over");
    await h.clock.advance(1_200);
    const after = h.store.get("node", "node1")!;
    assert.equal(after.status?.state, NodeStatus_State.DOWN);
    assert.equal(after.status?.message, 'heartbeat failure for node in "unknown" state');
    // node3 registered but never beat: 3 periods after registration it expired too.
    assert.equal(h.store.get("node", "node3")!.status?.message, "heartbeat failure");
    await h.dispatcher.stop();
  });

  it("stop: the session gets a last message and ends with 'node must disconnect'; calls then fail", async () => {
    const h = await harness();
    const s = await openSession(h, "node1");
    await h.dispatcher.stop();
    await settle();
    assert.equal(s.sink.messages.length, 2);
    assert.equal(s.status.state, "failed");
    assert.equal(codeOf(s.status.error), "ABORTED");
    assert.equal(s.status.error?.message, "node must disconnect");
    await assert.rejects(h.dispatcher.heartbeat("node1", { sessionId: s.sessionId }), (e: Error) => codeOf(e) === "ABORTED" && e.message === "dispatcher is stopped");
    assert.equal(h.clock.pendingTimers, 0, "no timer left behind");
    // A restarted dispatcher starts from scratch.
    await h.dispatcher.start(h.store, h.proposer);
    await assert.rejects(h.dispatcher.heartbeat("node1", { sessionId: s.sessionId }), (e: Error) => codeOf(e) === "INVALID_ARGUMENT");
    await h.dispatcher.stop();
  });
});
