// Assignments stream: COMPLETE, then INCREMENTAL changes chained by sequence.
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import {
  AssignmentChange_AssignmentAction as Action,
  AssignmentsMessage_Type as Type,
  Config,
  ResourceType,
  Secret,
  TaskState,
  type AssignmentChange,
  type AssignmentsMessage,
} from "../../src/shared/api/index.js";
import { Collector, codeOf, harness, nodeObj, openSession, settle, taskObj, track, type Harness } from "./harness.js";

function summary(changes: readonly AssignmentChange[]): string[] {
  return changes
    .map((c) => `${c.action === Action.REMOVE ? "remove" : "update"} ${c.assignment?.item?.$case} ${c.assignment?.item?.value.id}`)
    .sort();
}

async function openAssignments(h: Harness, nodeId: string) {
  const s = await openSession(h, nodeId);
  const sink = new Collector<AssignmentsMessage>();
  const status = track(h.dispatcher.assignments(nodeId, { sessionId: s.sessionId }, sink));
  await settle();
  return { sink, status, session: s };
}

function withSecretAndConfig(id: string, nodeId: string, state: TaskState) {
  return taskObj(id, nodeId, state, {
    spec: {
      runtime: {
        $case: "container",
        value: { image: "nginx", secrets: [{ secretId: "sec1", secretName: "s" }], configs: [{ configId: "cfg1", configName: "c" }] },
      },
    },
  } as never);
}

describe("dispatcher assignments", () => {
  it("COMPLETE holds the node's tasks from ASSIGNED on, with their secrets and configs", async () => {
    const h = await harness({ nodes: [nodeObj("node1"), nodeObj("node2")] });
    await h.write((tx) => {
      tx.create("secret", Secret.fromPartial({ id: "sec1", spec: { annotations: { name: "s" }, data: Buffer.from("x") } }));
      tx.create("config", Config.fromPartial({ id: "cfg1", spec: { annotations: { name: "c" }, data: Buffer.from("y") } }));
      tx.create("task", taskObj("t1", "node1", TaskState.ASSIGNED));
      tx.create("task", taskObj("t2", "node1", TaskState.PENDING));
      tx.create("task", taskObj("t3", "node2", TaskState.ASSIGNED));
      tx.create("task", taskObj("t5", "node1", TaskState.RUNNING));
      tx.create("task", withSecretAndConfig("t4", "node1", TaskState.ASSIGNED));
    });
    const a = await openAssignments(h, "node1");
    assert.equal(a.sink.messages.length, 1);
    const m = a.sink.messages[0]!;
    assert.equal(m.type, Type.COMPLETE);
    assert.equal(m.appliesTo, "");
    assert.equal(m.resultsIn, "1");
    assert.deepEqual(summary(m.changes), ["update config cfg1", "update secret sec1", "update task t1", "update task t4", "update task t5"]);
    const secret = m.changes.find((c) => c.assignment?.item?.$case === "secret")!.assignment!.item!.value as Secret;
    assert.equal(Buffer.from(secret.spec!.data).toString(), "x");
    await h.dispatcher.stop();
  });

  it("INCREMENTAL: assigned, agent-only status changes suppressed, deleted, moved away", async () => {
    const h = await harness({ nodes: [nodeObj("node1"), nodeObj("node2")] });
    await h.write((tx) => {
      tx.create("secret", Secret.fromPartial({ id: "sec1", spec: { annotations: { name: "s" } } }));
      tx.create("config", Config.fromPartial({ id: "cfg1", spec: { annotations: { name: "c" } } }));
      tx.create("task", taskObj("t1", "node1", TaskState.ASSIGNED));
      tx.create("task", taskObj("t2", "node1", TaskState.PENDING));
    });
    const a = await openAssignments(h, "node1");
    assert.deepEqual(summary(a.sink.messages[0]!.changes), ["update task t1"]);

    // The scheduler assigns t2 and a task with dependencies.
    await h.write((tx) => {
      const t2 = structuredClone(tx.get("task", "t2")!);
      t2.status!.state = TaskState.ASSIGNED;
      tx.update("task", t2);
      tx.create("task", withSecretAndConfig("t4", "node1", TaskState.ASSIGNED));
    });
    await h.clock.advance(99);
    assert.equal(a.sink.messages.length, 1, "debounced for 100 ms");
    await h.clock.advance(1);
    assert.equal(a.sink.messages.length, 2);
    let m = a.sink.messages[1]!;
    assert.equal(m.type, Type.INCREMENTAL);
    assert.equal(m.appliesTo, "1");
    assert.equal(m.resultsIn, "2");
    assert.deepEqual(summary(m.changes), ["update config cfg1", "update secret sec1", "update task t2", "update task t4"]);

    // The agent reports RUNNING for t1: only the status changed, nothing to send.
    await h.write((tx) => {
      const t1 = structuredClone(tx.get("task", "t1")!);
      t1.status!.state = TaskState.RUNNING;
      tx.update("task", t1);
    });
    await h.clock.advance(200);
    assert.equal(a.sink.messages.length, 2);

    // The orchestrator changes desired state: sent.
    await h.write((tx) => {
      const t1 = structuredClone(tx.get("task", "t1")!);
      t1.desiredState = TaskState.SHUTDOWN;
      tx.update("task", t1);
    });
    await h.clock.advance(100);
    m = a.sink.messages[2]!;
    assert.equal(m.appliesTo, "2");
    assert.equal(m.resultsIn, "3");
    assert.deepEqual(summary(m.changes), ["update task t1"]);

    // Deleted, and moved to another node: REMOVE; t4's secret and config go with it.
    await h.write((tx) => {
      tx.delete("task", "t1");
      const t4 = structuredClone(tx.get("task", "t4")!);
      t4.nodeId = "node2";
      tx.update("task", t4);
    });
    await h.clock.advance(100);
    m = a.sink.messages[3]!;
    assert.equal(m.appliesTo, "3");
    assert.equal(m.resultsIn, "4");
    assert.deepEqual(summary(m.changes), ["remove config cfg1", "remove secret sec1", "remove task t1", "remove task t4"]);
    const removed = m.changes.find((c) => c.assignment?.item?.value.id === "t1")!;
    assert.equal(removed.assignment?.item?.$case, "task");

    // Tasks of other nodes never show up.
    await h.write((tx) => tx.create("task", taskObj("t9", "node2", TaskState.ASSIGNED)));
    await h.clock.advance(200);
    assert.equal(a.sink.messages.length, 4);
    await h.dispatcher.stop();
  });

  it("a task finishing releases dependencies no other task uses", async () => {
    const h = await harness();
    await h.write((tx) => {
      tx.create("config", Config.fromPartial({ id: "cfg1", spec: { annotations: { name: "c" } } }));
      tx.create("secret", Secret.fromPartial({ id: "sec1", spec: { annotations: { name: "s" } } }));
      tx.create("task", withSecretAndConfig("t1", "node1", TaskState.RUNNING));
      tx.create("task", withSecretAndConfig("t2", "node1", TaskState.RUNNING));
    });
    const a = await openAssignments(h, "node1");
    const finish = (id: string) =>
      h.write((tx) => {
        const t = structuredClone(tx.get("task", id)!);
        t.status!.state = TaskState.COMPLETE;
        tx.update("task", t);
      });
    await finish("t1");
    await h.clock.advance(200);
    assert.equal(a.sink.messages.length, 1, "t2 still uses them");
    await finish("t2");
    await h.clock.advance(100);
    assert.deepEqual(summary(a.sink.messages[1]!.changes), ["remove config cfg1", "remove secret sec1"]);
    await h.dispatcher.stop();
  });

  it("resource references: secrets and configs by reference type", async () => {
    const h = await harness();
    await h.write((tx) => {
      tx.create("config", Config.fromPartial({ id: "cfg2", spec: { annotations: { name: "c2" } } }));
      tx.create(
        "task",
        taskObj("t1", "node1", TaskState.ASSIGNED, {
          spec: { resourceReferences: [{ resourceId: "cfg2", resourceType: ResourceType.CONFIG }] },
        } as never),
      );
    });
    const a = await openAssignments(h, "node1");
    assert.deepEqual(summary(a.sink.messages[0]!.changes), ["update config cfg2", "update task t1"]);
    await h.dispatcher.stop();
  });

  it("a burst is sent 100 changes at a time", async () => {
    const h = await harness();
    const a = await openAssignments(h, "node1");
    await h.write((tx) => {
      for (let i = 0; i < 150; i++) tx.create("task", taskObj(`b${String(i).padStart(3, "0")}`, "node1", TaskState.ASSIGNED));
    });
    await settle();
    assert.equal(a.sink.messages.length, 2, "the first 100 at once");
    assert.equal(a.sink.messages[1]!.changes.length, 100);
    await h.clock.advance(100);
    assert.equal(a.sink.messages.length, 3);
    assert.equal(a.sink.messages[2]!.changes.length, 50);
    assert.equal(a.sink.messages[2]!.appliesTo, "2");
    assert.equal(a.sink.messages[2]!.resultsIn, "3");
    await h.dispatcher.stop();
  });

  it("the stream ends when the session expires", async () => {
    const h = await harness();
    const a = await openAssignments(h, "node1");
    await h.clock.advance(15_100);
    assert.equal(a.status.state, "failed");
    assert.equal(codeOf(a.status.error), "NOT_FOUND");
    await h.dispatcher.stop();
  });
});
