import { test } from "node:test";
import assert from "node:assert/strict";
import { Node, Service, Task, TaskState } from "../../src/shared/api/index.js";
import { pickByIdOrName, nodeName } from "../../src/ctl/resolve.js";
import { CtlError } from "../../src/ctl/errors.js";
import { evaluateConvergence, ProgressView } from "../../src/ctl/converge.js";
import { mapResolver } from "../../src/ctl/resolve.js";

const svc = (id: string, name: string) => Service.fromPartial({ id, spec: { annotations: { name } } });
const services = [svc("abc123", "web"), svc("abd456", "worker"), svc("xyz789", "ab")];
const name = (s: Service) => s.spec?.annotations?.name ?? "";

test("prefix resolution: exact ID, exact name, unique ID prefix, unique name prefix", () => {
  assert.equal(pickByIdOrName("service", "abd456", services, name).id, "abd456");
  assert.equal(pickByIdOrName("service", "ab", services, name).id, "xyz789", "an exact name beats ID prefixes");
  assert.equal(pickByIdOrName("service", "abc", services, name).id, "abc123");
  assert.equal(pickByIdOrName("service", "xy", services, name).id, "xyz789");
  assert.equal(pickByIdOrName("service", "wor", services, name).id, "abd456", "unique name prefix");
  assert.throws(() => pickByIdOrName("service", "a", services, name), new CtlError("service a is ambiguous (2 matches found)"));
  assert.throws(() => pickByIdOrName("service", "w", services, name), /service w is ambiguous \(2 matches found\)/);
  assert.throws(() => pickByIdOrName("service", "nosuch", services, name), new CtlError("service nosuch not found"));
  assert.throws(() => pickByIdOrName("service", "", services, name), /not found/);
});

test("node names: spec name first, then hostname", () => {
  assert.equal(nodeName(Node.fromPartial({ spec: { annotations: { name: "named" } }, description: { hostname: "h" } })), "named");
  assert.equal(nodeName(Node.fromPartial({ description: { hostname: "h" } })), "h");
});

test("convergence: replicated counts current-spec RUNNING tasks; failures and stale tasks are seen", async () => {
  const spec = (image: string) => ({ runtime: { $case: "container" as const, value: { image } } });
  const s = Service.fromPartial({
    id: "s1",
    spec: { annotations: { name: "web" }, task: spec("web:5"), mode: { $case: "replicated", value: { replicas: 2 } } },
    specVersion: { index: 5 },
  });
  // Versions below 5 ran web:4 (an earlier update changed the image).
  const t = (id: string, slot: number, state: TaskState, version: number, desired = TaskState.RUNNING) =>
    Task.fromPartial({
      id,
      serviceId: "s1",
      slot,
      nodeId: "n1",
      desiredState: desired,
      specVersion: { index: version },
      spec: spec(version >= 5 ? "web:5" : "web:4"),
      status: { state },
    });
  let snap = evaluateConvergence(s, [t("a", 1, TaskState.RUNNING, 5), t("b", 2, TaskState.PREPARING, 5)], []);
  assert.deepEqual([snap.running, snap.desired, snap.converged], [1, 2, false]);
  snap = evaluateConvergence(s, [t("a", 1, TaskState.RUNNING, 5), t("b", 2, TaskState.RUNNING, 5), t("old", 2, TaskState.RUNNING, 4)], []);
  assert.equal(snap.converged, false, "an old-spec task still running and desired running blocks convergence");
  snap = evaluateConvergence(s, [t("a", 1, TaskState.RUNNING, 5), t("b", 2, TaskState.RUNNING, 5), t("old", 2, TaskState.SHUTDOWN, 4, TaskState.SHUTDOWN)], []);
  assert.equal(snap.converged, true);
  snap = evaluateConvergence(s, [t("a", 1, TaskState.REJECTED, 5, TaskState.SHUTDOWN)], []);
  assert.equal(snap.failed?.id, "a");

  const view = new ProgressView(false);
  const res = mapResolver([Node.fromPartial({ id: "n1", description: { hostname: "host1" } })], []);
  const first = await view.render(evaluateConvergence(s, [t("a", 1, TaskState.PREPARING, 5)], []), res);
  assert.equal(first, "web.1 a: PREPARING on host1\n");
  assert.equal(await view.render(evaluateConvergence(s, [t("a", 1, TaskState.PREPARING, 5)], []), res), "", "no line without a change");
  assert.equal(await view.render(evaluateConvergence(s, [t("a", 1, TaskState.RUNNING, 5)], []), res), "web.1 a: RUNNING on host1\n");
  const tty = new ProgressView(true);
  await tty.render(evaluateConvergence(s, [t("a", 1, TaskState.PREPARING, 5)], []), res);
  const redraw = await tty.render(evaluateConvergence(s, [t("a", 1, TaskState.RUNNING, 5)], []), res);
  assert.ok(redraw.startsWith("\x1b[2A"), "a TTY redraws the previous block in place");
  assert.match(redraw, /web: 1\/2 tasks running/);
});

test("convergence: a task left alone by an update that did not touch its spec counts as current", () => {
  // SwarmKit keeps a task's spec version when only replicas (or the update config) change.
  const spec = { runtime: { $case: "container" as const, value: { image: "web:1" } }, placement: { constraints: ["node.hostname==host1"] } };
  const s = Service.fromPartial({
    id: "s1",
    spec: { annotations: { name: "web" }, task: spec, mode: { $case: "replicated", value: { replicas: 1 } } },
    specVersion: { index: 9 },
  });
  const task = Task.fromPartial({ id: "a", serviceId: "s1", slot: 1, nodeId: "n1", desiredState: TaskState.RUNNING, specVersion: { index: 0 }, spec, status: { state: TaskState.RUNNING } });
  const node = Node.fromPartial({ id: "n1", description: { hostname: "host1" }, status: { state: 1 } });
  assert.equal(evaluateConvergence(s, [task], [node]).converged, true);
  // A placement-only change the node still satisfies keeps the task too; one it no longer satisfies does not.
  const moved = (c: string) => Service.fromPartial({ ...s, spec: { ...s.spec!, task: { ...spec, placement: { constraints: [c] } } } });
  assert.equal(evaluateConvergence(moved("node.hostname!=other"), [task], [node]).converged, true);
  assert.equal(evaluateConvergence(moved("node.hostname==other"), [task], [node]).converged, false);
  // An image change makes it stale whatever the version says.
  const image = Service.fromPartial({ ...s, spec: { ...s.spec!, task: { ...spec, runtime: { $case: "container", value: { image: "web:2" } } } } });
  assert.equal(evaluateConvergence(image, [task], [node]).converged, false);
});
