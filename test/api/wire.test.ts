// Wire-level checks of the generated SwarmKit API: exact bytes for hand-computed cases and
// lossless round trips of the objects the store and the control API move around.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import {
  Cluster,
  ContainerSpec,
  durationFromMillis,
  durationToMillis,
  encodeToBuffer,
  InternalRaftRequest,
  ListNodesRequest,
  Meta,
  NodeRole,
  raftpb,
  Service,
  StoreActionKind,
  Task,
  TaskState,
  Version,
} from "../../src/shared/api/index.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

test("Version{index:5} encodes to 08 05, as gogo-protobuf does", () => {
  assert.equal(hex(encodeToBuffer(Version, { index: 5 })), "0805");
  assert.deepEqual(Version.decode(Uint8Array.from([0x08, 0x05])), { index: 5 });
  // proto3 default: a zero index is not written at all.
  assert.equal(encodeToBuffer(Version, { index: 0 }).length, 0);
});

test("Meta with timestamps encodes to hand-computed bytes", () => {
  const meta: Meta = { version: { index: 5 }, createdAt: new Date(1000), updatedAt: new Date(2500) };
  // 0a 02 {08 05}                       version = Version{index:5}
  // 12 02 {08 01}                       created_at = Timestamp{seconds:1}
  // 1a 08 {08 02 10 80 ca b5 ee 01}     updated_at = Timestamp{seconds:2, nanos:500000000}
  const expected = "0a020805" + "12020801" + "1a08" + "0802" + "1080cab5ee01";
  assert.equal(hex(encodeToBuffer(Meta, meta)), expected);
  assert.deepEqual(Meta.decode(Buffer.from(expected, "hex")), meta);
});

test("repeated enums in list filters stay unpacked, as SwarmKit declares them", () => {
  const req = ListNodesRequest.fromPartial({ filters: { roles: [NodeRole.MANAGER, NodeRole.WORKER] } });
  // filters (field 1, 4 bytes): roles (field 5, varint) written once per value: 28 01 28 00.
  assert.equal(hex(encodeToBuffer(ListNodesRequest, req)), "0a0428012800");
  // A packed encoding (2a 02 01 00) must still decode to the same list.
  assert.deepEqual(ListNodesRequest.decode(Buffer.from("0a042a020100", "hex")).filters?.roles, [1, 0]);
});

test("Service with a replicated mode round-trips, oneofs included", () => {
  const service = Service.fromPartial({
    id: "9rd1v3rm0tmx2ms2mk93vdt1h",
    meta: { version: { index: 12 }, createdAt: new Date(1_700_000_000_123), updatedAt: new Date(1_700_000_001_000) },
    spec: {
      annotations: { name: "web", labels: { tier: "front", "com.example.owner": "ops" } },
      task: {
        runtime: {
          $case: "container",
          value: ContainerSpec.fromPartial({
            image: "nginx:1.25",
            env: ["A=1", "B=2"],
            mounts: [{ type: 0, source: "/srv", target: "/usr/share/nginx/html", readonly: true }],
            secrets: [{ secretId: "s1", secretName: "tls", target: { $case: "file", value: { name: "tls.pem", uid: "0", gid: "0", mode: 0o400 } } }],
            init: true,
            stopGracePeriod: durationFromMillis(10_000),
          }),
        },
        restart: { condition: 1, delay: durationFromMillis(5_000), maxAttempts: 3 },
        placement: { constraints: ["node.role==worker"], preferences: [{ Preference: { $case: "spread", value: { spreadDescriptor: "node.labels.az" } } }] },
      },
      mode: { $case: "replicated", value: { replicas: 3 } },
      endpoint: { mode: 0, ports: [{ name: "http", protocol: 0, targetPort: 80, publishedPort: 8080, publishMode: 0 }] },
    },
    specVersion: { index: 11 },
  });
  const decoded = Service.decode(encodeToBuffer(Service, service));
  assert.deepEqual(decoded, service);
  assert.equal(decoded.spec?.mode?.$case, "replicated");
  assert.equal(decoded.spec?.task?.runtime?.$case === "container" && decoded.spec.task.runtime.value.init, true);

  const job = Service.fromPartial({ id: "x", spec: { mode: { $case: "replicatedJob", value: { maxConcurrent: 2, totalCompletions: 10 } } } });
  const jobBack = Service.decode(encodeToBuffer(Service, job));
  assert.deepEqual(jobBack.spec?.mode, { $case: "replicatedJob", value: { maxConcurrent: 2, totalCompletions: 10 } });
  const global = Service.decode(encodeToBuffer(Service, Service.fromPartial({ spec: { mode: { $case: "global", value: {} } } })));
  assert.equal(global.spec?.mode?.$case, "global");
});

test("Task with a container status round-trips", () => {
  const task = Task.fromPartial({
    id: "t1",
    meta: { version: { index: 40 }, createdAt: new Date(1_700_000_000_000) },
    spec: { runtime: { $case: "container", value: { image: "redis:7" } } },
    serviceId: "s1",
    slot: 2,
    nodeId: "n1",
    annotations: { name: "redis.2.t1" },
    status: {
      timestamp: new Date(1_700_000_002_000),
      state: TaskState.RUNNING,
      message: "started",
      runtimeStatus: { $case: "container", value: { containerId: "c0ffee", pid: 4242, exitCode: 0 } },
      appliedBy: "m1",
      appliedAt: new Date(1_700_000_002_500),
    },
    desiredState: TaskState.RUNNING,
  });
  const back = Task.decode(encodeToBuffer(Task, task));
  assert.deepEqual(back, task);
  assert.equal(back.status?.state, 512);
  assert.ok(TaskState.COMPLETE > TaskState.RUNNING, "task states compare numerically");
});

test("Cluster with map fields round-trips", () => {
  const cluster = Cluster.fromPartial({
    id: "c1",
    spec: {
      annotations: { name: "default", labels: { env: "prod", team: "infra" } },
      raft: { snapshotInterval: 10_000, keepOldSnapshots: 0, logEntriesForSlowFollowers: 500, heartbeatTick: 1, electionTick: 10 },
      dispatcher: { heartbeatPeriod: durationFromMillis(5_000) },
      caConfig: { nodeCertExpiry: durationFromMillis(90 * 24 * 3600 * 1000), externalCas: [{ protocol: 0, url: "https://ca", options: { k: "v" } }] },
      orchestration: { taskHistoryRetentionLimit: 5 },
    },
    rootCa: { caCert: Buffer.from("-----BEGIN CERTIFICATE-----"), caCertHash: "abc", joinTokens: { worker: "SWMTKN-1-a-w", manager: "SWMTKN-1-a-m" } },
    blacklistedCertificates: { node1: { expiry: new Date(1_800_000_000_000) }, node2: { expiry: undefined } },
    defaultAddressPool: ["10.0.0.0/8"],
    subnetSize: 24,
    VXLANUDPPort: 4789,
  });
  const back = Cluster.decode(encodeToBuffer(Cluster, cluster));
  assert.deepEqual(back, cluster);
  assert.equal(durationToMillis(back.spec?.dispatcher?.heartbeatPeriod), 5_000);
  assert.deepEqual(Object.keys(back.blacklistedCertificates).sort(), ["node1", "node2"]);
});

test("a store action batch (raft log payload) round-trips", () => {
  const req = InternalRaftRequest.fromPartial({
    id: 77,
    action: [
      { action: StoreActionKind.STORE_ACTION_CREATE, target: { $case: "task", value: { id: "t9", slot: 1 } } },
      { action: StoreActionKind.STORE_ACTION_REMOVE, target: { $case: "secret", value: { id: "s9" } } },
    ],
  });
  assert.deepEqual(InternalRaftRequest.decode(encodeToBuffer(InternalRaftRequest, req)), req);
});

test("raftpb decodes etcd's always-written proto2 fields and keeps ConfState unpacked", () => {
  // gogo writes etcd's non-nullable fields even when zero, in field order: Type, Term, Index, Data.
  const entry = raftpb.Entry.decode(Buffer.from("0800100118022201aa", "hex"));
  assert.deepEqual(entry, { Type: raftpb.EntryType.EntryNormal, Term: 1, Index: 2, Data: Buffer.from([0xaa]) });
  assert.equal(hex(raftpb.Entry.encode(entry).finish()), "100118022201aa");
  assert.equal(hex(raftpb.ConfState.encode(raftpb.ConfState.fromPartial({ voters: [1, 2] })).finish()), "08010802");
  const msg = raftpb.Message.fromPartial({
    type: raftpb.MessageType.MsgApp, to: 2, from: 1, term: 3, logTerm: 3, index: 9, commit: 9,
    entries: [{ Type: raftpb.EntryType.EntryConfChange, Term: 3, Index: 10, Data: Buffer.from([1, 2, 3]) }],
  });
  assert.deepEqual(raftpb.Message.decode(raftpb.Message.encode(msg).finish()), msg);
});

test("64-bit fields are JS numbers and refuse values beyond 2^53 instead of rounding", () => {
  const big = new BinaryWriter().uint32(8).uint64(2n ** 60n).finish();
  assert.throws(() => Version.decode(big), /MAX_SAFE_INTEGER/);
  const max = Number.MAX_SAFE_INTEGER;
  assert.equal(Version.decode(encodeToBuffer(Version, { index: max })).index, max);
});

test("duration helpers convert both ways", () => {
  assert.deepEqual(durationFromMillis(1500), { seconds: 1, nanos: 500_000_000 });
  assert.deepEqual(durationFromMillis(-1500), { seconds: -1, nanos: -500_000_000 });
  assert.equal(durationToMillis({ seconds: 2, nanos: 250_000_000 }), 2250);
  assert.equal(durationToMillis(undefined, 42), 42);
  assert.throws(() => durationFromMillis(Number.NaN), RangeError);
});
