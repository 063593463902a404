// RaftNetwork on the real remote API server (its authorization and
// forwarded-identity handling), leader transfer, and a member restarting on
// the same address that the others reconnect to.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RaftNode, type JoinInfo } from "../../src/workers/manager/raft/raft-node.js";
import { RaftNetwork } from "../../src/workers/manager/raft/transport/index.js";
import { RemoteApiServer, requestCaller } from "../../src/workers/manager/remoteapi/index.js";
import { MemoryStore, update } from "../../src/workers/manager/store/index.js";
import { ELECTION_TICK, TICK_MS, createService, newClusterCa, nodeTls, waitFor, type ClusterCa } from "./harness.js";

class Mgr {
  store = new MemoryStore();
  node: RaftNode | undefined;
  net!: RaftNetwork;
  server!: RemoteApiServer;
  addr = "";

  private constructor(readonly dir: string, readonly tls: Awaited<ReturnType<typeof nodeTls>>, readonly c: ClusterCa) {}

  static async create(c: ClusterCa): Promise<Mgr> {
    const m = new Mgr(await mkdtemp(join(tmpdir(), "raft-net-")), await nodeTls(c), c);
    await m.listen(0);
    return m;
  }

  get raft(): RaftNode {
    return this.node!;
  }

  async listen(port: number): Promise<void> {
    this.server = new RemoteApiServer({ listen: { host: "127.0.0.1", port }, tls: this.tls, cluster: { id: this.c.clusterId, isRemoved: () => false } });
    const bound = await this.server.start();
    this.addr = `127.0.0.1:${bound.port}`;
    this.net = new RaftNetwork({ tls: this.tls, remote: this.server, callerOf: requestCaller });
  }

  async start(join?: JoinInfo): Promise<void> {
    this.store = new MemoryStore();
    this.node = await RaftNode.open({
      dir: join_(this.dir),
      nodeId: this.tls.nodeId,
      addr: this.addr,
      tickIntervalMs: TICK_MS,
      electionTick: ELECTION_TICK,
      heartbeatTick: 1,
      store: this.store,
      transport: this.net.transport,
      ...(join ? { join } : {}),
    });
    this.net.setNode(this.node);
    this.node.start();
  }

  async stop(): Promise<void> {
    // As a manager stops: raft first (which ends peers' streams to us), then the listener.
    await this.net.close();
    await this.node?.stop();
    this.node = undefined;
    await this.server.stop();
  }

  names(): string[] {
    return this.store.view((tx) => tx.find("service", {})).map((s) => s.spec!.annotations!.name).sort();
  }
}

function join_(dir: string): string {
  return join(dir, "raft");
}

const all: Mgr[] = [];
after(async () => {
  for (const m of all) {
    await m.stop().catch(() => undefined);
    await rm(m.dir, { recursive: true, force: true });
  }
});

test("managers on the remote API server: join (direct and forwarded), leader transfer, restart and reconnect", async () => {
  const c = await newClusterCa();
  const [m1, m2, m3] = await Promise.all([Mgr.create(c), Mgr.create(c), Mgr.create(c)]);
  all.push(m1, m2, m3);
  await m1.start();
  await waitFor("m1 leads", () => m1.raft.isLeader());
  await update(m1.store, m1.raft, createService("a"));

  await m2.start(await m2.net.join(m1.addr, m2.addr));
  await waitFor("m2 caught up", () => m2.names().join() === "a");
  // Through a follower: the remote API server hands the forwarded identity on to the leader.
  const info3 = await m3.net.join(m2.addr, m3.addr);
  assert.equal(info3.members.find((m) => m.raftId === info3.raftId)?.nodeId, m3.tls.nodeId);
  await m3.start(info3);
  const ms = [m1, m2, m3];
  await waitFor("three members, same data", () => ms.every((m) => m.raft.members().length === 3 && m.names().join() === "a"));

  // Leader transfer to the longest-connected peer.
  await waitFor("peers connected", () => m1.raft.canRemoveMember(m2.raft.raftId) && m1.raft.canRemoveMember(m3.raft.raftId));
  const newLeaderId = await m1.raft.transferLeadershipToLongestActive(10_000);
  assert.notEqual(newLeaderId, m1.raft.raftId);
  const leader = ms.find((m) => m.raft.raftId === newLeaderId)!;
  await waitFor("new leader ready", () => leader.raft.isLeader());
  assert.equal(m1.raft.isLeader(), false);
  await update(leader.store, leader.raft, createService("b"));
  await waitFor("b everywhere", () => ms.every((m) => m.names().join() === "a,b"));

  // A follower restarts on the same address; the others reconnect and it catches up.
  const follower = ms.find((m) => m !== leader)!;
  const port = Number(follower.addr.split(":")[1]);
  await follower.stop();
  await update(leader.store, leader.raft, createService("c"));
  await follower.listen(port);
  await follower.start();
  await waitFor("restarted follower caught up", () => follower.names().join() === "a,b,c", 20_000);
  await update(leader.store, leader.raft, createService("d"));
  await waitFor("d everywhere", () => ms.every((m) => m.names().join() === "a,b,c,d"));
});
