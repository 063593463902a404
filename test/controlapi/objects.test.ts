import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { ClusterSpec, ConfigSpec, NetworkSpec, SecretSpec, ServiceSpec, Task, TaskState } from "../../src/shared/api/index.js";
import { parseJoinToken } from "../../src/shared/pki/index.js";
import { MAX_SECRET_SIZE } from "../../src/workers/manager/controlapi/index.js";
import { put, rpc, rpcError, startHarness, type Harness } from "./harness.js";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

test("GetCluster/ListClusters redact the CA key, signing key and unlock/network keys", async () => {
  const { cluster } = await rpc(h.client, "getCluster", { clusterId: h.tls.clusterId });
  assert.equal(cluster?.spec?.annotations?.name, "default");
  assert.equal(cluster?.rootCa?.caKey.length, 0);
  assert.equal(cluster?.spec?.caConfig?.signingCaKey.length, 0);
  assert.equal(cluster?.networkBootstrapKeys.length, 0);
  assert.equal(Buffer.from(cluster!.rootCa!.caCert).toString(), h.tls.caPem);
  assert.deepEqual(cluster?.defaultAddressPool, ["10.0.0.0/8"]);
  assert.equal(cluster?.VXLANUDPPort, 4789);
  const raw = JSON.stringify((await rpc(h.client, "listClusters", { filters: undefined })).clusters);
  assert.ok(!raw.includes("PRIVATE KEY"));
  const byName = await rpc(h.client, "listClusters", { filters: { names: ["default"], idPrefixes: [], labels: {}, namePrefixes: [] } });
  assert.equal(byName.clusters.length, 1);
  const none = await rpc(h.client, "listClusters", { filters: { names: [], idPrefixes: ["zzz"], labels: {}, namePrefixes: [] } });
  assert.equal(none.clusters.length, 0);
});

test("UpdateCluster rotates join tokens, keeps the name and the stored signing key, validates the spec", async () => {
  const before = (await rpc(h.client, "getCluster", { clusterId: h.tls.clusterId })).cluster!;
  const stored = h.backend.store.get("cluster", h.tls.clusterId)!;
  const spec = ClusterSpec.fromPartial({ ...before.spec, orchestration: { taskHistoryRetentionLimit: 9 } });
  const after1 = (
    await rpc(h.client, "updateCluster", {
      clusterId: before.id,
      clusterVersion: before.meta!.version,
      spec,
      rotation: { workerJoinToken: true, managerJoinToken: false, managerUnlockKey: false },
    })
  ).cluster!;
  assert.equal(after1.spec?.orchestration?.taskHistoryRetentionLimit, 9);
  assert.notEqual(after1.rootCa?.joinTokens?.worker, before.rootCa?.joinTokens?.worker);
  assert.equal(after1.rootCa?.joinTokens?.manager, before.rootCa?.joinTokens?.manager);
  assert.equal(parseJoinToken(after1.rootCa!.joinTokens!.worker).digestHex, parseJoinToken(before.rootCa!.joinTokens!.worker).digestHex);
  const now = h.backend.store.get("cluster", h.tls.clusterId)!;
  assert.deepEqual(Buffer.from(now.spec!.caConfig!.signingCaKey), Buffer.from(stored.spec!.caConfig!.signingCaKey));
  assert.deepEqual(Buffer.from(now.rootCa!.caKey), Buffer.from(h.tls.caKeyPem));

  const stale = await rpcError(h.client, "updateCluster", { clusterId: before.id, clusterVersion: before.meta!.version, spec, rotation: undefined });
  assert.equal(stale.code, status.FAILED_PRECONDITION);
  assert.match(stale.details, /update out of sequence/);
  const bad = async (s: object, message: RegExp) => {
    const err = await rpcError(h.client, "updateCluster", {
      clusterId: before.id,
      clusterVersion: after1.meta!.version,
      spec: ClusterSpec.fromPartial({ ...spec, ...s }),
      rotation: undefined,
    });
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.match(err.details, message);
  };
  await bad({ annotations: { name: "renamed" } }, /^modification of cluster name is not allowed$/);
  await bad({ caConfig: { nodeCertExpiry: { seconds: 60, nanos: 0 } } }, /^minimum certificate expiry time is: 1h0m0s$/);
  await bad({ dispatcher: { heartbeatPeriod: { seconds: -5, nanos: 0 } } }, /^heartbeat time period cannot be a negative duration$/);

  // Autolock creates a manager unlock key; it is stored but never returned.
  const locked = (
    await rpc(h.client, "updateCluster", {
      clusterId: before.id,
      clusterVersion: after1.meta!.version,
      spec: ClusterSpec.fromPartial({ ...spec, encryptionConfig: { autoLockManagers: true } }),
      rotation: undefined,
    })
  ).cluster!;
  assert.equal(locked.unlockKeys.length, 0);
  assert.equal(h.backend.store.get("cluster", h.tls.clusterId)!.unlockKeys[0]?.key.length, 32);
});

test("secrets: data is never returned, size and name rules, labels-only updates, in-use removal refused", async () => {
  const data = Buffer.from("top secret value");
  const created = (await rpc(h.client, "createSecret", { spec: SecretSpec.fromPartial({ annotations: { name: "db.pass" }, data }) })).secret!;
  assert.equal(created.spec?.data.length, 0);
  assert.deepEqual(Buffer.from(h.backend.store.get("secret", created.id)!.spec!.data), data);
  const got = (await rpc(h.client, "getSecret", { secretId: created.id })).secret!;
  assert.equal(got.spec?.data.length, 0);
  const listed = (await rpc(h.client, "listSecrets", { filters: undefined })).secrets;
  assert.ok(listed.every((s) => s.spec?.data.length === 0));
  assert.ok(!JSON.stringify(listed).includes("top secret"));

  const tooBig = await rpcError(h.client, "createSecret", { spec: SecretSpec.fromPartial({ annotations: { name: "big" }, data: Buffer.alloc(MAX_SECRET_SIZE) }) });
  assert.equal(tooBig.code, status.INVALID_ARGUMENT);
  assert.equal(tooBig.details, "secret data must be larger than 0 and less than 512000 bytes");
  const empty = await rpcError(h.client, "createSecret", { spec: SecretSpec.fromPartial({ annotations: { name: "empty" } }) });
  assert.equal(empty.code, status.INVALID_ARGUMENT);
  const badName = await rpcError(h.client, "createSecret", { spec: SecretSpec.fromPartial({ annotations: { name: "-bad-" }, data }) });
  assert.equal(badName.code, status.INVALID_ARGUMENT);
  assert.match(badName.details, /invalid name "-bad-", only 64 \[a-zA-Z0-9-_.\] characters allowed/);
  const dup = await rpcError(h.client, "createSecret", { spec: SecretSpec.fromPartial({ annotations: { name: "db.pass" }, data }) });
  assert.equal(dup.code, status.ALREADY_EXISTS);

  const relabeled = (
    await rpc(h.client, "updateSecret", {
      secretId: created.id,
      secretVersion: got.meta!.version,
      spec: SecretSpec.fromPartial({ annotations: { name: "db.pass", labels: { env: "prod" } } }),
    })
  ).secret!;
  assert.deepEqual(relabeled.spec?.annotations?.labels, { env: "prod" });
  assert.equal(relabeled.spec?.data.length, 0);
  const changeData = await rpcError(h.client, "updateSecret", {
    secretId: created.id,
    secretVersion: relabeled.meta!.version,
    spec: SecretSpec.fromPartial({ annotations: { name: "db.pass" }, data: Buffer.from("other") }),
  });
  assert.equal(changeData.code, status.INVALID_ARGUMENT);
  assert.equal(changeData.details, "only updates to Labels are allowed");
  const byLabel = await rpc(h.client, "listSecrets", { filters: { names: [], idPrefixes: [], labels: { env: "prod" }, namePrefixes: [] } });
  assert.deepEqual(byLabel.secrets.map((s) => s.id), [created.id]);

  await rpc(h.client, "createService", {
    spec: ServiceSpec.fromPartial({
      annotations: { name: "uses-secret" },
      task: {
        runtime: {
          $case: "container",
          value: { image: "busybox", secrets: [{ secretId: created.id, secretName: "db.pass", target: { $case: "file", value: { name: "db" } } }] },
        },
      },
      mode: { $case: "replicated", value: { replicas: 0 } },
    }),
  });
  const inUse = await rpcError(h.client, "removeSecret", { secretId: created.id });
  assert.equal(inUse.code, status.INVALID_ARGUMENT);
  assert.equal(inUse.details, "secret 'db.pass' is in use by the following service: uses-secret");
  const missing = await rpcError(h.client, "removeSecret", { secretId: "nosuch" });
  assert.equal(missing.code, status.NOT_FOUND);
});

test("configs: data is returned, create/get/list/update/remove", async () => {
  const c = (await rpc(h.client, "createConfig", { spec: ConfigSpec.fromPartial({ annotations: { name: "app.conf" }, data: Buffer.from("k=v") }) })).config!;
  assert.equal(Buffer.from(c.spec!.data).toString(), "k=v");
  assert.equal((await rpc(h.client, "getConfig", { configId: c.id })).config?.id, c.id);
  const listed = await rpc(h.client, "listConfigs", { filters: { names: [], idPrefixes: [], labels: {}, namePrefixes: ["app"] } });
  assert.deepEqual(listed.configs.map((x) => x.id), [c.id]);
  const up = await rpc(h.client, "updateConfig", {
    configId: c.id,
    configVersion: c.meta!.version,
    spec: ConfigSpec.fromPartial({ annotations: { name: "app.conf", labels: { a: "b" } } }),
  });
  assert.deepEqual(up.config?.spec?.annotations?.labels, { a: "b" });
  const tooBig = await rpcError(h.client, "createConfig", { spec: ConfigSpec.fromPartial({ annotations: { name: "huge" }, data: Buffer.alloc(1000 * 1024) }) });
  assert.equal(tooBig.code, status.INVALID_ARGUMENT);
  await rpc(h.client, "removeConfig", { configId: c.id });
  assert.equal((await rpcError(h.client, "getConfig", { configId: c.id })).code, status.NOT_FOUND);
});

test("networks: create/get/list/remove, IPAM validation, in-use and predefined networks", async () => {
  const n = (
    await rpc(h.client, "createNetwork", {
      spec: NetworkSpec.fromPartial({
        annotations: { name: "backend" },
        driverConfig: { name: "overlay" },
        ipam: { configs: [{ subnet: "10.10.0.0/24", gateway: "10.10.0.1", range: "10.10.0.128/25" }] },
      }),
    })
  ).network!;
  assert.equal((await rpc(h.client, "getNetwork", { networkId: n.id, name: "", appdata: undefined })).network?.spec?.annotations?.name, "backend");
  const listed = await rpc(h.client, "listNetworks", { filters: { names: ["backend"], idPrefixes: [], labels: {}, namePrefixes: [] }, appdata: undefined });
  assert.deepEqual(listed.networks.map((x) => x.id), [n.id]);
  const badGw = await rpcError(h.client, "createNetwork", {
    spec: NetworkSpec.fromPartial({ annotations: { name: "n2" }, ipam: { configs: [{ subnet: "10.20.0.0/24", gateway: "10.30.0.1" }] } }),
  });
  assert.equal(badGw.code, status.INVALID_ARGUMENT);
  assert.equal(badGw.details, "ipam configuration: subnet 10.20.0.0/24 does not contain gateway 10.30.0.1");
  const badSubnet = await rpcError(h.client, "createNetwork", { spec: NetworkSpec.fromPartial({ annotations: { name: "n3" }, ipam: { configs: [{ subnet: "10.0.0.0/33" }] } }) });
  assert.equal(badSubnet.details, "ipam configuration: invalid subnet 10.0.0.0/33");
  const internal = await rpcError(h.client, "createNetwork", {
    spec: NetworkSpec.fromPartial({ annotations: { name: "n4", labels: { "com.docker.swarm.internal": "" } } }),
  });
  assert.equal(internal.code, status.PERMISSION_DENIED);
  const dup = await rpcError(h.client, "createNetwork", { spec: NetworkSpec.fromPartial({ annotations: { name: "backend" } }) });
  assert.equal(dup.code, status.ALREADY_EXISTS);

  await rpc(h.client, "createService", {
    spec: ServiceSpec.fromPartial({
      annotations: { name: "on-backend" },
      task: { runtime: { $case: "container", value: { image: "busybox" } }, networks: [{ target: n.id }] },
      mode: { $case: "replicated", value: { replicas: 0 } },
    }),
  });
  const inUse = await rpcError(h.client, "removeNetwork", { networkId: n.id, name: "" });
  assert.equal(inUse.code, status.FAILED_PRECONDITION);
  assert.match(inUse.details, new RegExp(`^network ${n.id} is in use by service `));

  const free = (await rpc(h.client, "createNetwork", { spec: NetworkSpec.fromPartial({ annotations: { name: "free" } }) })).network!;
  await rpc(h.client, "removeNetwork", { networkId: free.id, name: "" });
  assert.equal((await rpcError(h.client, "getNetwork", { networkId: free.id, name: "", appdata: undefined })).code, status.NOT_FOUND);
});

test("tasks: get, list with service/node/desired-state/name filters, remove", async () => {
  const svc = (
    await rpc(h.client, "createService", {
      spec: ServiceSpec.fromPartial({
        annotations: { name: "tsvc", labels: { team: "x" } },
        task: { runtime: { $case: "container", value: { image: "busybox" } } },
        mode: { $case: "replicated", value: { replicas: 2 } },
      }),
    })
  ).service!;
  await put(h.backend, (tx) => {
    tx.create("task", Task.fromPartial({ id: "t1aaaaaaaaaaaaaaaaaaaaaaa", serviceId: svc.id, slot: 1, nodeId: "n1", desiredState: TaskState.RUNNING, serviceAnnotations: { name: "tsvc", labels: { team: "x" } }, status: { state: TaskState.RUNNING } }));
    tx.create("task", Task.fromPartial({ id: "t2aaaaaaaaaaaaaaaaaaaaaaa", serviceId: svc.id, slot: 2, nodeId: "n2", desiredState: TaskState.SHUTDOWN, serviceAnnotations: { name: "tsvc", labels: { team: "x" } }, status: { state: TaskState.COMPLETE } }));
  });
  const f = (over: object) => ({ names: [], idPrefixes: [], labels: {}, serviceIds: [], nodeIds: [], desiredStates: [], namePrefixes: [], upToDate: false, runtimes: [], ...over });
  const ids = async (over: object) => (await rpc(h.client, "listTasks", { filters: f(over) })).tasks.map((t) => t.id);
  assert.deepEqual(await ids({ serviceIds: [svc.id] }), ["t1aaaaaaaaaaaaaaaaaaaaaaa", "t2aaaaaaaaaaaaaaaaaaaaaaa"]);
  assert.deepEqual(await ids({ serviceIds: [svc.id], desiredStates: [TaskState.RUNNING] }), ["t1aaaaaaaaaaaaaaaaaaaaaaa"]);
  assert.deepEqual(await ids({ nodeIds: ["n2"] }), ["t2aaaaaaaaaaaaaaaaaaaaaaa"]);
  assert.deepEqual(await ids({ names: ["tsvc.1.t1aaaaaaaaaaaaaaaaaaaaaaa"] }), ["t1aaaaaaaaaaaaaaaaaaaaaaa"]);
  assert.deepEqual(await ids({ namePrefixes: ["tsvc.2"] }), ["t2aaaaaaaaaaaaaaaaaaaaaaa"]);
  assert.deepEqual(await ids({ labels: { team: "y" } }), []);
  assert.deepEqual(await ids({ runtimes: ["container"], serviceIds: [svc.id] }), []);
  assert.equal((await rpc(h.client, "getTask", { taskId: "t1aaaaaaaaaaaaaaaaaaaaaaa" })).task?.slot, 1);
  await rpc(h.client, "removeTask", { taskId: "t2aaaaaaaaaaaaaaaaaaaaaaa" });
  const gone = await rpcError(h.client, "getTask", { taskId: "t2aaaaaaaaaaaaaaaaaaaaaaa" });
  assert.equal(gone.code, status.NOT_FOUND);
  assert.equal(gone.details, "task t2aaaaaaaaaaaaaaaaaaaaaaa not found");
});
