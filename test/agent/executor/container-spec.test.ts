import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  containerCreateOptions,
  containerLabels,
  stopTimeoutSeconds,
  taskName,
  tmpfsOptions,
} from "../../../src/workers/agent/executor/container-spec.js";
import { parseEngineAddr } from "../../../src/workers/agent/executor/engine-address.js";
import { mapEngineError, engineMessage } from "../../../src/workers/agent/executor/engine-errors.js";
import type { ContainerTask } from "../../../src/workers/agent/executor/types.js";

const base: ContainerTask = {
  taskId: "task1abc",
  serviceId: "svc1id",
  serviceName: "web",
  nodeId: "node1id",
  slot: 3,
  image: "busybox:local",
};

describe("task naming", () => {
  it("uses <service>.<slot>.<task id> for replicated tasks", () => {
    assert.equal(taskName(base), "web.3.task1abc");
  });
  it("uses the node ID in place of the slot for global tasks", () => {
    assert.equal(taskName({ ...base, slot: 0 }), "web.node1id.task1abc");
  });
  it("prefers the annotation name", () => {
    assert.equal(taskName({ ...base, annotationsName: "custom" }), "custom");
  });
});

describe("container labels", () => {
  it("layers spec labels, task labels and system labels, system last", () => {
    const l = containerLabels({
      ...base,
      labels: { a: "spec", b: "spec", "com.docker.swarm.task.id": "forged" },
      taskLabels: { b: "task" },
    });
    assert.equal(l["a"], "spec");
    assert.equal(l["b"], "task");
    assert.equal(l["com.docker.swarm.task"], "");
    assert.equal(l["com.docker.swarm.task.id"], "task1abc");
    assert.equal(l["com.docker.swarm.task.name"], "web.3.task1abc");
    assert.equal(l["com.docker.swarm.node.id"], "node1id");
    assert.equal(l["com.docker.swarm.service.id"], "svc1id");
    assert.equal(l["com.docker.swarm.service.name"], "web");
  });
});

describe("container create options", () => {
  it("maps command to entrypoint and args to cmd", () => {
    const o = containerCreateOptions({ ...base, command: ["sleep"], args: ["100"] });
    assert.deepEqual(o.Entrypoint, ["sleep"]);
    assert.deepEqual(o.Cmd, ["100"]);
    assert.equal(o.name, "web.3.task1abc");
  });
  it("passes args alone as cmd and leaves the entrypoint alone", () => {
    const o = containerCreateOptions({ ...base, args: ["echo", "hi"] });
    assert.equal(o.Entrypoint, undefined);
    assert.deepEqual(o.Cmd, ["echo", "hi"]);
  });
  it("maps limits, mounts, hosts and defaults the network to none", () => {
    const o = containerCreateOptions({
      ...base,
      limits: { nanoCpus: 500_000_000, memoryBytes: 64 << 20, pids: 50 },
      mounts: [
        { type: "bind", source: "/tmp/x", target: "/x", readOnly: true },
        { type: "volume", source: "v1", target: "/v" },
        { type: "tmpfs", target: "/t", tmpfsSizeBytes: 16 << 20, tmpfsMode: 0o1777 },
      ],
      hosts: ["10.0.0.1 db alias"],
      init: true,
    });
    const h = o.HostConfig!;
    assert.equal(h.NetworkMode, "none");
    assert.equal(h.Memory, 64 << 20);
    assert.equal(h.CpuPeriod, 100_000);
    assert.equal(h.CpuQuota, 50_000);
    assert.equal(h.PidsLimit, 50);
    assert.equal(h.Init, true);
    assert.deepEqual(h.ExtraHosts, ["db:10.0.0.1"]);
    assert.deepEqual(h.Mounts, [
      { Type: "bind", Source: "/tmp/x", Target: "/x", ReadOnly: true },
      { Type: "volume", Source: "v1", Target: "/v", ReadOnly: false },
    ]);
    assert.deepEqual(h.Tmpfs, { "/t": "mode=1777,size=16m" });
  });
  it("formats tmpfs options like SwarmKit", () => {
    assert.equal(tmpfsOptions({ type: "tmpfs", target: "/t", readOnly: true, tmpfsSizeBytes: 1000 }), "ro,size=1000");
    assert.equal(tmpfsOptions({ type: "tmpfs", target: "/t", tmpfsSizeBytes: 3 * 2 ** 30 }), "size=3g");
  });
  it("rounds the stop grace period up to whole seconds, default 10", () => {
    assert.equal(stopTimeoutSeconds({}), 10);
    assert.equal(stopTimeoutSeconds({ stopGracePeriodMs: 1500 }), 2);
    assert.equal(stopTimeoutSeconds({ stopGracePeriodMs: 0 }), 0);
  });
});

describe("engine address", () => {
  it("parses unix, bare path and tcp forms", () => {
    assert.deepEqual(parseEngineAddr("unix:///var/run/docker.sock"), { kind: "unix", socketPath: "/var/run/docker.sock" });
    assert.deepEqual(parseEngineAddr("/tmp/d.sock"), { kind: "unix", socketPath: "/tmp/d.sock" });
    assert.deepEqual(parseEngineAddr("tcp://127.0.0.1:2375"), { kind: "tcp", host: "127.0.0.1", port: 2375, protocol: "http" });
    assert.deepEqual(parseEngineAddr("https://[::1]"), { kind: "tcp", host: "::1", port: 2376, protocol: "https" });
  });
  it("rejects nonsense with INVALID_ARGUMENT", () => {
    for (const bad of ["docker", "unix://relative", "ftp://x:1", "tcp://h:99999"]) {
      assert.throws(() => parseEngineAddr(bad), (e: unknown) => (e as { code?: string }).code === "INVALID_ARGUMENT", bad);
    }
  });
});

describe("engine error mapping", () => {
  it("names the engine address when it is unreachable", () => {
    const raw = Object.assign(new Error("connect ENOENT /x.sock"), { code: "ENOENT" });
    const e = mapEngineError(raw, "unix:///x.sock", "ping");
    assert.equal(e.code, "UNAVAILABLE");
    assert.equal(e.reason, "ENGINE_UNREACHABLE");
    assert.match(e.message, /docker engine at unix:\/\/\/x\.sock is unreachable/);
  });
  it("classifies 404s and strips dockerode's prefix", () => {
    const img = Object.assign(new Error("(HTTP code 404) no such container - No such image: x:1 "), { statusCode: 404, json: { message: "No such image: x:1" } });
    assert.equal(mapEngineError(img, "a", "create").reason, "IMAGE_NOT_FOUND");
    const ctr = Object.assign(new Error("(HTTP code 404) no such container - No such container: c "), { statusCode: 404, json: null });
    assert.equal(engineMessage(ctr), "No such container: c");
    assert.equal(mapEngineError(ctr, "a", "inspect").reason, "NO_SUCH_CONTAINER");
    const conflict = Object.assign(new Error("x"), { statusCode: 409, json: { message: 'Conflict. The container name "/web.1.x" is already in use' } });
    assert.equal(mapEngineError(conflict, "a", "create").reason, "NAME_CONFLICT");
  });
});
