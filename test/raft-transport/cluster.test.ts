import { after, test } from "node:test";
import assert from "node:assert/strict";
import { Metadata, status as Status, type ServiceError } from "@grpc/grpc-js";
import { RaftMemberStatus_Reachability, raftpb } from "../../src/shared/api/index.js";
import { dialRaft, dialRaftMembership, peerCredentials } from "../../src/workers/manager/raft/transport/index.js";
import { MEMBER_REMOVED, CANNOT_REMOVE_MEMBER } from "../../src/workers/manager/raft/raft-node.js";
import { WORKER_ROLE } from "../../src/workers/manager/remoteapi/caller.js";
import {
  ELECTION_TICK,
  TICK_MS,
  TestManager,
  leaderOf,
  newClusterCa,
  nodeTls,
  serviceNames,
  waitFor,
  write,
  type ClusterCa,
} from "./harness.js";

const open: TestManager[] = [];
after(async () => {
  await Promise.all(open.map((m) => m.close()));
});

async function manager(c: ClusterCa, opts: Parameters<typeof TestManager.create>[1] = {}): Promise<TestManager> {
  const m = await TestManager.create(c, opts);
  open.push(m);
  return m;
}

function sameServices(ms: readonly TestManager[], names: string[]): boolean {
  return ms.every((m) => JSON.stringify(serviceNames(m)) === JSON.stringify([...names].sort()));
}

async function rpcError(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error("call succeeded but was expected to fail");
}

test("three managers form one raft group, replicate writes, and survive the leader's death", async () => {
  const c = await newClusterCa();
  const [m1, m2, m3] = await Promise.all([manager(c), manager(c), manager(c)]);
  await m1.bootstrap();
  await write(m1, "before-join");

  // m2 joins at the leader; m3 joins through m2 (a follower), which forwards to m1.
  const r2 = await m2.join(m1);
  assert.equal(r2.members.length, 2);
  assert.ok(r2.members.some((m) => m.raftId === r2.raftId && m.nodeId === m2.nodeId && m.addr === m2.addr));
  await waitFor("m2 caught up", () => sameServices([m2], ["before-join"]));
  const r3 = await m3.join(m2);
  assert.equal(r3.members.length, 3);
  assert.notEqual(r3.raftId, r2.raftId);
  const all = [m1, m2, m3];
  await waitFor("all know three members", () => all.every((m) => m.raft.members().length === 3));

  for (let i = 0; i < 10; i++) await write(m1, `w${i}`);
  const names = ["before-join", ...Array.from({ length: 10 }, (_, i) => `w${i}`)];
  await waitFor("writes on all three", () => sameServices(all, names));

  // Joining again with the same address answers the same raft ID without a change.
  const again = await m2.callJoin(m1.addr);
  assert.equal(again.raftId, r2.raftId);
  assert.equal(m1.raft.members().length, 3);

  // ManagerStatus view on the leader: everyone reachable, one leader.
  await waitFor("peers reachable", () => m1.raft.memberStatus().every((s) => s.status?.reachability === RaftMemberStatus_Reachability.REACHABLE));
  const st = m1.raft.memberStatus();
  assert.deepEqual(st.filter((s) => s.status?.leader).map((s) => s.nodeId), [m1.nodeId]);

  // The leader dies; one of the others takes over within a few election timeouts.
  await m1.kill();
  await waitFor("a new leader", () => leaderOf([m2, m3]) !== undefined, 20 * ELECTION_TICK * TICK_MS + 5000);
  const leader = leaderOf([m2, m3])!;
  await write(leader, "after-failover");
  await waitFor("write after failover on both survivors", () => sameServices([m2, m3], [...names, "after-failover"]));
  const follower = leader === m2 ? m3 : m2;
  await waitFor("dead leader seen unreachable", () =>
    leader.raft.memberStatus().find((s) => s.nodeId === m1.nodeId)?.status?.reachability === RaftMemberStatus_Reachability.UNREACHABLE,
  );
  // With m1 gone, removing the follower would leave 1 of 2: refused.
  const refused = await rpcError(follower.callLeave(leader.addr, follower.raft.raftId));
  assert.equal(refused.code, Status.FAILED_PRECONDITION);
  assert.match(refused.details, new RegExp(CANNOT_REMOVE_MEMBER.replace(/[()]/g, "\\$&")));
});

test("a late joiner catches up from a compacted log by a chunked snapshot larger than 4 MiB", async () => {
  const c = await newClusterCa();
  const opts = { snapshotInterval: 4, logEntriesForSlowFollowers: 0 };
  const [m1, m2] = await Promise.all([manager(c, opts), manager(c, opts)]);
  await m1.bootstrap();
  const big = "x".repeat(1024 * 1024);
  const names: string[] = [];
  for (let i = 0; i < 6; i++) {
    await write(m1, `big${i}`, { payload: big });
    names.push(`big${i}`);
  }
  for (let i = 0; i < 5; i++) {
    await write(m1, `small${i}`);
    names.push(`small${i}`);
  }
  assert.ok(m1.raft.status().firstIndex > 2, "the leader's log was compacted");

  await m2.join(m1);
  await waitFor("joiner has every service", () => sameServices([m2], names), 30_000);
  assert.ok(m2.counters.snapshotChunks >= 2, `snapshot arrived in ${m2.counters.snapshotChunks} chunk(s)`);
  assert.ok(m2.counters.snapshotBytes > 4 * 1024 * 1024, `snapshot of ${m2.counters.snapshotBytes} bytes`);
  assert.equal(m2.store.view((tx) => tx.find("service", { names: ["big5"] }))[0]!.spec!.annotations!.labels["payload"], big);

  // And it is a full member: it takes writes that need its vote.
  await write(m1, "after-snapshot");
  await waitFor("write after catch-up", () => sameServices([m1, m2], [...names, "after-snapshot"]));
  assert.deepEqual(m2.raft.members().map((m) => m.nodeId).sort(), [m1.nodeId, m2.nodeId].sort());
});

test("worker certificates are refused on Raft and RaftMembership", async () => {
  const c = await newClusterCa();
  const m1 = await manager(c);
  await m1.bootstrap();
  const worker = await nodeTls(c, WORKER_ROLE);
  const creds = peerCredentials(worker);
  const termBefore = m1.raft.status().term;
  const raft = dialRaft(m1.addr, creds);
  const membership = dialRaftMembership(m1.addr, creds);
  try {
    const msg: raftpb.Message = raftpb.Message.fromPartial({ type: raftpb.MessageType.MsgHeartbeat, to: m1.raft.raftId, from: 12345, term: 99 });
    const e1 = await rpcError(new Promise((resolve, reject) => raft.processRaftMessage({ message: msg }, (err, res) => (err ? reject(err) : resolve(res)))));
    assert.equal(e1.code, Status.PERMISSION_DENIED);
    const e2 = await rpcError(
      new Promise((resolve, reject) => {
        const call = raft.streamRaftMessage((err, res) => (err ? reject(err) : resolve(res)));
        call.write({ message: msg });
        call.end();
      }),
    );
    assert.equal(e2.code, Status.PERMISSION_DENIED);
    const e3 = await rpcError(new Promise((resolve, reject) => membership.join({ addr: "127.0.0.1:1" }, (err, res) => (err ? reject(err) : resolve(res)))));
    assert.equal(e3.code, Status.PERMISSION_DENIED);
    assert.equal(m1.raft.status().term, termBefore, "the refused higher-term heartbeat changed nothing");
    assert.ok(m1.raft.isLeader());
  } finally {
    raft.close();
    membership.close();
  }
});

test("join health-checks the advertised address and fills in an unspecified host", async () => {
  const c = await newClusterCa();
  const [m1, m2] = await Promise.all([manager(c), manager(c)]);
  await m1.bootstrap();
  const err = await rpcError(m2.callJoin(m1.addr, "127.0.0.1:1"));
  assert.match(err.details, /could not connect to prospective new cluster member using its advertised address/);
  assert.equal(m1.raft.members().length, 1);
  const port = m2.addr.split(":")[1]!;
  const res = await m2.join(m1, `0.0.0.0:${port}`);
  assert.equal(res.members.find((m) => m.raftId === res.raftId)!.addr, `127.0.0.1:${port}`);
  await write(m1, "two");
  await waitFor("replicated", () => sameServices([m1, m2], ["two"]));
});

test("a removed member's messages are refused and it learns it was removed", async () => {
  const c = await newClusterCa();
  const [m1, m2, m3] = await Promise.all([manager(c), manager(c), manager(c)]);
  await m1.bootstrap();
  await m2.join(m1);
  await waitFor("m2 in", () => m2.raft.members().length === 2 && m2.raft.status().confState.voters.length === 2);
  await m3.join(m1);
  const all = [m1, m2, m3];
  await waitFor("three members everywhere", () => all.every((m) => m.raft.members().length === 3));
  await write(m1, "x");
  await waitFor("replicated", () => sameServices(all, ["x"]));
  await waitFor("m1 connected to both", () => m1.raft.canRemoveMember(m3.raft.raftId));

  const removedId = m3.raft.raftId;
  // m3 asks m2 (a follower) to remove it: forwarded to the leader.
  await m3.callLeave(m2.addr, removedId);
  assert.equal(m1.raft.members().length, 2);
  assert.ok(m1.raft.removedIds().includes(removedId));
  await waitFor("m3 learns it was removed", () => m3.removed);

  // Anything it still sends is refused with SwarmKit's NOT_FOUND.
  const raft = dialRaft(m1.addr, peerCredentials(m3.tls));
  try {
    const msg = raftpb.Message.fromPartial({ type: raftpb.MessageType.MsgHeartbeatResp, to: m1.raft.raftId, from: removedId, term: m1.raft.status().term });
    const e = await rpcError(new Promise((resolve, reject) => raft.processRaftMessage({ message: msg }, new Metadata(), (err, res) => (err ? reject(err) : resolve(res)))));
    assert.equal(e.code, Status.NOT_FOUND);
    assert.equal(e.details, MEMBER_REMOVED);
  } finally {
    raft.close();
  }
  // The remaining two still commit.
  await write(m1, "y");
  await waitFor("two-member group commits", () => sameServices([m1, m2], ["x", "y"]));
});
