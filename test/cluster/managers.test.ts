// Three swarmd processes on 127.0.0.1 form one raft group (the second joins
// at the first, the third at the second, a follower that forwards the raft
// join); kill -9 of the leader elects a new one and the cluster keeps its data
// and takes writes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { CreateConfigRequest, CreateServiceRequest, RaftMemberStatus_Reachability, type Cluster, type ControlClient, type Node, type Service } from "../../src/shared/api/index.js";
import { startSwarmd, tempDir, testArgs, type SwarmdProcess } from "../main/helpers.js";
import { unary, waitForControl } from "../helpers/control.js";
import { eventually } from "../helpers/wait.js";

const RAFT_ARGS = ["--tick-interval", "100ms", "--election-tick", "10", "--engine-addr", "unix:///nonexistent/docker.sock"];

interface Proc {
  proc: SwarmdProcess;
  client: ControlClient;
  addr: string;
}

async function start(stateDir: string, ...extra: string[]): Promise<Proc> {
  const proc = startSwarmd(testArgs(stateDir, ...RAFT_ARGS, ...extra));
  await proc.waitForLog(/"remoteApi":"127\.0\.0\.1:[1-9]\d*"/, 30_000);
  const port = /"remoteApi":"127\.0\.0\.1:([1-9]\d*)"/.exec(proc.stderr())![1]!;
  const client = await waitForControl(join(stateDir, "swarmd.sock"), 30_000);
  return { proc, client, addr: `127.0.0.1:${port}` };
}

const nodes = (c: ControlClient) => unary<"listNodes", object, { nodes: Node[] }>(c, "listNodes", { filters: undefined }).then((r) => r.nodes);
const services = (c: ControlClient) =>
  unary<"listServices", object, { services: Service[] }>(c, "listServices", { filters: undefined }).then((r) => r.services.map((s) => s.spec!.annotations!.name).sort());

function createService(c: ControlClient, name: string): Promise<unknown> {
  return unary(c, "createService", CreateServiceRequest.fromPartial({
    spec: { annotations: { name }, task: { runtime: { $case: "container", value: { image: "busybox" } } }, mode: { $case: "replicated", value: { replicas: 0 } } },
  }));
}

test("three swarmd managers form one raft group and survive kill -9 of the leader", { timeout: 180_000 }, async () => {
  const dir = await tempDir("swarmd-managers-");
  const procs: Proc[] = [];
  try {
    const m1 = await start(join(dir.path, "m1"));
    procs.push(m1);
    const cluster = await unary<"listClusters", object, { clusters: Cluster[] }>(m1.client, "listClusters", { filters: undefined });
    const token = cluster.clusters[0]!.rootCa!.joinTokens!.manager;
    await createService(m1.client, "before");

    const m2 = await start(join(dir.path, "m2"), "--join-addr", m1.addr, "--join-token", token);
    procs.push(m2);
    const m3 = await start(join(dir.path, "m3"), "--join-addr", m2.addr, "--join-token", token);
    procs.push(m3);

    const view = await eventually("three reachable managers, one leader", async () => {
      const ns = await nodes(m1.client);
      const ms = ns.filter((n) => n.managerStatus);
      if (ms.length !== 3) return undefined;
      if (!ms.every((n) => n.managerStatus!.reachability === RaftMemberStatus_Reachability.REACHABLE)) return undefined;
      return ms;
    });
    assert.equal(view.filter((n) => n.managerStatus!.leader).length, 1);
    assert.deepEqual(new Set(view.map((n) => n.managerStatus!.addr)), new Set([m1.addr, m2.addr, m3.addr]));
    await eventually("data on the joiners", async () => {
      const [a, b] = await Promise.all([services(m2.client), services(m3.client)]);
      return a.join() === "before" && b.join() === "before" ? true : undefined;
    });

    // A write on a follower's control socket is forwarded to the leader.
    const followers = [m1, m2, m3].filter((p) => !view.find((n) => n.managerStatus!.leader && n.managerStatus!.addr === p.addr));
    assert.equal(followers.length, 2);
    for (const [i, f] of followers.entries()) await createService(f.client, `via-follower-${i}`);
    assert.deepEqual(await services(m1.client), ["before", "via-follower-0", "via-follower-1"]);
    // …on the followers' ControlForwarder streams, not one call per write.
    for (const f of followers) {
      assert.match(f.proc.stderr(), /forwarding control writes to the leader on a stream/);
      assert.doesNotMatch(f.proc.stderr(), /forwarding one call per write/);
    }
    // Forty 150 kB configs in flight through a follower, then all of them in one 6 MB list answer on
    // the other follower (answers are not capped at 4 MiB, as in SwarmKit).
    const big = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        unary<"createConfig", object, { config?: { id: string } }>(
          followers[0]!.client,
          "createConfig",
          CreateConfigRequest.fromPartial({ spec: { annotations: { name: `big-${i}` }, data: Buffer.alloc(150_000, i) } }),
        ),
      ),
    );
    assert.equal(new Set(big.map((r) => r.config?.id)).size, 40);
    await eventually("the forty configs listed in one answer on the other follower", async () => {
      const r = await unary<"listConfigs", object, { configs: Array<{ spec?: { data: Uint8Array } }> }>(followers[1]!.client, "listConfigs", { filters: undefined });
      return r.configs.filter((c) => c.spec?.data.length === 150_000).length === 40 ? true : undefined;
    });

    m1.proc.child.kill("SIGKILL");
    await m1.proc.exited;
    const survivors = [m2, m3];
    // A new leader among the survivors takes writes; both keep everything.
    const leader = await eventually("a new leader taking writes", async () => {
      for (const p of survivors) {
        try {
          await createService(p.client, "after");
          return p;
        } catch {
          // not the leader (yet)
        }
      }
      return undefined;
    });
    for (const p of survivors) {
      await eventually("data kept on both survivors", async () => ((await services(p.client)).join() === "after,before,via-follower-0,via-follower-1" ? true : undefined));
    }
    const ns = await nodes(leader.client);
    const dead = ns.find((n) => n.managerStatus?.addr === m1.addr);
    assert.equal(dead?.managerStatus?.reachability, RaftMemberStatus_Reachability.UNREACHABLE);
    assert.equal(ns.filter((n) => n.managerStatus?.leader).length, 1);
  } finally {
    for (const p of procs) {
      p.client.close();
      p.proc.kill();
    }
    await dir.remove();
  }
});
