import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TaskState, isTerminalState, taskStateName } from "../../../src/workers/agent/executor/task-state.js";

describe("task states", () => {
  it("carry SwarmKit's numeric values in increasing order", () => {
    const order = ["NEW", "PENDING", "ASSIGNED", "ACCEPTED", "PREPARING", "READY", "STARTING", "RUNNING", "COMPLETE", "SHUTDOWN", "FAILED", "REJECTED", "REMOVE", "ORPHANED"] as const;
    const values = order.map((n) => TaskState[n]);
    assert.deepEqual(values, [0, 64, 192, 256, 320, 384, 448, 512, 576, 640, 704, 768, 800, 832]);
  });
  it("name and classify states", () => {
    assert.equal(taskStateName(512), "RUNNING");
    assert.equal(taskStateName(1), "UNKNOWN(1)");
    assert.equal(isTerminalState(TaskState.RUNNING), false);
    assert.equal(isTerminalState(TaskState.FAILED), true);
  });
});
