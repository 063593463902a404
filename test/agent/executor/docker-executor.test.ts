// Runs tasks on the real local engine (scripts/docker-engine.sh). If the
// engine cannot be started, these tests fail; they never skip.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type Docker from "dockerode";
import { DockerExecutor } from "../../../src/workers/agent/executor/docker-executor.js";
import { runTask, advanceTask, type TaskStepStatus } from "../../../src/workers/agent/executor/task-step.js";
import { TaskState, taskStateName } from "../../../src/workers/agent/executor/task-state.js";
import { EngineError } from "../../../src/workers/agent/executor/engine-errors.js";
import { LABEL_NODE_ID } from "../../../src/workers/agent/executor/container-spec.js";
import type { ContainerTask, TaskContainerEvent } from "../../../src/workers/agent/executor/types.js";
import { rawDocker, removeContainersByLabel, startEngine, uniqueId } from "../../helpers/engine.js";

const IMAGE = "busybox:local";

describe("docker executor on the local engine", () => {
  let addr: string;
  let exec: DockerExecutor;
  let docker: Docker;
  // One node ID per run: every container of this file carries it, so cleanup is exact.
  const nodeId = uniqueId("node");
  let serial = 0;

  function task(over: Partial<ContainerTask>): ContainerTask {
    serial++;
    return {
      taskId: uniqueId("task"),
      serviceId: uniqueId("svcid"),
      serviceName: `svc${serial}`,
      nodeId,
      slot: serial,
      image: IMAGE,
      ...over,
    };
  }

  before(async () => {
    addr = await startEngine();
    exec = new DockerExecutor(addr);
    docker = rawDocker(addr);
    await exec.ping();
  });

  after(async () => {
    if (addr) await removeContainersByLabel(addr, LABEL_NODE_ID, nodeId);
  });

  it("describes the engine", async () => {
    const d = await exec.describeEngine();
    assert.match(d.engineVersion, /^\d+\.\d+/);
    assert.ok(d.nanoCpus >= 1e9, `nanoCpus ${d.nanoCpus}`);
    assert.ok(d.memoryBytes > 0);
    assert.equal(d.platform.os, "linux");
    assert.ok(d.hostname.length > 0);
    assert.ok(d.plugins.some((p) => p.type === "Network" && p.name === "overlay"));
  });

  it("runs a task through the states to FAILED with its exit code, named and labelled as SwarmKit does", async () => {
    const t = task({ command: ["sh", "-c"], args: ["exit 3"], labels: { "user.label": "yes" } });
    const ctl = exec.controller(t);
    const seen: TaskStepStatus[] = [];
    const final = await runTask(ctl, (s) => {
      seen.push({ ...s });
    });
    assert.deepEqual(
      seen.map((s) => taskStateName(s.state)),
      ["ACCEPTED", "PREPARING", "READY", "STARTING", "RUNNING", "FAILED"],
    );
    assert.equal(final.state, TaskState.FAILED);
    assert.equal(final.err, "task: non-zero exit (3)");
    assert.equal(final.container?.exitCode, 3);
    assert.match(final.container?.containerId ?? "", /^[0-9a-f]{64}$/);

    const name = `${t.serviceName}.${t.slot}.${t.taskId}`;
    assert.equal(ctl.name, name);
    const info = await docker.getContainer(name).inspect();
    assert.equal(info.Name, `/${name}`);
    assert.equal(info.Id, final.container?.containerId);
    assert.equal(info.State.ExitCode, 3);
    assert.deepEqual(info.Config.Entrypoint, ["sh", "-c"]);
    assert.deepEqual(info.Config.Cmd, ["exit 3"]);
    assert.equal(info.HostConfig.NetworkMode, "none");
    const labels = info.Config.Labels;
    assert.equal(labels["com.docker.swarm.task"], "");
    assert.equal(labels["com.docker.swarm.task.id"], t.taskId);
    assert.equal(labels["com.docker.swarm.task.name"], name);
    assert.equal(labels["com.docker.swarm.node.id"], nodeId);
    assert.equal(labels["com.docker.swarm.service.id"], t.serviceId);
    assert.equal(labels["com.docker.swarm.service.name"], t.serviceName);
    assert.equal(labels["user.label"], "yes");

    await ctl.remove();
    assert.equal(await ctl.inspect(), undefined);
    await assert.rejects(docker.getContainer(name).inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
  });

  it("passes env, args and bind mounts into the container, and applies limits", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "swarmkit-exec-"));
    try {
      const t = task({
        command: ["sh", "-c", 'echo "$GREETING $0 $1" > /out/result; cat /in/ro.txt >> /out/result', "first"],
        args: ["second"],
        env: ["GREETING=hello"],
        mounts: [
          { type: "bind", source: dir, target: "/out" },
          { type: "bind", source: dir, target: "/in", readOnly: true },
        ],
        limits: { memoryBytes: 64 * 1024 * 1024, nanoCpus: 500_000_000 },
      });
      // The read-only mount shows a file the host wrote.
      await import("node:fs/promises").then((fs) => fs.writeFile(path.join(dir, "ro.txt"), "from-host\n"));
      const ctl = exec.controller(t);
      const final = await runTask(ctl, () => undefined);
      assert.equal(taskStateName(final.state), "COMPLETE", final.err);
      assert.equal(final.message, "finished");
      assert.equal(final.container?.exitCode, 0);
      assert.equal(await readFile(path.join(dir, "result"), "utf8"), "hello first second\nfrom-host\n");

      const info = await docker.getContainer(ctl.name).inspect();
      assert.ok(info.Config.Env.includes("GREETING=hello"));
      assert.equal(info.HostConfig.Memory, 64 * 1024 * 1024);
      assert.equal(info.HostConfig.CpuQuota, 50_000);
      assert.equal(info.HostConfig.CpuPeriod, 100_000);
      const ro = info.Mounts.find((m) => m.Destination === "/in");
      assert.equal(ro?.RW, false);
      await ctl.remove();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("stops with the grace period, then kills a process that ignores SIGTERM", async () => {
    // sleep as PID 1 has no SIGTERM handler, so the kernel drops SIGTERM.
    const stubborn = exec.controller(task({ command: ["sleep", "60"], stopGracePeriodMs: 1000 }));
    // A shell that exits cleanly on SIGTERM.
    const polite = exec.controller(task({ command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"], stopGracePeriodMs: 20_000 }));
    for (const c of [stubborn, polite]) {
      assert.equal(await c.prepare(), "created");
      assert.equal(await c.start(), "started");
      assert.equal((await c.inspect())?.running, true);
    }
    const waits = [stubborn.wait(), polite.wait()];
    const t0 = Date.now();
    await stubborn.shutdown();
    const stubbornMs = Date.now() - t0;
    await polite.shutdown();
    const [s, p] = await Promise.all(waits);
    assert.equal(s!.exitCode, 137, "killed after the grace period");
    assert.ok(stubbornMs >= 900, `stop returned after ${stubbornMs} ms, before the 1 s grace period`);
    assert.equal(p!.exitCode, 0, "exited on SIGTERM within the grace period");
    // terminate on a stopped container is harmless; remove cleans up.
    await stubborn.terminate();
    await stubborn.remove();
    await polite.remove();
    assert.equal(await stubborn.inspect(), undefined);
    assert.equal(await polite.inspect(), undefined);
  });

  it("refuses to report an exit for a container that never started", async () => {
    const c = exec.controller(task({ command: ["true"] }));
    await c.prepare();
    await assert.rejects(c.wait(), (e: unknown) => e instanceof EngineError && e.code === "FAILED_PRECONDITION" && /never started/.test(e.message));
    await c.remove();
  });

  it("terminate kills at once", async () => {
    const c = exec.controller(task({ command: ["sleep", "60"] }));
    await c.prepare();
    await c.start();
    const w = c.wait();
    await c.terminate();
    assert.equal((await w).exitCode, 137);
    await c.remove();
  });

  it("shuts a running task down when the desired state becomes SHUTDOWN", async () => {
    const c = exec.controller(task({ command: ["sleep", "60"], stopGracePeriodMs: 0 }));
    let status: TaskStepStatus = { state: TaskState.ASSIGNED, message: "assigned" };
    while (status.state < TaskState.RUNNING) status = (await advanceTask(c, status, TaskState.RUNNING)).status;
    assert.equal(taskStateName(status.state), "RUNNING");
    const ac = new AbortController();
    const waiting = advanceTask(c, status, TaskState.RUNNING, ac.signal);
    ac.abort(); // the agent got a new desired state: cancel the blocking wait
    const r = await waiting;
    assert.equal(r.changed, false);
    const down = await advanceTask(c, status, TaskState.SHUTDOWN);
    assert.equal(taskStateName(down.status.state), "SHUTDOWN");
    assert.equal(down.status.container?.exitCode, 137);
    await c.remove();
  });

  it("rejects a task whose image is neither present nor pullable, naming the image", async () => {
    const image = `127.0.0.1:1/${uniqueId("missing")}:v1`;
    const c = exec.controller(task({ image, command: ["true"] }));
    await assert.rejects(c.prepare(), (e: unknown) => {
      assert.ok(e instanceof EngineError);
      assert.equal(e.code, "NOT_FOUND");
      assert.equal(e.reason, "IMAGE_NOT_FOUND");
      assert.ok(e.message.includes(image), e.message);
      return true;
    });
    const final = await runTask(exec.controller(task({ image: "nonexistent-swarmkit-ts-image:zzz", command: ["true"] })), () => undefined);
    assert.equal(taskStateName(final.state), "REJECTED");
    assert.match(final.err ?? "", /nonexistent-swarmkit-ts-image:zzz/);
  });

  it("uses the local image when an always-pull fails", async () => {
    const c = exec.controller(task({ command: ["true"], pullPolicy: "always" }));
    const final = await runTask(c, () => undefined);
    assert.equal(taskStateName(final.state), "COMPLETE", final.err);
    await c.remove();
  });

  it("finds running task containers for adoption, and a new controller picks one up", async () => {
    const t = task({ command: ["sleep", "60"], stopGracePeriodMs: 0 });
    const first = exec.controller(t);
    // Stop driving the task once it runs, as an agent that goes away would.
    const ac = new AbortController();
    const last = await runTask(first, (s) => (s.state === TaskState.RUNNING ? ac.abort() : undefined), { signal: ac.signal });
    assert.equal(taskStateName(last.state), "RUNNING");
    first.close();
    const found = (await exec.listTaskContainers(nodeId)).filter((c) => c.taskId === t.taskId);
    assert.equal(found.length, 1);
    assert.equal(found[0]!.state, "running");
    assert.equal(found[0]!.name, first.name);
    assert.equal(found[0]!.serviceId, t.serviceId);
    assert.equal(found[0]!.nodeId, nodeId);
    // Another node's listing does not include it.
    assert.equal((await exec.listTaskContainers(uniqueId("othernode"))).length, 0);

    const adopted = exec.controller(t);
    assert.equal(await adopted.prepare(), "existing");
    assert.equal(await adopted.start(), "already-started");
    const w = adopted.wait();
    await adopted.shutdown();
    assert.equal((await w).exitCode, 137);
    await adopted.remove();
  });

  it("streams lifecycle events of task containers", async () => {
    const events: TaskContainerEvent[] = [];
    const sub = await exec.subscribeEvents((e) => events.push(e), nodeId);
    try {
      const t = task({ command: ["sh", "-c", "exit 5"] });
      const c = exec.controller(t);
      await runTask(c, () => undefined);
      await c.remove();
      const deadline = Date.now() + 10_000;
      while (!events.some((e) => e.taskId === t.taskId && e.action === "destroy") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const mine = events.filter((e) => e.taskId === t.taskId);
      const actions = mine.map((e) => e.action);
      for (const a of ["create", "start", "die", "destroy"]) assert.ok(actions.includes(a), `missing ${a} in ${actions.join(",")}`);
      assert.equal(mine.find((e) => e.action === "die")?.exitCode, 5);
      assert.equal(mine[0]!.name, c.name);
    } finally {
      sub.close();
      await sub.done;
    }
  });
});

describe("docker executor without an engine", () => {
  const addr = "unix:///tmp/swarmkit-ts-no-engine-here/docker.sock";
  const exec = new DockerExecutor(addr);

  it("fails calls with UNAVAILABLE naming the engine address", async () => {
    for (const p of [exec.ping(), exec.describeEngine(), exec.listTaskContainers()]) {
      await assert.rejects(p, (e: unknown) => {
        assert.ok(e instanceof EngineError);
        assert.equal(e.code, "UNAVAILABLE");
        assert.equal(e.reason, "ENGINE_UNREACHABLE");
        assert.ok(e.message.includes(addr), e.message);
        return true;
      });
    }
  });

  it("rejects tasks with a clear message and keeps working once asked again", async () => {
    const t: ContainerTask = { taskId: "t1", serviceId: "s1", serviceName: "web", nodeId: "n1", slot: 1, image: IMAGE, command: ["true"] };
    const final = await runTask(exec.controller(t), () => undefined);
    assert.equal(taskStateName(final.state), "REJECTED");
    assert.match(final.err ?? "", /docker engine at unix:\/\/\/tmp\/swarmkit-ts-no-engine-here\/docker\.sock is unreachable/);
    // The executor itself is unharmed: a second task fails the same clear way.
    const again = await runTask(exec.controller({ ...t, taskId: "t2" }), () => undefined);
    assert.equal(taskStateName(again.state), "REJECTED");
  });
});
