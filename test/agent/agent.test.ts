// The agent against a scripted gRPC dispatcher (mutual TLS) and the real
// local Docker engine (scripts/docker-engine.sh; these tests fail, never
// skip, when it cannot start). Every test uses its own node ID, so cleanup
// removes exactly its containers.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import type Docker from "dockerode";
import { TaskState } from "../../src/shared/api/index.js";
import { LABEL_NODE_ID, LABEL_SERVICE_NAME, LABEL_TASK_ID, DockerExecutor } from "../../src/workers/agent/executor/index.js";
import type { Agent } from "../../src/workers/agent/agent.js";
import { TaskDb } from "../../src/workers/agent/task-db.js";
import { rawDocker, removeContainersByLabel, startEngine, uniqueId } from "../helpers/engine.js";
import { FakeDispatcher, containerTask, makePki, waitFor, type Pki } from "./fake-dispatcher.js";
import { deadPort, newNode, startAgent, type NodeSetup } from "./helpers.js";

function increasing(states: number[]): boolean {
  return states.every((s, i) => i === 0 || s > states[i - 1]!);
}

async function containerGone(docker: Docker, name: string): Promise<boolean> {
  try {
    await docker.getContainer(name).inspect();
    return false;
  } catch (err) {
    return (err as { statusCode?: number }).statusCode === 404;
  }
}

describe("agent with a gRPC dispatcher and the real engine", () => {
  let engineAddr: string;
  let docker: Docker;
  let pki: Pki;
  const agents: Agent[] = [];
  const dispatchers: FakeDispatcher[] = [];
  const nodes: NodeSetup[] = [];

  before(async () => {
    engineAddr = await startEngine();
    docker = rawDocker(engineAddr);
    pki = await makePki();
  });

  after(async () => {
    for (const a of agents) await a.stop();
    for (const d of dispatchers) d.stop();
    for (const n of nodes) {
      await removeContainersByLabel(engineAddr, LABEL_NODE_ID, n.nodeId);
      await rm(n.stateDir, { recursive: true, force: true });
    }
  });

  async function dispatcher(): Promise<FakeDispatcher> {
    const d = await FakeDispatcher.start(pki);
    dispatchers.push(d);
    return d;
  }

  async function node(managers: Array<{ node_id: string; addr: string }>): Promise<NodeSetup> {
    const n = await newNode(pki, managers);
    nodes.push(n);
    return n;
  }

  async function agent(n: NodeSetup, addr = engineAddr): Promise<Agent> {
    const a = await startAgent(n, addr);
    agents.push(a);
    return a;
  }

  async function stopAgent(a: Agent): Promise<void> {
    await a.stop();
    agents.splice(agents.indexOf(a), 1);
  }

  it("registers its description, runs assigned tasks, removes unassigned ones and adopts running containers after a restart", { timeout: 120_000 }, async () => {
    const d = await dispatcher();
    d.heartbeatPeriodMs = 300;
    const n = await node([{ node_id: d.nodeId, addr: d.addr }]);
    const svc = uniqueId("svc");
    const t1 = containerTask(n.nodeId, svc, 1, "sleep 300", { "test.run": svc });
    const t2 = containerTask(n.nodeId, svc, 2, "sleep 300", { "test.run": svc });
    const t3 = containerTask(n.nodeId, svc, 3, "sleep 300", { "test.run": svc });
    for (const t of [t1, t2, t3]) d.tasks.set(t.id, t);

    let a = await agent(n);
    await a.ready;

    // The session: our node's certificate, the engine's facts, our hostname and trust root.
    const s = d.sessions[0]!;
    assert.equal(s.nodeId, n.nodeId);
    const engine = await new DockerExecutor(engineAddr).describeEngine();
    const desc = s.description!;
    assert.equal(desc.hostname, "agent-test-host");
    assert.deepEqual(desc.platform, engine.platform);
    assert.equal(desc.resources?.nanoCpus, engine.nanoCpus);
    assert.equal(desc.resources?.memoryBytes, engine.memoryBytes);
    assert.equal(desc.engine?.engineVersion, engine.engineVersion);
    assert.deepEqual(desc.engine?.labels, engine.labels);
    assert.equal(Buffer.from(desc.tlsInfo!.trustRoot).toString(), pki.ca.certPem);
    assert.ok(desc.tlsInfo!.certIssuerPublicKey.length > 0);

    // All three run; each task's reported states only go up and end at RUNNING.
    for (const t of [t1, t2, t3]) {
      await waitFor(`task ${t.slot} RUNNING`, () => d.lastStatus(t.id)?.state === TaskState.RUNNING);
      const states = d.statesOf(t.id);
      assert.ok(increasing(states), `states of task ${t.slot} go up: ${states.join(",")}`);
      assert.ok(states[0]! >= TaskState.ACCEPTED);
    }
    await waitFor("heartbeats", () => d.heartbeats >= 2);
    const name = (t: typeof t1) => `${svc}.${t.slot}.${t.id}`;
    const info2 = await docker.getContainer(name(t2)).inspect();
    assert.equal(info2.State.Running, true);
    assert.equal(info2.Config.Labels[LABEL_TASK_ID], t2.id);
    assert.equal(info2.Config.Labels[LABEL_NODE_ID], n.nodeId);
    assert.equal(info2.Config.Labels[LABEL_SERVICE_NAME], svc);
    assert.equal(info2.Config.Labels["test.run"], svc);
    assert.equal(d.lastStatus(t2.id)!.containerId, info2.Id);

    const db = await TaskDb.open(n.stateDir);
    assert.deepEqual((await db.ids()).sort(), [t1.id, t2.id, t3.id].sort());

    // INCREMENTAL remove: stopped, removed, forgotten at once.
    d.removeTask(t1.id);
    await waitFor("task 1 container removed", () => containerGone(docker, name(t1)));
    await waitFor("task 1 DB entry deleted", async () => !(await db.ids()).includes(t1.id));
    assert.equal(a.status().tasks.length, 2);

    // Stopping the agent leaves the containers running.
    await stopAgent(a);
    const before2 = await docker.getContainer(name(t2)).inspect();
    assert.equal(before2.State.Running, true, "agent stop must not stop containers");

    // While the agent is down, task 3 is unassigned; after the restart it is removed and task 2 adopted.
    d.tasks.delete(t3.id);
    const reportsBefore = d.statuses.length;
    a = await agent(n);
    await a.ready;
    await waitFor("task 3 container removed after restart", () => containerGone(docker, name(t3)));
    await waitFor("task 2 re-reported RUNNING", () => d.statuses.slice(reportsBefore).some((u) => u.taskId === t2.id && u.state === TaskState.RUNNING));
    const after2 = await docker.getContainer(name(t2)).inspect();
    assert.equal(after2.Id, before2.Id, "same container");
    assert.equal(after2.State.StartedAt, before2.State.StartedAt, "not restarted");
    assert.equal(after2.State.Running, true);
    assert.equal(d.lastStatus(t2.id)!.containerId, before2.Id);
    assert.deepEqual(await db.ids(), [t2.id]);

    // Desired SHUTDOWN stops the adopted container and reports SHUTDOWN.
    d.putTask({ ...t2, desiredState: TaskState.SHUTDOWN });
    await waitFor("task 2 SHUTDOWN", () => d.lastStatus(t2.id)?.state === TaskState.SHUTDOWN);
    assert.equal((await docker.getContainer(name(t2)).inspect()).State.Running, false);
  });

  it("reports FAILED with the exit code when a container exits 1", { timeout: 60_000 }, async () => {
    const d = await dispatcher();
    const n = await node([{ node_id: d.nodeId, addr: d.addr }]);
    const a = await agent(n);
    await a.ready;
    const t = containerTask(n.nodeId, uniqueId("fail"), 1, "exit 1");
    d.putTask(t);
    const last = await waitFor("FAILED", () => (d.lastStatus(t.id)?.state === TaskState.FAILED ? d.lastStatus(t.id) : undefined));
    assert.equal(last.err, "task: non-zero exit (1)");
    assert.equal(last.exitCode, 1);
    assert.ok(increasing(d.statesOf(t.id)));
    assert.ok(d.statesOf(t.id).includes(TaskState.RUNNING) || d.statesOf(t.id).includes(TaskState.STARTING));
  });

  it("re-syncs the assignments stream when a message is out of sequence", { timeout: 60_000 }, async () => {
    const d = await dispatcher();
    const n = await node([{ node_id: d.nodeId, addr: d.addr }]);
    const a = await agent(n);
    await a.ready;
    await waitFor("assignments stream", () => d.openAssignmentStreams === 1);
    d.sendOutOfSequence();
    await waitFor("a second assignments stream", () => d.assignmentStreamsOpened === 2);
    // The new stream's COMPLETE set is applied: a task assigned afterwards runs.
    const t = containerTask(n.nodeId, uniqueId("resync"), 1, "sleep 300");
    d.putTask(t);
    await waitFor("RUNNING after re-sync", () => d.lastStatus(t.id)?.state === TaskState.RUNNING);
    assert.equal(d.sessions.length, 1, "same session");
  });

  it("rejects tasks with a clear message while the engine is unreachable and keeps its session", { timeout: 60_000 }, async () => {
    const d = await dispatcher();
    d.heartbeatPeriodMs = 200;
    const n = await node([{ node_id: d.nodeId, addr: d.addr }]);
    const missing = `unix://${path.join(n.stateDir, "no-engine.sock")}`;
    const a = await agent(n, missing);
    await a.ready;
    assert.equal(d.sessions[0]!.description!.engine, undefined, "registered without engine facts");
    const t = containerTask(n.nodeId, uniqueId("noengine"), 1, "sleep 300");
    d.putTask(t);
    const last = await waitFor("REJECTED", () => (d.lastStatus(t.id)?.state === TaskState.REJECTED ? d.lastStatus(t.id) : undefined));
    assert.match(last.err, new RegExp(`docker engine at ${missing.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} is unreachable`));
    const beats = d.heartbeats;
    await waitFor("heartbeats continue", () => d.heartbeats >= beats + 2);
    assert.equal(a.status().session.connected, true);
    assert.equal(d.sessions.length, 1, "no session restart");
  });

  it("fails over to the next manager and keeps state.json current", { timeout: 60_000 }, async () => {
    const first = await dispatcher();
    const second = await dispatcher();
    const dead = { node_id: "deadmanageraaaaaaaaaaaaaa", addr: `127.0.0.1:${await deadPort()}` };
    const n = await node([dead, { node_id: first.nodeId, addr: first.addr }]);
    const announced = [first, second].map((m) => ({ peer: { nodeId: m.nodeId, addr: m.addr }, weight: 10 }));
    first.managers = announced;
    second.managers = announced;
    const a = await agent(n);
    await a.ready;
    assert.equal(first.sessions.length, 1, "registered with the live manager after the dead one failed");
    assert.equal(first.sessions[0]!.nodeId, n.nodeId);

    // The announced list replaces the dead entry in state.json (sorted by node ID, mode 0600).
    const want = [first, second].map((m) => ({ node_id: m.nodeId, addr: m.addr })).sort((x, y) => (x.node_id < y.node_id ? -1 : 1));
    const statePath = path.join(n.stateDir, "state.json");
    await waitFor("state.json updated", async () => JSON.stringify(JSON.parse(await readFile(statePath, "utf8"))) === JSON.stringify(want));
    const { stat } = await import("node:fs/promises");
    assert.equal((await stat(statePath)).mode & 0o777, 0o600);

    // The first manager goes away: the agent moves to the second.
    first.stop();
    await waitFor("session with the second manager", () => second.sessions.length >= 1);
    await waitFor("connected again", () => a.status().session.connected && a.status().session.manager === second.addr);
  });
});
