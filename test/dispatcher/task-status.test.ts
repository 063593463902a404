// UpdateTaskStatus: ownership check, batched writes, no state regression.
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { TaskState, TaskStatus } from "../../src/shared/api/index.js";
import { MANAGER_ID, codeOf, harness, nodeObj, openSession, taskObj } from "./harness.js";

const status = (state: TaskState, message = "") => TaskStatus.fromPartial({ state, message });

describe("dispatcher UpdateTaskStatus", () => {
  it("many updates are written in few transactions, with appliedBy/appliedAt", async () => {
    const h = await harness();
    const N = 1000;
    await h.write((tx) => {
      for (let i = 0; i < N; i++) tx.create("task", taskObj(`t${i}`, "node1", TaskState.ASSIGNED));
    });
    const s = await openSession(h, "node1");
    const before = h.proposer.proposals;
    for (let r = 0; r < 10; r++) {
      const updates = [];
      for (let i = r * 100; i < (r + 1) * 100; i++) updates.push({ taskId: `t${i}`, status: status(TaskState.RUNNING, "started") });
      await h.dispatcher.updateTaskStatus("node1", { sessionId: s.sessionId, updates });
    }
    assert.equal(h.store.get("task", "t0")!.status?.state, TaskState.ASSIGNED, "nothing written before the batch interval");
    await h.clock.advance(100);
    const txs = h.proposer.proposals - before;
    // 1000 changes at most 200 per transaction.
    assert.ok(txs <= 5, `${txs} transactions for ${N} updates`);
    for (let i = 0; i < N; i += 97) {
      const t = h.store.get("task", `t${i}`)!;
      assert.equal(t.status?.state, TaskState.RUNNING);
      assert.equal(t.status?.message, "started");
      assert.equal(t.status?.appliedBy, MANAGER_ID);
      assert.equal(t.status?.appliedAt?.getTime(), h.clock.now());
    }
    await h.dispatcher.stop();
  });

  it("the last report per task wins within a batch", async () => {
    const h = await harness();
    await h.write((tx) => tx.create("task", taskObj("t1", "node1", TaskState.ASSIGNED)));
    const s = await openSession(h, "node1");
    await h.dispatcher.updateTaskStatus("node1", { sessionId: s.sessionId, updates: [{ taskId: "t1", status: status(TaskState.PREPARING) }] });
    await h.dispatcher.updateTaskStatus("node1", { sessionId: s.sessionId, updates: [{ taskId: "t1", status: status(TaskState.STARTING) }] });
    const before = h.proposer.proposals;
    await h.clock.advance(100);
    assert.equal(h.proposer.proposals - before, 1);
    assert.equal(h.store.get("task", "t1")!.status?.state, TaskState.STARTING);
    await h.dispatcher.stop();
  });

  it("a state never goes backwards; identical statuses are not rewritten", async () => {
    const h = await harness();
    await h.write((tx) => tx.create("task", taskObj("t1", "node1", TaskState.RUNNING)));
    const s = await openSession(h, "node1");
    const v0 = h.store.get("task", "t1")!.meta!.version!.index;
    await h.dispatcher.updateTaskStatus("node1", { sessionId: s.sessionId, updates: [{ taskId: "t1", status: status(TaskState.STARTING, "late") }] });
    await h.clock.advance(100);
    const t = h.store.get("task", "t1")!;
    assert.equal(t.status?.state, TaskState.RUNNING);
    assert.equal(t.status?.message, "test");
    assert.equal(t.meta!.version!.index, v0, "no write at all");
    // Same state, different message: a forward (equal) transition is applied.
    await h.dispatcher.updateTaskStatus("node1", { sessionId: s.sessionId, updates: [{ taskId: "t1", status: status(TaskState.RUNNING, "still") }] });
    await h.clock.advance(100);
    assert.equal(h.store.get("task", "t1")!.status?.message, "still");
    await h.dispatcher.updateTaskStatus("node1", { sessionId: s.sessionId, updates: [{ taskId: "t1", status: status(TaskState.FAILED, "exit 1") }] });
    await h.clock.advance(100);
    assert.equal(h.store.get("task", "t1")!.status?.state, TaskState.FAILED);
    await h.dispatcher.stop();
  });

  it("a task of another node is refused with PERMISSION_DENIED; nothing of the request is queued", async () => {
    const h = await harness({ nodes: [nodeObj("node1"), nodeObj("node2")] });
    await h.write((tx) => {
      tx.create("task", taskObj("mine", "node1", TaskState.ASSIGNED));
      tx.create("task", taskObj("theirs", "node2", TaskState.ASSIGNED));
    });
    const s = await openSession(h, "node1");
    await assert.rejects(
      h.dispatcher.updateTaskStatus("node1", {
        sessionId: s.sessionId,
        updates: [
          { taskId: "mine", status: status(TaskState.RUNNING) },
          { taskId: "theirs", status: status(TaskState.RUNNING) },
        ],
      }),
      (e: Error) => codeOf(e) === "PERMISSION_DENIED" && e.message === "cannot update a task not assigned this node",
    );
    await h.clock.advance(100);
    assert.equal(h.store.get("task", "mine")!.status?.state, TaskState.ASSIGNED);
    assert.equal(h.store.get("task", "theirs")!.status?.state, TaskState.ASSIGNED);
    await h.dispatcher.stop();
  });

  it("missing tasks and missing statuses are skipped", async () => {
    const h = await harness();
    await h.write((tx) => tx.create("task", taskObj("t1", "node1", TaskState.ASSIGNED)));
    const s = await openSession(h, "node1");
    const res = await h.dispatcher.updateTaskStatus("node1", {
      sessionId: s.sessionId,
      updates: [
        { taskId: "gone", status: status(TaskState.RUNNING) },
        { taskId: "t1", status: undefined },
      ],
    });
    assert.deepEqual(res, {});
    await h.dispatcher.stop();
  });

  it("tasks of a node DOWN for the down period become ORPHANED", async () => {
    const h = await harness();
    await h.write((tx) => {
      tx.create("task", taskObj("run", "node1", TaskState.RUNNING));
      tx.create("task", taskObj("done", "node1", TaskState.COMPLETE));
    });
    await openSession(h, "node1");
    await h.clock.advance(15_100); // heartbeat failure → DOWN
    await h.clock.advance(24 * 3600 * 1000);
    assert.equal(h.store.get("task", "run")!.status?.state, TaskState.ORPHANED);
    assert.equal(h.store.get("task", "done")!.status?.state, TaskState.COMPLETE);
    await h.dispatcher.stop();
  });
});
