// Issue 5's multi-process proof, all through dist/main.js on 127.0.0.1 with
// temp state dirs: 3 managers + 2 workers join; refused joins write nothing;
// the remote API refuses a worker certificate on Raft and a caller without a
// certificate; a removed node cannot come back with its old certificate;
// kill -9 of the leader loses nothing; a restart of every node from its state
// dir gives back the same cluster. Prints one JSON line with the timings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { Metadata, credentials, status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import {
  ControlForwarderClient,
  ControlService,
  CreateServiceRequest,
  NodeRole,
  NodeStatus_State,
  RaftClient,
  RemoveNodeRequest,
  type Cluster,
  type ControlClient,
  type Node,
  type Service,
} from "../../src/shared/api/index.js";
import { createRootCA, generateJoinToken, parseNodeCert, MANAGER_ROLE, WORKER_ROLE } from "../../src/shared/pki/index.js";
import { unary, waitForControl } from "../helpers/control.js";
import { startEngine } from "../helpers/engine.js";
import { startSwarmd, tempDir, type SwarmdProcess } from "../main/helpers.js";
import { eventually } from "../helpers/wait.js";

const TICK = ["--tick-interval", "100ms", "--election-tick", "10"];

interface Member {
  name: string;
  stateDir: string;
  /** Args without join flags (what a restart uses). */
  args: string[];
  proc?: SwarmdProcess;
  client?: ControlClient;
  addr?: string;
  nodeId?: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const nodes = (c: ControlClient) => unary<"listNodes", object, { nodes: Node[] }>(c, "listNodes", { filters: undefined }).then((r) => r.nodes);
const serviceNames = (c: ControlClient) =>
  unary<"listServices", object, { services: Service[] }>(c, "listServices", { filters: undefined }).then((r) =>
    r.services.map((s) => s.spec!.annotations!.name).sort().join(),
  );
const createService = (c: ControlClient, name: string) =>
  unary(c, "createService", CreateServiceRequest.fromPartial({
    spec: { annotations: { name }, task: { runtime: { $case: "container", value: { image: "busybox" } } }, mode: { $case: "replicated", value: { replicas: 0 } } },
  }));
const certOf = (m: Member) => parseNodeCert(readFileSync(join(m.stateDir, "certificates", "swarm-node.crt"), "utf8"));

/** Starts a member and waits until it is up: managers answer on their control socket, workers register a session. */
async function launch(m: Member, extra: string[] = []): Promise<number> {
  const t0 = Date.now();
  m.proc = startSwarmd([...m.args, ...extra]);
  if (m.addr) {
    m.client = await waitForControl(join(m.stateDir, "swarmd.sock"), 40_000);
  } else {
    await m.proc.waitForLog(/session registered/, 40_000);
  }
  m.nodeId = certOf(m).nodeId;
  return Date.now() - t0;
}

async function stop(m: Member, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  m.client?.close();
  m.client = undefined;
  const p = m.proc;
  if (!p) return null;
  m.proc = undefined;
  p.child.kill(signal);
  const guard = setTimeout(() => p.kill(), 12_000);
  const e = await p.exited;
  clearTimeout(guard);
  return e.code;
}

/** The view of the cluster from one manager once it is settled: every node READY, 3 managers, one leader. */
async function settledView(c: ControlClient, expectNodes: number): Promise<Node[]> {
  return eventually(`${expectNodes} ready nodes with 3 managers and one leader`, async () => {
    const ns = await nodes(c);
    if (ns.length !== expectNodes) return undefined;
    if (!ns.every((n) => n.status?.state === NodeStatus_State.READY)) return undefined;
    const managers = ns.filter((n) => n.managerStatus);
    if (managers.length !== 3 || managers.filter((n) => n.managerStatus!.leader).length !== 1) return undefined;
    return ns;
  }, 40_000);
}

function rpcCode(fn: (cb: (err: ServiceError | null) => void) => void): Promise<{ code: number; details: string }> {
  return new Promise((resolve) => fn((err) => resolve(err ? { code: err.code, details: err.details } : { code: GrpcStatus.OK, details: "" })));
}

/** A refused first join: exit 1 quickly, exactly one "swarmd:" line, no state dir. */
async function refusedJoin(stateDir: string, args: string[], expect: RegExp): Promise<number> {
  const t0 = Date.now();
  const p = startSwarmd(args);
  const e = await p.exited;
  const ms = Date.now() - t0;
  assert.equal(e.code, 1, p.stderr());
  const lines = p.stderr().split("\n").filter((l) => l.startsWith("swarmd:"));
  assert.equal(lines.length, 1, p.stderr());
  assert.match(lines[0]!, expect);
  assert.equal(existsSync(stateDir), false, "a refused join must not create the state dir");
  assert.ok(ms < 10_000, `refusal took ${ms} ms`);
  return ms;
}

test("3 managers + 2 workers: join, authorization, removal, leader kill -9, restart of everything", { timeout: 300_000 }, async () => {
  const engine = await startEngine();
  const dir = await tempDir("swarmd-join-cluster-");
  const ports = await Promise.all([freePort(), freePort(), freePort()]);
  const manager = (i: number): Member => {
    const stateDir = join(dir.path, `m${i}`);
    const addr = `127.0.0.1:${ports[i - 1]}`;
    return { name: `m${i}`, stateDir, addr, args: ["-d", stateDir, "--listen-remote-api", addr, ...TICK, "--engine-addr", engine] };
  };
  const worker = (i: number): Member => {
    const stateDir = join(dir.path, `w${i}`);
    return {
      name: `w${i}`,
      stateDir,
      args: ["-d", stateDir, "--listen-remote-api", "127.0.0.1:0", ...TICK, "--engine-addr", engine],
    };
  };
  const [m1, m2, m3] = [manager(1), manager(2), manager(3)];
  const [w1, w2] = [worker(1), worker(2)];
  const all = [m1, m2, m3, w1, w2];
  const figures: Record<string, number> = {};
  try {
    // --- bootstrap and joins
    figures.bootstrapMs = await launch(m1);
    const cluster = (await unary<"listClusters", object, { clusters: Cluster[] }>(m1.client!, "listClusters", { filters: undefined })).clusters[0]!;
    const tokens = cluster.rootCa!.joinTokens!;
    const caPem = readFileSync(join(m1.stateDir, "certificates", "swarm-root-ca.crt"), "utf8");
    await createService(m1.client!, "before");

    const joinMs: number[] = [];
    joinMs.push(await launch(m2, ["--join-addr", m1.addr!, "--join-token", tokens.manager]));
    joinMs.push(await launch(m3, ["--join-addr", m2.addr!, "--join-token", tokens.manager]));
    const [wj1, wj2] = await Promise.all([
      launch(w1, ["--join-addr", m1.addr!, "--join-token", tokens.worker]),
      launch(w2, ["--join-addr", m3.addr!, "--join-token", tokens.worker]),
    ]);
    joinMs.push(wj1, wj2);
    figures.managerJoinMaxMs = Math.max(joinMs[0]!, joinMs[1]!);
    figures.workerJoinMaxMs = Math.max(wj1, wj2);

    for (const m of [m1, m2, m3]) {
      const view = await settledView(m.client!, 5);
      const byId = new Map(view.map((n) => [n.id, n]));
      for (const w of [w1, w2]) assert.equal(byId.get(w.nodeId!)?.role, NodeRole.WORKER, `${w.name} in ${m.name}'s view`);
      for (const mm of [m1, m2, m3]) assert.equal(byId.get(mm.nodeId!)?.role, NodeRole.MANAGER, `${mm.name} in ${m.name}'s view`);
      assert.equal(await serviceNames(m.client!), "before");
    }
    for (const m of [m1, m2, m3]) assert.equal(certOf(m).role, MANAGER_ROLE);
    for (const w of [w1, w2]) {
      const cert = certOf(w);
      assert.equal(cert.role, WORKER_ROLE);
      assert.equal(cert.clusterId, cluster.id);
      // The manager worker stays idle on a worker: no raft state, no control socket.
      const raftDir = join(w.stateDir, "raft");
      assert.deepEqual(existsSync(raftDir) ? readdirSync(raftDir) : [], [], `${w.name} has raft state`);
      assert.equal(existsSync(join(w.stateDir, "swarmd.sock")), false, `${w.name} has a control socket`);
    }

    // --- refused joins write nothing
    const wrongToken = join(dir.path, "bad-token");
    figures.wrongTokenExitMs = await refusedJoin(
      wrongToken,
      ["-d", wrongToken, "--listen-remote-api", "127.0.0.1:0", "--join-addr", m1.addr!, "--join-token", generateJoinToken(caPem)],
      /A valid join token is necessary to join this cluster/,
    );
    const wrongCa = join(dir.path, "bad-ca");
    const otherRoot = await createRootCA();
    figures.wrongCaExitMs = await refusedJoin(
      wrongCa,
      ["-d", wrongCa, "--listen-remote-api", "127.0.0.1:0", "--join-addr", m2.addr!, "--join-token", generateJoinToken(otherRoot.certPem)],
      /root CA it presented does not match the join token/,
    );

    // --- authorization on the remote API, with the nodes' own files
    const files = (m: Member, f: string) => readFileSync(join(m.stateDir, "certificates", f));
    const asWorker = new RaftClient(m1.addr!, credentials.createSsl(files(w1, "swarm-root-ca.crt"), files(w1, "swarm-node.key"), files(w1, "swarm-node.crt")), {
      "grpc.ssl_target_name_override": "swarm-manager",
    });
    const anonymous = new RaftClient(m1.addr!, credentials.createSsl(files(w1, "swarm-root-ca.crt")), { "grpc.ssl_target_name_override": "swarm-manager" });
    try {
      const raftCall = (c: RaftClient) =>
        rpcCode((cb) => c.processRaftMessage({ message: undefined }, new Metadata(), { deadline: Date.now() + 5000 }, (err) => cb(err)));
      const denied = await raftCall(asWorker);
      assert.equal(denied.code, GrpcStatus.PERMISSION_DENIED, denied.details);
      assert.match(denied.details, /not part of OUs/);
      const noCert = await raftCall(anonymous);
      assert.equal(noCert.code, GrpcStatus.UNAUTHENTICATED, noCert.details);
      // The stream on which followers relay control writes is for managers only too.
      const relayAsWorker = new ControlForwarderClient(m1.addr!, credentials.createSsl(files(w1, "swarm-root-ca.crt"), files(w1, "swarm-node.key"), files(w1, "swarm-node.crt")), {
        "grpc.ssl_target_name_override": "swarm-manager",
      });
      try {
        const stream = relayAsWorker.forward({ deadline: Date.now() + 5000 });
        const refused = await new Promise<ServiceError>((resolve) => {
          stream.on("error", resolve);
          stream.on("data", () => assert.fail("a worker's relayed write was answered"));
          stream.write({ writes: [{ id: 1, method: ControlService.createService.path, request: Buffer.alloc(0) }] });
        });
        assert.equal(refused.code, GrpcStatus.PERMISSION_DENIED, refused.details);
        assert.match(refused.details, /not part of OUs/);
      } finally {
        relayAsWorker.close();
      }
    } finally {
      asWorker.close();
      anonymous.close();
    }

    // --- a removed node cannot come back with its old certificate
    assert.equal(await stop(w2), 0);
    const leaderOf = async (): Promise<Member> => {
      const ns = await nodes(m1.client ?? m2.client!);
      const id = ns.find((n) => n.managerStatus?.leader)?.id;
      return [m1, m2, m3].find((m) => m.nodeId === id)!;
    };
    const removeVia = (await leaderOf()) ?? m1;
    await eventually("RemoveNode of the stopped worker", async () =>
      unary(removeVia.client!, "removeNode", RemoveNodeRequest.fromPartial({ nodeId: w2.nodeId!, force: true })).then(() => true),
    );
    w2.proc = startSwarmd(w2.args);
    await w2.proc.waitForLog(/was removed from swarm/, 30_000);
    const removedLine = w2.proc.stderr().split("\n").find((l) => /was removed from swarm/.test(l))!;
    assert.doesNotMatch(w2.proc.stderr(), /session registered/);
    assert.equal((await nodes(m1.client!)).some((n) => n.id === w2.nodeId), false, "the removed node came back");
    // The refusal is permanent for that certificate: swarmd exits 1 with one line saying how to rejoin.
    const early = await Promise.race([w2.proc.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 15_000))]);
    assert.ok(early, "a removed node's swarmd exits instead of retrying forever");
    assert.equal(early.code, 1, w2.proc.stderr());
    assert.match(w2.proc.stderr(), /^swarmd: .*removed from the swarm/m);
    figures.removedNodeExitCode = early.code ?? -1;
    await stop(w2);
    const active = [m1, m2, m3, w1];

    // --- kill -9 of the leader: a new leader, nothing lost, the old one rejoins
    const leader = await leaderOf();
    const survivors = [m1, m2, m3].filter((m) => m !== leader);
    await createService(survivors[0]!.client!, "before-kill");
    leader.proc!.child.kill("SIGKILL");
    await leader.proc!.exited;
    leader.proc = undefined;
    leader.client?.close();
    leader.client = undefined;
    const tKill = Date.now();
    await eventually("a new leader taking writes", async () => {
      for (const s of survivors) {
        try {
          await createService(s.client!, "after-kill");
          return true;
        } catch {
          // not the leader yet
        }
      }
      return undefined;
    });
    figures.failoverMs = Date.now() - tKill;
    figures.killedLeaderRestartMs = await launch(leader);
    for (const m of [m1, m2, m3]) {
      await eventually(`all data on ${m.name}`, async () => ((await serviceNames(m.client!)) === "after-kill,before,before-kill" ? true : undefined));
    }
    const idsBefore = (await settledView(m1.client!, 4)).map((n) => n.id).sort();

    // --- restart of every node from its state dir, without join flags
    for (const m of active) assert.equal(await stop(m), 0, `${m.name} did not stop cleanly`);
    const tRestart = Date.now();
    await Promise.all(active.map((m) => launch(m)));
    const view = await settledView(m1.client!, 4);
    figures.fullRestartMs = Date.now() - tRestart;
    assert.deepEqual(view.map((n) => n.id).sort(), idsBefore);
    for (const m of active) assert.ok(idsBefore.includes(certOf(m).nodeId), `${m.name} has a new node ID`);
    for (const m of [m1, m2, m3]) assert.equal(await serviceNames(m.client!), "after-kill,before,before-kill");
    await createService(m2.client!, "after-restart");
    await eventually("the new write on every manager", async () => {
      const names = await Promise.all([m1, m3].map((m) => serviceNames(m.client!)));
      return names.every((n) => n === "after-kill,after-restart,before,before-kill") ? true : undefined;
    });

    console.log(JSON.stringify({ name: "join-cluster", value: figures.fullRestartMs, unit: "ms", ...figures, removedLine: removedLine.slice(0, 200) }));
  } finally {
    for (const m of all) await stop(m).catch(() => undefined);
    await dir.remove();
  }
});
