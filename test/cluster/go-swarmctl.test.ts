// SwarmKit's own Go swarmctl (built by scripts/swarmkit-go.sh from Debian's
// docker.io source) against our swarmd (dist/main.js) with the private Docker
// engine: every command issue 6 lists, unchanged, over our control socket.
// Each command must exit 0 with the output SwarmKit's swarmctl prints for it
// (/work/shared/reference/swarmkit-observed.md), and what it changed must be
// visible afterwards through our own control API. The tests run in order and
// build on each other's state (one cluster for the whole file).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  GetConfigRequest,
  GetNetworkRequest,
  GetSecretRequest,
  GetServiceRequest,
  ListClustersRequest,
  Mount_Type,
  NodeRole,
  NodeSpec_Availability,
  NodeStatus_State,
  RestartPolicy_RestartCondition,
  UpdateConfig_FailureAction,
  UpdateConfig_UpdateOrder,
  type Cluster,
  type GetConfigResponse,
  type GetNetworkResponse,
  type GetSecretResponse,
  type GetServiceResponse,
  type ListClustersResponse,
  type Service,
} from "../../src/shared/api/index.js";
import { TestCluster, pollUntil, type TestNode } from "../helpers/cluster.js";
import { unary } from "../helpers/control.js";
import { removeContainersByLabel, startEngine } from "../helpers/engine.js";
import { goSwarmctl } from "../helpers/swarmkit-go.js";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let goCtl = "";
let socket = "";

function swarmctl(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(goCtl, ["-s", socket, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(...args: string[]): Promise<string> {
  const r = await swarmctl(...args);
  assert.equal(r.code, 0, `Go swarmctl ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** A failing command: non-zero exit, `Error: <message>` first on stderr. */
async function fails(args: string[], message: RegExp): Promise<string> {
  const r = await swarmctl(...args);
  assert.notEqual(r.code, 0, `Go swarmctl ${args.join(" ")} should fail; stdout: ${r.stdout}`);
  const first = r.stderr.split("\n")[0] ?? "";
  assert.match(first, /^Error: /, `stderr: ${r.stderr}`);
  assert.match(first, message);
  return first;
}

/** Table rows (header and dashes dropped), cells split on SwarmKit's tabwriter gaps (2+ spaces). */
function rows(table: string, header: RegExp): string[][] {
  const lines = table.trimEnd().split("\n");
  assert.match(lines[0] ?? "", header, `table header of:\n${table}`);
  assert.match(lines[1] ?? "", /^--\s+--/);
  return lines.slice(2).map((l) => l.trim().split(/\s{2,}/));
}

const NODE_HEADER = /^ID\s+Name\s+Membership\s+Status\s+Availability\s+Manager Status$/;
const SERVICE_HEADER = /^ID\s+Name\s+Image\s+Replicas$/;
const TASK_HEADER = /^ID\s+Service\s+Desired State\s+Last State\s+Node$/;

describe("SwarmKit's Go swarmctl against our swarmd", { timeout: 240_000 }, () => {
  let engine = "";
  let cl: TestCluster;
  let manager: TestNode;
  const nodeIds = new Set<string>();
  let tmp = "";

  async function getService(name: string): Promise<Service> {
    // Resolve through Go swarmctl's own inspect (ID line), then read the spec from our API.
    const id = /^ID\s+: (\S+)/m.exec(await ok("service", "inspect", name))?.[1];
    assert.ok(id, `no ID line in service inspect ${name}`);
    const res = await cl.api((c) => unary<"getService", GetServiceRequest, GetServiceResponse>(c, "getService", GetServiceRequest.fromPartial({ serviceId: id })));
    return res.service!;
  }

  async function cluster(): Promise<Cluster> {
    const res = await cl.api((c) => unary<"listClusters", ListClustersRequest, ListClustersResponse>(c, "listClusters", ListClustersRequest.fromPartial({})));
    return res.clusters[0]!;
  }

  before(async () => {
    goCtl = await goSwarmctl();
    engine = await startEngine();
    cl = await TestCluster.create({ tickInterval: "50ms", engineAddr: engine });
    manager = await cl.addManager();
    nodeIds.add(manager.nodeId);
    socket = manager.socket;
    tmp = cl.dir;
    // The node reports READY once its agent has registered with the dispatcher.
    await pollUntil("manager node READY", async () => {
      assert.equal((await cl.getNode(manager.nodeId)).status?.state, NodeStatus_State.READY);
    }, 60_000, 200);
  });

  after(async () => {
    await cl?.stop();
    for (const id of nodeIds) await removeContainersByLabel(engine, "com.docker.swarm.node.id", id);
  });

  test("version", async () => {
    assert.match(await ok("version"), /github\.com\/docker\/swarmkit \S+/);
  });

  test("node ls, ls -q and inspect show the manager as leader", async () => {
    const ls = rows(await ok("node", "ls"), NODE_HEADER);
    assert.equal(ls.length, 1);
    assert.equal(ls[0]![0], manager.nodeId);
    assert.deepEqual(ls[0]!.slice(2), ["ACCEPTED", "READY", "ACTIVE", "REACHABLE *"]);
    assert.equal((await ok("node", "ls", "-q")).trim(), manager.nodeId);
    const inspect = await ok("node", "inspect", manager.nodeId);
    assert.match(inspect, new RegExp(`^ID\\s+: ${manager.nodeId}$`, "m"));
    assert.match(inspect, /^ {2}State\s+: READY$/m);
    assert.match(inspect, /^ {2}Availability\s+: ACTIVE$/m);
    assert.match(inspect, /^ {2}Address\s+: 127\.0\.0\.1:\d+$/m);
    assert.match(inspect, /^ {2}Raft status\s+: REACHABLE$/m);
    assert.match(inspect, /^ {2}Leader\s+: yes$/m);
    assert.match(inspect, /^ {2}Operating System\s+: linux$/m);
    assert.match(inspect, /^ {2}CPUs\s+: \d+$/m);
    assert.match(inspect, /^Engine Version\s+: \S+/m);
  });

  test("node update --label, pause, drain, activate change the node", async () => {
    const id = manager.nodeId;
    assert.equal(await ok("node", "update", "--label", "zone=a", id), "");
    assert.equal((await cl.getNode(id)).spec?.annotations?.labels["zone"], "a");
    const availability = async (cmd: string, want: NodeSpec_Availability, shown: string) => {
      await ok("node", cmd, id);
      assert.equal((await cl.getNode(id)).spec?.availability, want, `after node ${cmd}`);
      assert.equal(rows(await ok("node", "ls"), NODE_HEADER)[0]![4], shown);
    };
    await availability("pause", NodeSpec_Availability.PAUSE, "PAUSE");
    await availability("drain", NodeSpec_Availability.DRAIN, "DRAIN");
    await availability("activate", NodeSpec_Availability.ACTIVE, "ACTIVE");
    // The label survives the availability updates (swarmctl resends the whole spec).
    assert.equal((await cl.getNode(id)).spec?.annotations?.labels["zone"], "a");
  });

  test("cluster ls, inspect, and update: join token rotation, heartbeat period, task history", async () => {
    const ls = rows(await ok("cluster", "ls"), /^ID\s+Name$/);
    assert.equal(ls.length, 1);
    assert.equal(ls[0]![1], "default");
    const clusterId = ls[0]![0]!;
    const inspect = await ok("cluster", "inspect", "default");
    assert.match(inspect, new RegExp(`^ID\\s+: ${clusterId}$`, "m"));
    assert.match(inspect, /^ {2}Task history entries: 5$/m);
    assert.match(inspect, /^ {2}Dispatcher heartbeat period: 5s$/m);
    assert.match(inspect, /^ {2}Certificate Validity Duration: 2160h0m0s$/m);
    const worker = /Worker: (SWMTKN-1-\S+)/.exec(inspect)![1]!;
    const managerToken = /Manager: (SWMTKN-1-\S+)/.exec(inspect)![1]!;

    assert.equal((await ok("cluster", "update", "default", "--rotate-join-token", "worker")).trim(), clusterId);
    let now = await cluster();
    assert.notEqual(now.rootCa?.joinTokens?.worker, worker);
    assert.equal(now.rootCa?.joinTokens?.manager, managerToken);
    await ok("cluster", "update", "default", "--rotate-join-token", "manager");
    now = await cluster();
    assert.notEqual(now.rootCa?.joinTokens?.manager, managerToken);

    await ok("cluster", "update", "default", "--heartbeatperiod", "7s", "--taskhistory", "3");
    now = await cluster();
    assert.equal(now.spec?.dispatcher?.heartbeatPeriod?.seconds, 7);
    assert.equal(now.spec?.orchestration?.taskHistoryRetentionLimit, 3);
    const after = await ok("cluster", "inspect", clusterId);
    assert.match(after, /^ {2}Task history entries: 3$/m);
    assert.match(after, /^ {2}Dispatcher heartbeat period: 7s$/m);
    assert.match(after, new RegExp(`Worker: ${now.rootCa!.joinTokens!.worker}`));
    // Back to SwarmKit's default so the node tests below see agents promptly.
    await ok("cluster", "update", "default", "--heartbeatperiod", "5s");
  });

  test("secret and config create, ls, inspect (secret data never shown)", async () => {
    const file = join(tmp, "payload.txt");
    await writeFile(file, "s3cr3t-value");
    const sid = (await ok("secret", "create", "sec1", "-f", file)).trim();
    assert.match(sid, /^[0-9a-z]{25}$/);
    const sls = rows(await ok("secret", "ls"), /^ID\s+Name\s+Driver\s+Created$/);
    assert.deepEqual(sls.map((r) => [r[0], r[1]]), [[sid, "sec1"]]);
    assert.equal((await ok("secret", "ls", "-q")).trim(), sid);
    const sinspect = await ok("secret", "inspect", "sec1");
    assert.match(sinspect, new RegExp(`^ID\\s+: ${sid}$`, "m"));
    assert.match(sinspect, /^Name\s+: sec1$/m);
    assert.doesNotMatch(sinspect, /s3cr3t/);
    const secret = await cl.api((c) => unary<"getSecret", GetSecretRequest, GetSecretResponse>(c, "getSecret", GetSecretRequest.fromPartial({ secretId: sid })));
    assert.equal(secret.secret?.spec?.annotations?.name, "sec1");
    assert.equal(secret.secret?.spec?.data.length, 0);

    await writeFile(file, "conf-data");
    const cid = (await ok("config", "create", "conf1", "-f", file)).trim();
    assert.match(cid, /^[0-9a-z]{25}$/);
    const cls = rows(await ok("config", "ls"), /^ID\s+Name\s+Created$/);
    assert.deepEqual(cls.map((r) => [r[0], r[1]]), [[cid, "conf1"]]);
    // SwarmKit's config inspect prints a stray debug dump first; its summary follows.
    const cinspect = await ok("config", "inspect", "conf1");
    assert.match(cinspect, new RegExp(`^ID\\s+: ${cid}$`, "m"));
    assert.match(cinspect, /^Name\s+: conf1$/m);
    const config = await cl.api((c) => unary<"getConfig", GetConfigRequest, GetConfigResponse>(c, "getConfig", GetConfigRequest.fromPartial({ configId: cid })));
    assert.equal(Buffer.from(config.config!.spec!.data).toString(), "conf-data");
  });

  test("network create, ls, inspect", async () => {
    const id = (await ok("network", "create", "--name", "net1", "--driver", "overlay", "--opts", "mtu=1400")).trim();
    assert.match(id, /^[0-9a-z]{25}$/);
    const ls = rows(await ok("network", "ls"), /^ID\s+Name\s+Driver$/);
    assert.ok(ls.some((r) => r[0] === id && r[1] === "net1" && r[2] === "overlay"), JSON.stringify(ls));
    const inspect = await ok("network", "inspect", "net1");
    assert.match(inspect, new RegExp(`^ID\\s+: ${id}$`, "m"));
    assert.match(inspect, /^ {2}Internal\s+: false$/m);
    assert.match(inspect, /^ {2}Name\s+: overlay$/m);
    assert.match(inspect, /^ {4}mtu = 1400$/m);
    const net = await cl.api((c) => unary<"getNetwork", GetNetworkRequest, GetNetworkResponse>(c, "getNetwork", GetNetworkRequest.fromPartial({ networkId: id })));
    assert.equal(net.network?.spec?.driverConfig?.options["mtu"], "1400");
  });

  test("service create with SwarmKit's service flags; ls and inspect; tasks run", async () => {
    const id = (
      await ok(
        "service", "create", "--name", "web", "--image", "busybox:local", "--replicas", "2",
        "--command", "sleep", "--args", "300", "--env", "A=1", "--env", "B=2", "--label", "tier=front",
        "--constraint", "node.role==manager",
        "--restart-condition", "failure", "--restart-delay", "2s", "--restart-max-attempts", "3", "--restart-window", "10s",
        "--update-parallelism", "1", "--update-delay", "1s", "--update-on-failure", "continue", "--update-order", "start-first",
        "--cpu-limit", "0.5", "--memory-limit", "64m", "--cpu-reservation", "0.1", "--memory-reservation", "8m",
        "--bind", `${tmp}:/hosttmp`, "--secret", "sec1",
      )
    ).trim();
    assert.match(id, /^[0-9a-z]{25}$/);

    const svc = await getService("web");
    assert.equal(svc.id, id);
    const spec = svc.spec!;
    assert.equal(spec.annotations?.labels["tier"], "front");
    assert.equal(spec.mode?.$case === "replicated" && spec.mode.value.replicas, 2);
    const task = spec.task!;
    assert.equal(task.runtime?.$case, "container");
    const container = task.runtime!.$case === "container" ? task.runtime.value : undefined;
    assert.equal(container?.image, "busybox:local");
    assert.deepEqual(container?.command, ["sleep"]);
    assert.deepEqual(container?.args, ["300"]);
    assert.deepEqual(container?.env, ["A=1", "B=2"]);
    assert.deepEqual(container?.mounts.map((m) => [m.type, m.source, m.target]), [[Mount_Type.BIND, tmp, "/hosttmp"]]);
    assert.deepEqual(container?.secrets.map((s) => [s.secretName, s.target?.$case === "file" ? s.target.value.name : ""]), [["sec1", "sec1"]]);
    assert.deepEqual(task.placement?.constraints, ["node.role==manager"]);
    assert.equal(task.restart?.condition, RestartPolicy_RestartCondition.ON_FAILURE);
    assert.equal(task.restart?.delay?.seconds, 2);
    assert.equal(task.restart?.maxAttempts, 3);
    assert.equal(task.restart?.window?.seconds, 10);
    assert.equal(spec.update?.parallelism, 1);
    assert.equal(spec.update?.delay?.seconds, 1);
    assert.equal(spec.update?.failureAction, UpdateConfig_FailureAction.CONTINUE);
    assert.equal(spec.update?.order, UpdateConfig_UpdateOrder.START_FIRST);
    assert.equal(task.resources?.limits?.nanoCpus, 500_000_000);
    assert.equal(task.resources?.limits?.memoryBytes, 64 * 1024 * 1024);
    assert.equal(task.resources?.reservations?.nanoCpus, 100_000_000);
    assert.equal(task.resources?.reservations?.memoryBytes, 8 * 1024 * 1024);

    const gid = (await ok("service", "create", "--name", "glob", "--image", "busybox:local", "--mode", "global", "--command", "sleep", "--args", "300")).trim();
    assert.match(gid, /^[0-9a-z]{25}$/);

    // Both converge: web 2/2 and glob global in service ls.
    await pollUntil("web running 2/2 in Go swarmctl service ls", async () => {
      const ls = rows(await ok("service", "ls"), SERVICE_HEADER);
      const web = ls.find((r) => r[1] === "web");
      assert.deepEqual(web, [id, "web", "busybox:local", "2/2"]);
      assert.deepEqual(ls.find((r) => r[1] === "glob"), [gid, "glob", "busybox:local", "global"]);
    }, 60_000, 500);

    const inspect = await ok("service", "inspect", "web");
    assert.match(inspect, new RegExp(`^ID\\s+: ${id}$`, "m"));
    assert.match(inspect, /^Name\s+: web$/m);
    assert.match(inspect, /^ {2}tier\s+: front$/m);
    assert.match(inspect, /^Replicas\s+: 2\/2$/m);
    assert.match(inspect, /^ {2}Image\s+: busybox:local$/m);
    assert.match(inspect, /^ {2}Command\s+: "sleep"$/m);
    assert.match(inspect, /^ {2}Args\s+: \[300\]$/m);
    assert.match(inspect, /^ {2}Env\s+: \[A=1, B=2\]$/m);
    assert.match(inspect, /^ {2}Constraints\s+: node\.role==manager$/m);
    assert.match(inspect, /^ {6}CPU\s+: 0\.5$/m);
    assert.match(inspect, /^ {6}Memory\s+: 64 MiB$/m);
    assert.match(inspect, /^ {6}CPU\s+: 0\.1$/m);
    assert.match(inspect, /^ {6}Memory\s+: 8\.0 MiB$/m);
    assert.match(inspect, /^ {4}- target = \/hosttmp$/m);
    assert.match(inspect, new RegExp(`^ {4}\\[FILE\\] sec1@[0-9a-z]{25}:sec1$`, "m"));
    // Its task table: two RUNNING tasks on our node, slots 1 and 2.
    const taskLines = inspect.split("\n").filter((l) => /^[0-9a-z]{25}\s+web\s+/.test(l));
    assert.equal(taskLines.length, 2, inspect);
    for (const l of taskLines) assert.match(l, /\s+busybox:local\s+RUNNING\s+RUNNING\s/);
  });

  test("a duplicate service name is refused with the server's message", async () => {
    await fails(
      ["service", "create", "--name", "web", "--image", "busybox:local", "--replicas", "1"],
      /^Error: name conflicts with an existing object: service web already exists$/,
    );
  });

  test("service update: replicas, env, add-config, rm-secret", async () => {
    const before = await getService("web");
    assert.equal((await ok("service", "update", "web", "--replicas", "1", "--add-config", "conf1", "--env", "C=3")).trim(), before.id);
    let svc = await getService("web");
    assert.ok(svc.meta!.version!.index > before.meta!.version!.index);
    assert.equal(svc.spec?.mode?.$case === "replicated" && svc.spec.mode.value.replicas, 1);
    let c = svc.spec!.task!.runtime!.$case === "container" ? svc.spec!.task!.runtime!.value : undefined;
    assert.deepEqual(c?.env, ["C=3"]);
    assert.deepEqual(c?.configs.map((x) => x.configName), ["conf1"]);
    assert.deepEqual(c?.secrets.map((x) => x.secretName), ["sec1"]);

    await ok("service", "update", "web", "--rm-secret", "sec1");
    svc = await getService("web");
    c = svc.spec!.task!.runtime!.$case === "container" ? svc.spec!.task!.runtime!.value : undefined;
    assert.deepEqual(c?.secrets, []);
    assert.deepEqual(c?.configs.map((x) => x.configName), ["conf1"]);
    const inspect = await ok("service", "inspect", "web");
    assert.match(inspect, /^ {2}Env\s+: \[C=3\]$/m);
    assert.match(inspect, /^ {2}Configs:$/m);
    assert.doesNotMatch(inspect, /^ {2}Secrets:$/m);
    await pollUntil("web converged to 1/1", async () => {
      assert.deepEqual(rows(await ok("service", "ls"), SERVICE_HEADER).find((r) => r[1] === "web")?.slice(1), ["web", "busybox:local", "1/1"]);
    }, 60_000, 500);
  });

  test("task ls, ls -a, ls -q, inspect, rm", async () => {
    const ls = rows(await ok("task", "ls"), TASK_HEADER);
    const running = ls.filter((r) => r[2] === "RUNNING" && /^RUNNING /.test(r[3] ?? ""));
    assert.ok(running.some((r) => r[1] === "web.1"), JSON.stringify(ls));
    assert.ok(running.some((r) => r[1] === "glob.0" || /^glob\./.test(r[1] ?? "")), JSON.stringify(ls));
    // -a also lists the tasks the updates replaced.
    assert.ok(rows(await ok("task", "ls", "-a"), TASK_HEADER).length > ls.length);
    const ids = (await ok("task", "ls", "-q")).trim().split("\n");
    assert.equal(ids.length, ls.length);
    const web = running.find((r) => r[1] === "web.1")!;
    const inspect = await ok("task", "inspect", web[0]!);
    assert.match(inspect, new RegExp(`^ID\\s+: ${web[0]}$`, "m"));
    assert.match(inspect, /^Slot\s+: 1$/m);
    assert.match(inspect, /^Service\s+: web$/m);
    assert.match(inspect, /^ {2}Desired State\s+: RUNNING$/m);
    assert.match(inspect, /^ {2}Last State\s+: RUNNING$/m);
    assert.match(inspect, /^ {2}ContainerID:\s+: [0-9a-f]{64}$/m);
    assert.match(inspect, /^ {2}Pid\s+: [1-9]\d*$/m);
    assert.match(inspect, /^ {2}Message\s+: started$/m);
    assert.match(inspect, /^ {2}Image\s+: busybox:local$/m);
    assert.match(inspect, /^===> Task Parents$/m);

    assert.equal((await ok("task", "rm", web[0]!)).trim(), web[0]);
    await fails(["task", "inspect", web[0]!], /not found/);
  });

  test("errors: unknown service and node, removing a raft member, exit non-zero with the message", async () => {
    await fails(["service", "inspect", "nosuch"], /^Error: service nosuch not found$/);
    await fails(["service", "rm", "nosuch"], /^Error: service nosuch not found$/);
    await fails(["node", "inspect", "nosuch"], /^Error: node nosuch not found$/);
    // Said by the server's RemoveNode, passed through unchanged.
    await fails(
      ["node", "rm", manager.nodeId],
      new RegExp(`^Error: node ${manager.nodeId} is a cluster manager and is a member of the raft cluster\\. It must be demoted to worker before removal$`),
    );
  });

  test("service rm, secret rm, config rm, network rm", async () => {
    assert.equal((await ok("service", "rm", "web")).trim(), "web");
    assert.equal((await ok("service", "rm", "glob")).trim(), "glob");
    assert.deepEqual(rows(await ok("service", "ls"), SERVICE_HEADER), []);
    await ok("secret", "rm", "sec1");
    await ok("config", "rm", "conf1");
    assert.equal((await ok("network", "rm", "net1")).trim(), "net1");
    assert.deepEqual(rows(await ok("secret", "ls"), /^ID\s+Name\s+Driver\s+Created$/), []);
    assert.deepEqual(rows(await ok("config", "ls"), /^ID\s+Name\s+Created$/), []);
    assert.ok(!rows(await ok("network", "ls"), /^ID\s+Name\s+Driver$/).some((r) => r[1] === "net1"));
  });

  test("node promote, demote and rm of a worker that joined", async () => {
    const worker = await cl.addAgent();
    nodeIds.add(worker.nodeId);
    const row = async () => rows(await ok("node", "ls"), NODE_HEADER).find((r) => r[0] === worker.nodeId);
    await pollUntil("worker READY in node ls", async () => {
      assert.deepEqual((await row())?.slice(2), ["ACCEPTED", "READY", "ACTIVE"]);
    }, 60_000, 500);

    assert.equal(await ok("node", "promote", worker.nodeId), "");
    assert.equal((await cl.getNode(worker.nodeId)).spec?.desiredRole, NodeRole.MANAGER);
    await pollUntil("promoted node REACHABLE in node ls", async () => {
      assert.equal((await row())?.[5], "REACHABLE");
      assert.equal((await cl.getNode(worker.nodeId)).role, NodeRole.MANAGER);
    }, 90_000, 500);

    assert.equal(await ok("node", "demote", worker.nodeId), "");
    assert.equal((await cl.getNode(worker.nodeId)).spec?.desiredRole, NodeRole.WORKER);
    await pollUntil("demoted node back to a worker in node ls", async () => {
      const r = await row();
      assert.deepEqual(r?.slice(2), ["ACCEPTED", "READY", "ACTIVE"]);
      const n = await cl.getNode(worker.nodeId);
      assert.equal(n.role, NodeRole.WORKER);
      assert.equal(n.managerStatus, undefined);
    }, 90_000, 500);

    // Up and not forced: refused by the server, as SwarmKit refuses it.
    await fails(["node", "rm", worker.nodeId], new RegExp(`node ${worker.nodeId} is not down and can't be removed`));
    await ok("node", "rm", "--force", worker.nodeId);
    await pollUntil("removed node gone from node ls", async () => {
      assert.equal(await row(), undefined);
    }, 30_000, 250);
    await fails(["node", "inspect", worker.nodeId], /not found/);
  });
});
