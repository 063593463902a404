import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import {
  ServiceSpec,
  TaskState,
  UpdateServiceRequest_Rollback,
  UpdateStatus_UpdateState,
  Task,
} from "../../src/shared/api/index.js";
import { put, rpc, rpcError, startHarness, type Harness } from "./harness.js";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

function spec(name: string, replicas = 1, labels: Record<string, string> = {}): ServiceSpec {
  return ServiceSpec.fromPartial({
    annotations: { name, labels },
    task: { runtime: { $case: "container", value: { image: "busybox:latest", command: ["sleep", "1000"] } } },
    mode: { $case: "replicated", value: { replicas } },
  });
}

test("create, get, list and remove a service", async () => {
  const created = (await rpc(h.client, "createService", { spec: spec("web", 3, { tier: "front" }) })).service!;
  assert.equal(created.id.length, 25);
  assert.equal(created.spec?.annotations?.name, "web");
  assert.deepEqual(created.specVersion, { index: 0 });
  assert.ok((created.meta?.version?.index ?? 0) > 0);
  assert.ok(created.meta?.createdAt instanceof Date);

  const got = (await rpc(h.client, "getService", { serviceId: created.id, insertDefaults: false })).service!;
  assert.equal(got.id, created.id);
  assert.equal(got.spec?.mode?.$case, "replicated");

  await rpc(h.client, "createService", { spec: spec("worker", 1, { tier: "back" }) });
  const all = (await rpc(h.client, "listServices", { filters: undefined })).services;
  assert.deepEqual(all.map((s) => s.spec?.annotations?.name).sort(), ["web", "worker"]);
  const f = (over: object) => ({ names: [], idPrefixes: [], labels: {}, namePrefixes: [], runtimes: [], ...over });
  const byName = await rpc(h.client, "listServices", { filters: f({ names: ["web"] }) });
  assert.deepEqual(byName.services.map((s) => s.id), [created.id]);
  const byPrefix = await rpc(h.client, "listServices", { filters: f({ namePrefixes: ["wo"] }) });
  assert.deepEqual(byPrefix.services.map((s) => s.spec?.annotations?.name), ["worker"]);
  const byId = await rpc(h.client, "listServices", { filters: f({ idPrefixes: [created.id.slice(0, 6)] }) });
  assert.deepEqual(byId.services.map((s) => s.id), [created.id]);
  const byLabel = await rpc(h.client, "listServices", { filters: f({ labels: { tier: "back" } }) });
  assert.deepEqual(byLabel.services.map((s) => s.spec?.annotations?.name), ["worker"]);
  const byLabelKey = await rpc(h.client, "listServices", { filters: f({ labels: { tier: "" } }) });
  assert.equal(byLabelKey.services.length, 2);
  const byRuntime = await rpc(h.client, "listServices", { filters: f({ runtimes: ["generic"] }) });
  assert.equal(byRuntime.services.length, 0);

  await rpc(h.client, "removeService", { serviceId: created.id });
  const err = await rpcError(h.client, "getService", { serviceId: created.id, insertDefaults: false });
  assert.equal(err.code, status.NOT_FOUND);
  assert.equal(err.details, `service ${created.id} not found`);
  const again = await rpcError(h.client, "removeService", { serviceId: created.id });
  assert.equal(again.code, status.NOT_FOUND);
});

test("a duplicate name is ALREADY_EXISTS with SwarmKit's text (names are case-insensitive)", async () => {
  await rpc(h.client, "createService", { spec: spec("dup") });
  const err = await rpcError(h.client, "createService", { spec: spec("DUP") });
  assert.equal(err.code, status.ALREADY_EXISTS);
  assert.equal(err.details, "name conflicts with an existing object: service DUP already exists");
});

test("update keeps the previous spec, sets spec_version, and refuses a stale version", async () => {
  const s = (await rpc(h.client, "createService", { spec: spec("upd", 1) })).service!;
  const v1 = s.meta!.version!;
  const u = (await rpc(h.client, "updateService", { serviceId: s.id, serviceVersion: v1, spec: spec("upd", 5), rollback: 0 })).service!;
  assert.equal(u.spec?.mode?.$case === "replicated" && u.spec.mode.value.replicas, 5);
  assert.equal(u.previousSpec?.mode?.$case === "replicated" && u.previousSpec.mode.value.replicas, 1);
  assert.deepEqual(u.specVersion, { index: v1.index });
  assert.deepEqual(u.previousSpecVersion, { index: 0 });
  assert.ok(u.meta!.version!.index > v1.index);

  // The same old version again: someone else's write got there first.
  const stale = await rpcError(h.client, "updateService", { serviceId: s.id, serviceVersion: v1, spec: spec("upd", 7), rollback: 0 });
  assert.equal(stale.code, status.FAILED_PRECONDITION);
  assert.match(stale.details, /^update out of sequence/);
  const still = (await rpc(h.client, "getService", { serviceId: s.id, insertDefaults: false })).service!;
  assert.equal(still.spec?.mode?.$case === "replicated" && still.spec.mode.value.replicas, 5);

  // Rollback to the previous spec swaps spec and previous spec.
  const r = (
    await rpc(h.client, "updateService", {
      serviceId: s.id,
      serviceVersion: u.meta!.version,
      spec: u.spec,
      rollback: UpdateServiceRequest_Rollback.PREVIOUS,
    })
  ).service!;
  assert.equal(r.spec?.mode?.$case === "replicated" && r.spec.mode.value.replicas, 1);
  assert.equal(r.previousSpec?.mode?.$case === "replicated" && r.previousSpec.mode.value.replicas, 5);
  assert.equal(r.updateStatus?.state, UpdateStatus_UpdateState.ROLLBACK_STARTED);
  assert.equal(r.updateStatus?.message, "manually requested rollback");
});

test("rollback without a previous spec, mode change, rename, and missing version are refused", async () => {
  const s = (await rpc(h.client, "createService", { spec: spec("fixed") })).service!;
  const v = s.meta!.version;
  const noPrev = await rpcError(h.client, "updateService", {
    serviceId: s.id,
    serviceVersion: v,
    spec: spec("fixed"),
    rollback: UpdateServiceRequest_Rollback.PREVIOUS,
  });
  assert.equal(noPrev.code, status.FAILED_PRECONDITION);
  assert.equal(noPrev.details, `service ${s.id} does not have a previous spec`);
  const global = ServiceSpec.fromPartial({ ...spec("fixed"), mode: { $case: "global", value: {} } });
  const mode = await rpcError(h.client, "updateService", { serviceId: s.id, serviceVersion: v, spec: global, rollback: 0 });
  assert.equal(mode.code, status.UNIMPLEMENTED);
  assert.equal(mode.details, "service mode change is not allowed");
  const rename = await rpcError(h.client, "updateService", { serviceId: s.id, serviceVersion: v, spec: spec("renamed"), rollback: 0 });
  assert.equal(rename.code, status.UNIMPLEMENTED);
  assert.equal(rename.details, "renaming services is not supported");
  const noVersion = await rpcError(h.client, "updateService", { serviceId: s.id, serviceVersion: undefined, spec: spec("fixed"), rollback: 0 });
  assert.equal(noVersion.code, status.INVALID_ARGUMENT);
  assert.equal(noVersion.details, "invalid argument");
  const missing = await rpcError(h.client, "updateService", { serviceId: "nosuch", serviceVersion: v, spec: spec("fixed"), rollback: 0 });
  assert.equal(missing.code, status.NOT_FOUND);
});

test("host-published ports: a second service may share a host port, an ingress clash is refused", async () => {
  const withPort = (name: string, publishMode: number) =>
    ServiceSpec.fromPartial({
      ...spec(name),
      endpoint: { ports: [{ name: "http", protocol: 0, targetPort: 80, publishedPort: 8080, publishMode }] },
    });
  await rpc(h.client, "createService", { spec: withPort("hp1", 1) });
  await rpc(h.client, "createService", { spec: withPort("hp2", 1) });
  // An ingress port needs the ingress network, which this cluster does not have.
  const noIngress = await rpcError(h.client, "createService", { spec: withPort("ing", 0) });
  assert.equal(noIngress.code, status.INVALID_ARGUMENT);
  assert.match(noIngress.details, /port '8080' is already in use by service 'hp[12]' \(\w+\) as a host-published port/);
});

test("secret references must name existing secrets", async () => {
  const withSecret = ServiceSpec.fromPartial({
    ...spec("needs-secret"),
    task: {
      runtime: {
        $case: "container",
        value: { image: "busybox", secrets: [{ secretId: "nope", secretName: "db-pass", target: { $case: "file", value: { name: "db" } } }] },
      },
    },
  });
  const err = await rpcError(h.client, "createService", { spec: withSecret });
  assert.equal(err.code, status.INVALID_ARGUMENT);
  assert.equal(err.details, "secret not found: db-pass");
});

test("ListServiceStatuses counts desired and running tasks", async () => {
  const s = (await rpc(h.client, "createService", { spec: spec("counted", 3) })).service!;
  await put(h.backend, (tx) => {
    for (const [i, state] of [TaskState.RUNNING, TaskState.RUNNING, TaskState.PENDING].entries()) {
      tx.create("task", Task.fromPartial({ id: `task${i}counted`, serviceId: s.id, slot: i + 1, desiredState: TaskState.RUNNING, status: { state } }));
    }
  });
  const res = await rpc(h.client, "listServiceStatuses", { services: [s.id, "unknown"] });
  assert.deepEqual(res.statuses[0], { serviceId: s.id, desiredTasks: 3, runningTasks: 2, completedTasks: 0 });
  assert.deepEqual(res.statuses[1], { serviceId: "unknown", desiredTasks: 0, runningTasks: 0, completedTasks: 0 });
});
