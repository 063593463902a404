import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { NodeRole, NodeSpec_Membership, RaftMemberStatus_Reachability, Task, TaskState } from "../../src/shared/api/index.js";
import { MANAGER_ROLE, createKeyAndCsr, signNodeCsr } from "../../src/shared/pki/index.js";
import { nodeObject, put, rpc, rpcError, startHarness, type Harness } from "./harness.js";

let h: Harness;
const filters = (over: object) => ({ names: [], idPrefixes: [], labels: {}, memberships: [], roles: [], namePrefixes: [], nodeLabels: {}, ...over });

before(async () => {
  h = await startHarness();
  await put(h.backend, (tx) => {
    tx.create("node", nodeObject("mgr1aaaaaaaaaaaaaaaaaaaaa", { hostname: "m1", role: NodeRole.MANAGER }));
    tx.create("node", nodeObject("mgr2aaaaaaaaaaaaaaaaaaaaa", { hostname: "m2", role: NodeRole.MANAGER }));
    tx.create("node", nodeObject("mgr3aaaaaaaaaaaaaaaaaaaaa", { hostname: "m3", role: NodeRole.MANAGER }));
    tx.create("node", nodeObject("wrk1aaaaaaaaaaaaaaaaaaaaa", { hostname: "w1", labels: { zone: "a" } }));
  });
  h.backend.members = [
    { raftId: 1, nodeId: "mgr1aaaaaaaaaaaaaaaaaaaaa", addr: "10.0.0.1:4242", reachable: true, leader: true },
    { raftId: 2, nodeId: "mgr2aaaaaaaaaaaaaaaaaaaaa", addr: "10.0.0.2:4242", reachable: true, leader: false },
    { raftId: 3, nodeId: "mgr3aaaaaaaaaaaaaaaaaaaaa", addr: "10.0.0.3:4242", reachable: false, leader: false },
  ];
});
after(async () => {
  await h.close();
});

test("ListNodes and GetNode fill ManagerStatus from raft membership", async () => {
  const { nodes } = await rpc(h.client, "listNodes", { filters: undefined });
  assert.equal(nodes.length, 4);
  const m1 = nodes.find((n) => n.id.startsWith("mgr1"))!;
  assert.deepEqual(m1.managerStatus, { raftId: 1, addr: "10.0.0.1:4242", leader: true, reachability: RaftMemberStatus_Reachability.REACHABLE });
  const m3 = (await rpc(h.client, "getNode", { nodeId: "mgr3aaaaaaaaaaaaaaaaaaaaa" })).node!;
  assert.equal(m3.managerStatus?.reachability, RaftMemberStatus_Reachability.UNREACHABLE);
  assert.equal(nodes.find((n) => n.id.startsWith("wrk1"))!.managerStatus, undefined);
  const missing = await rpcError(h.client, "getNode", { nodeId: "nosuch" });
  assert.equal(missing.code, status.NOT_FOUND);
  assert.equal(missing.details, "node nosuch not found");
});

test("ListNodes filters: hostnames, prefixes, roles, memberships, node and engine labels", async () => {
  const ids = async (over: object) => (await rpc(h.client, "listNodes", { filters: filters(over) })).nodes.map((n) => n.description?.hostname).sort();
  assert.deepEqual(await ids({ names: ["m2"] }), ["m2"]);
  assert.deepEqual(await ids({ namePrefixes: ["m"] }), ["m1", "m2", "m3"]);
  assert.deepEqual(await ids({ idPrefixes: ["wrk"] }), ["w1"]);
  assert.deepEqual(await ids({ roles: [NodeRole.WORKER] }), ["w1"]);
  assert.deepEqual(await ids({ memberships: [NodeSpec_Membership.PENDING] }), []);
  assert.deepEqual(await ids({ nodeLabels: { zone: "a" } }), ["w1"]);
  assert.deepEqual(await ids({ labels: { engine: "yes" }, roles: [NodeRole.MANAGER] }), ["m1", "m2", "m3"]);
});

test("UpdateNode needs the current version and refuses demotions that would break raft", async () => {
  const w = (await rpc(h.client, "getNode", { nodeId: "wrk1aaaaaaaaaaaaaaaaaaaaa" })).node!;
  const drained = (await rpc(h.client, "updateNode", { nodeId: w.id, nodeVersion: w.meta!.version, spec: { ...w.spec!, availability: 2 } })).node!;
  assert.equal(drained.spec?.availability, 2);
  const stale = await rpcError(h.client, "updateNode", { nodeId: w.id, nodeVersion: w.meta!.version, spec: w.spec });
  assert.equal(stale.code, status.FAILED_PRECONDITION);
  assert.match(stale.details, /^update out of sequence/);

  // m2 is reachable, but with m3 unreachable, removing m2 leaves 1 of 2: no quorum.
  const m2 = (await rpc(h.client, "getNode", { nodeId: "mgr2aaaaaaaaaaaaaaaaaaaaa" })).node!;
  const demote = { nodeId: m2.id, nodeVersion: m2.meta!.version, spec: { ...m2.spec!, desiredRole: NodeRole.WORKER } };
  const quorum = await rpcError(h.client, "updateNode", demote);
  assert.equal(quorum.code, status.FAILED_PRECONDITION);
  assert.equal(quorum.details, "can't remove member from the raft: this would result in a loss of quorum");
  // Demoting the unreachable m3 keeps m1+m2 reachable: allowed.
  const m3 = (await rpc(h.client, "getNode", { nodeId: "mgr3aaaaaaaaaaaaaaaaaaaaa" })).node!;
  const ok = await rpc(h.client, "updateNode", { nodeId: m3.id, nodeVersion: m3.meta!.version, spec: { ...m3.spec!, desiredRole: NodeRole.WORKER } });
  assert.equal(ok.node?.spec?.desiredRole, NodeRole.WORKER);
});

test("the last manager cannot be demoted", async () => {
  const h2 = await startHarness();
  try {
    await put(h2.backend, (tx) => tx.create("node", nodeObject("soloaaaaaaaaaaaaaaaaaaaaa", { role: NodeRole.MANAGER })));
    h2.backend.members = [{ raftId: 1, nodeId: "soloaaaaaaaaaaaaaaaaaaaaa", addr: "a:1", reachable: true, leader: true }];
    const n = (await rpc(h2.client, "getNode", { nodeId: "soloaaaaaaaaaaaaaaaaaaaaa" })).node!;
    const err = await rpcError(h2.client, "updateNode", { nodeId: n.id, nodeVersion: n.meta!.version, spec: { ...n.spec!, desiredRole: NodeRole.WORKER } });
    assert.equal(err.code, status.FAILED_PRECONDITION);
    assert.equal(err.details, "attempting to demote the last manager of the swarm");
  } finally {
    await h2.close();
  }
});

test("RemoveNode: raft members must be demoted first, ready nodes need force", async () => {
  const inRaft = await rpcError(h.client, "removeNode", { nodeId: "mgr1aaaaaaaaaaaaaaaaaaaaa", force: true });
  assert.equal(inRaft.code, status.FAILED_PRECONDITION);
  assert.match(inRaft.details, /is a cluster manager and is a member of the raft cluster\. It must be demoted to worker before removal$/);
  const up = await rpcError(h.client, "removeNode", { nodeId: "wrk1aaaaaaaaaaaaaaaaaaaaa", force: false });
  assert.equal(up.code, status.FAILED_PRECONDITION);
  assert.equal(up.details, "node wrk1aaaaaaaaaaaaaaaaaaaaa is not down and can't be removed");
  const missing = await rpcError(h.client, "removeNode", { nodeId: "nosuch", force: true });
  assert.equal(missing.code, status.NOT_FOUND);
});

test("a removed node's certificate is blacklisted until expiry and its tasks are orphaned", async () => {
  const { keyPem: _k, csrPem } = await createKeyAndCsr();
  const certPem = signNodeCsr({ csrPem, caCertPem: h.tls.caPem, caKeyPem: h.tls.caKeyPem, nodeId: "gone1aaaaaaaaaaaaaaaaaaaa", role: MANAGER_ROLE, clusterId: h.tls.clusterId });
  const expiry = new Date(new (await import("node:crypto")).X509Certificate(certPem).validTo);
  await put(h.backend, (tx) => {
    tx.create("node", nodeObject("gone1aaaaaaaaaaaaaaaaaaaa", { ready: false, certPem }));
    tx.create("task", Task.fromPartial({ id: "taskrunningonremovednode", nodeId: "gone1aaaaaaaaaaaaaaaaaaaa", desiredState: TaskState.RUNNING, status: { state: TaskState.RUNNING } }));
    tx.create("task", Task.fromPartial({ id: "taskdoneonremovednodeaaaa", nodeId: "gone1aaaaaaaaaaaaaaaaaaaa", desiredState: TaskState.SHUTDOWN, status: { state: TaskState.COMPLETE } }));
  });
  await rpc(h.client, "removeNode", { nodeId: "gone1aaaaaaaaaaaaaaaaaaaa", force: false });
  assert.equal(h.backend.store.get("node", "gone1aaaaaaaaaaaaaaaaaaaa"), undefined);
  const cluster = h.backend.store.get("cluster", h.tls.clusterId)!;
  assert.deepEqual(cluster.blacklistedCertificates["gone1aaaaaaaaaaaaaaaaaaaa"], { expiry });
  assert.equal(h.backend.store.get("task", "taskrunningonremovednode")!.status?.state, TaskState.ORPHANED);
  assert.equal(h.backend.store.get("task", "taskdoneonremovednodeaaaa")!.status?.state, TaskState.COMPLETE);
  // A forced removal of a READY worker succeeds.
  await rpc(h.client, "removeNode", { nodeId: "wrk1aaaaaaaaaaaaaaaaaaaaa", force: true });
  assert.equal(h.backend.store.get("node", "wrk1aaaaaaaaaaaaaaaaaaaaa"), undefined);
});
