// The agent's parts without Docker: backoff, status coalescing, task DB,
// manager list, api ↔ executor mapping, and the local (MessageChannel)
// dispatcher connection against an in-test LocalDispatcherApi.
import * as Comlink from "comlink";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { MessageChannel } from "node:worker_threads";
import { TaskState, type SessionMessage, type TaskStatus } from "../../src/shared/api/index.js";
import { connectApi, exposeApi } from "../../src/shared/channel/index.js";
import type { DispatcherStreamSink, LocalDispatcherApi } from "../../src/shared/contracts/index.js";
import { Backoff } from "../../src/workers/agent/backoff.js";
import { LocalDispatcherConnection } from "../../src/workers/agent/connection/local-connection.js";
import { Remotes, readStateFile } from "../../src/workers/agent/remotes.js";
import { StatusReporter, type StatusUpdate } from "../../src/workers/agent/status-reporter.js";
import { TaskDb } from "../../src/workers/agent/task-db.js";
import { toApiStatus, toContainerTask, toStepStatus } from "../../src/workers/agent/task-mapping.js";
import { containerTask, waitFor } from "./fake-dispatcher.js";

const status = (state: TaskState): TaskStatus => toApiStatus({ state, message: TaskState[state] ?? "" });

describe("backoff", () => {
  it("grows as 100 ms + 2·previous up to 8 s, waits below the bound and resets", () => {
    const b = new Backoff(100, 8000, () => 0.999);
    const bounds: number[] = [];
    for (let i = 0; i < 8; i++) {
      b.fail();
      bounds.push(b.boundMs);
    }
    assert.deepEqual(bounds, [100, 300, 700, 1500, 3100, 6300, 8000, 8000]);
    assert.ok(b.delayMs() < 8000);
    b.reset();
    assert.equal(b.delayMs(), 0);
  });
});

describe("status reporter", () => {
  it("coalesces per task, never goes below a reported state, and retries a failed batch", async () => {
    const sent: StatusUpdate[][] = [];
    let fail = true;
    const errors: unknown[] = [];
    const r = new StatusReporter({ batchDelayMs: 5, retryDelayMs: 20, onSendError: (e) => errors.push(e) });
    r.report("a", status(TaskState.ACCEPTED));
    r.report("a", status(TaskState.PREPARING));
    r.report("b", status(TaskState.RUNNING));
    r.report("b", status(TaskState.READY)); // lower than queued: dropped
    r.setSender(async (u) => {
      sent.push(u);
      if (fail) {
        fail = false;
        throw Object.assign(new Error("boom"), { code: "UNAVAILABLE" });
      }
    });
    await waitFor("two sends", () => sent.length >= 2, 5000);
    assert.equal(errors.length, 1);
    const last = sent[1]!;
    assert.deepEqual(
      last.map((u) => [u.taskId, u.status!.state]).sort(),
      [["a", TaskState.PREPARING], ["b", TaskState.RUNNING]],
    );
    r.report("b", status(TaskState.STARTING)); // below RUNNING, already sent
    r.report("a", status(TaskState.PREPARING)); // equal: re-reports are allowed
    await waitFor("third send", () => sent.length >= 3, 5000);
    assert.deepEqual(sent[2]!.map((u) => u.taskId), ["a"]);
    r.close();
  });

  it("holds updates while there is no session", async () => {
    const r = new StatusReporter({ batchDelayMs: 1 });
    r.report("a", status(TaskState.ACCEPTED));
    await new Promise((res) => setTimeout(res, 20));
    assert.equal(r.pendingCount, 1);
    r.close();
  });
});

describe("task DB", () => {
  it("stores one private file per task, survives reopening, deletes at once and drops junk", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "taskdb-"));
    try {
      const db = await TaskDb.open(dir);
      const t1 = containerTask("node1", "web", 1, "true");
      const t2 = containerTask("node1", "web", 2, "true");
      await db.put(t1, status(TaskState.RUNNING));
      await db.put(t2, status(TaskState.ACCEPTED));
      await db.put(t2, status(TaskState.PREPARING));
      assert.equal((await stat(path.join(dir, "worker"))).isDirectory(), true);
      assert.equal((await stat(path.join(db.dir, `${t1.id}.json`))).mode & 0o777, 0o600);
      await writeFile(path.join(db.dir, "garbage.json"), "{not json");
      const loaded = await (await TaskDb.open(dir)).load();
      assert.deepEqual(loaded.map((s) => s.task.id).sort(), [t1.id, t2.id].sort());
      const s2 = loaded.find((s) => s.task.id === t2.id)!;
      assert.equal(s2.status.state, TaskState.PREPARING);
      assert.deepEqual(s2.task.spec, t2.spec);
      assert.equal(s2.task.desiredState, TaskState.RUNNING);
      await db.delete(t1.id);
      await db.delete(t1.id); // twice is fine
      assert.deepEqual(await readdir(db.dir), [`${t2.id}.json`]);
      assert.throws(() => db.put({ ...t1, id: "../escape" }, status(TaskState.NEW)), /unsafe task ID/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("remotes", () => {
  it("walks the list on failure, adopts announced managers and persists them sorted", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "remotes-"));
    try {
      await writeFile(path.join(dir, "state.json"), JSON.stringify([{ node_id: "b", addr: "h2:1" }, { node_id: "a", addr: "h1:1" }]));
      const r = new Remotes(await readStateFile(dir), dir);
      assert.equal(r.select()!.addr, "h2:1");
      r.failed("h2:1");
      assert.equal(r.select()!.addr, "h1:1");
      r.failed("h1:1");
      assert.equal(r.select()!.addr, "h2:1");
      r.observe([{ peer: { nodeId: "z", addr: "h9:1" }, weight: 10 }, { peer: { nodeId: "c", addr: "h3:1" }, weight: 10 }], "h3:1");
      assert.equal(r.select()!.addr, "h3:1", "stays on the current manager");
      await r.flush();
      assert.deepEqual(JSON.parse(await readFile(path.join(dir, "state.json"), "utf8")), [
        { node_id: "c", addr: "h3:1" },
        { node_id: "z", addr: "h9:1" },
      ]);
      r.observe([], undefined); // an empty list never wipes what we know
      assert.equal(r.size, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("task mapping", () => {
  it("maps a container task and statuses both ways", () => {
    const t = containerTask("node1", "web", 3, "sleep 1", { a: "b" });
    const ct = toContainerTask(t);
    assert.equal(ct.serviceName, "web");
    assert.equal(ct.slot, 3);
    assert.deepEqual(ct.command, ["sh", "-c"]);
    assert.deepEqual(ct.args, ["sleep 1"]);
    assert.deepEqual(ct.taskLabels, { a: "b" });
    assert.equal(ct.stopGracePeriodMs, 1000);
    const s = toApiStatus({ state: TaskState.FAILED, message: "failed", err: "task: non-zero exit (2)", container: { containerId: "c1", pid: 0, exitCode: 2 } });
    assert.deepEqual(toStepStatus(s), { state: TaskState.FAILED, message: "failed", err: "task: non-zero exit (2)", container: { containerId: "c1", pid: 0, exitCode: 2 } });
    assert.throws(() => toContainerTask({ ...t, spec: { ...t.spec!, runtime: undefined } }), /unsupported runtime/);
  });
});

describe("local dispatcher connection", () => {
  it("runs Session and Assignments streams, heartbeats and status updates over a MessageChannel", { timeout: 10_000 }, async () => {
    const sinks = new Map<number, DispatcherStreamSink<SessionMessage>>();
    const ended: object[] = [];
    let nextId = 1;
    const cancelled: number[] = [];
    const updates: string[] = [];
    const api: LocalDispatcherApi = {
      async dispatcherSession(req, sink) {
        const id = nextId++;
        sinks.set(id, sink);
        sink.next({ sessionId: `s-${req.description?.hostname}`, node: undefined, managers: [], networkBootstrapKeys: [], RootCA: Buffer.alloc(0) });
        return id;
      },
      async dispatcherAssignments(_req, sink) {
        ended.push(sink);
        sink.end({ code: "UNIMPLEMENTED", message: "not here" });
        return nextId++;
      },
      dispatcherCancelStream(id) {
        cancelled.push(id);
      },
      async dispatcherHeartbeat() {
        return { period: { seconds: 2, nanos: 0 } };
      },
      async dispatcherUpdateTaskStatus(req) {
        updates.push(...req.updates.map((u) => u.taskId));
        return {};
      },
    };
    const { port1, port2 } = new MessageChannel();
    exposeApi(api, port1);
    const conn = connectApi<LocalDispatcherApi>(port2, { peer: "manager", timeoutMs: 2000 });
    const local = new LocalDispatcherConnection(conn.api, "node1");
    try {
      const got: string[] = [];
      let ended: Error | undefined | "open" = "open";
      const h = local.session(
        { description: { hostname: "h1", platform: undefined, resources: undefined, engine: undefined, tlsInfo: undefined, fips: false, csiInfo: [] }, sessionId: "" },
        { onMessage: (m) => got.push(m.sessionId), onEnd: (e) => (ended = e) },
      );
      await waitFor("session message", () => got.length === 1, 5000);
      assert.deepEqual(got, ["s-h1"]);
      assert.equal((await local.heartbeat({ sessionId: "s-h1" }, 1000)).period?.seconds, 2);
      await local.updateTaskStatus({ sessionId: "s-h1", updates: [{ taskId: "t1", status: status(TaskState.RUNNING) }] }, 1000);
      assert.deepEqual(updates, ["t1"]);
      let aerr: Error | undefined;
      local.assignments({ sessionId: "s-h1" }, { onMessage: () => undefined, onEnd: (e) => (aerr = e) });
      await waitFor("assignments end", () => aerr !== undefined, 5000);
      assert.match(aerr!.message, /not here/);
      assert.equal((aerr as Error & { code?: string }).code, "UNIMPLEMENTED");
      h.cancel();
      assert.equal(ended, undefined, "cancel ends without an error");
      await waitFor("manager told to cancel", () => cancelled.includes(1), 5000);
    } finally {
      local.close();
      conn.close();
      // The fake manager keeps the sinks; release their comlink ports as the real one does.
      for (const sink of [...sinks.values(), ...ended]) (sink as unknown as { [Comlink.releaseProxy](): void })[Comlink.releaseProxy]();
      port1.close();
      port2.close();
    }
  });
});
