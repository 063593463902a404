// SwarmKit's integration testCluster over real swarmd processes: managers and
// workers on temp state dirs with fixed loopback remote API ports (so any node
// can be promoted and restarted at the same address), a control API that asks
// whichever manager answers (SwarmKit's dummyAPI), and its polls:
// pollClusterReady, pollServiceReady, setNodeRole, removeNode, pause/start.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { status as Status } from "@grpc/grpc-js";
import {
  CreateServiceRequest,
  GetNodeRequest,
  IssuanceStatus_State,
  ListClustersRequest,
  ListNodesRequest,
  ListTasksRequest,
  NodeRole,
  NodeSpec_Membership,
  NodeStatus_State,
  RaftMemberStatus_Reachability,
  RemoveNodeRequest,
  TaskState,
  UpdateNodeRequest,
  type Cluster,
  type ControlClient,
  type CreateServiceResponse,
  type GetNodeResponse,
  type ListClustersResponse,
  type ListNodesResponse,
  type ListTasksResponse,
  type Node,
} from "../../src/shared/api/index.js";
import { connectControl } from "../../src/shared/control-client.js";
import { parseNodeCert } from "../../src/shared/pki/index.js";
import { freePorts } from "../../scripts/lib/cluster.js";
import { unary, waitForControl } from "./control.js";
import { canConnect, startSwarmd, tempDir, type SwarmdProcess } from "../main/helpers.js";

/** SwarmKit's opsTimeout. */
export const OPS_TIMEOUT_MS = 64_000;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface TestNode {
  /** Join order, 1-based (SwarmKit's nodesOrder). */
  order: number;
  nodeId: string;
  stateDir: string;
  socket: string;
  remoteAddr: string;
  proc: SwarmdProcess | undefined;
  /** stderr of earlier runs, for failure messages. */
  pastLogs: string[];
}

export interface AddNodeOptions {
  /** Remote API listen host (default 127.0.0.1; the port is a free one). */
  host?: string;
  /** Runs on the new state dir before swarmd starts (e.g. to place certificates). */
  prepare?: (stateDir: string) => Promise<void>;
}

export interface ClusterOptions {
  tickInterval?: string;
  engineAddr?: string;
  logLevel?: string;
}

/** Poll `fn` until it returns without throwing; the last error explains a timeout. */
export async function pollUntil<T>(what: string, fn: () => Promise<T>, timeoutMs = OPS_TIMEOUT_MS, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`${what}: not done within ${timeoutMs} ms: ${last instanceof Error ? last.message : String(last)}`);
    await sleep(everyMs);
  }
}

function roleName(r: NodeRole | undefined): string {
  return r === NodeRole.MANAGER ? "manager" : "worker";
}

export class TestCluster {
  readonly nodes = new Map<string, TestNode>();
  private counter = 0;
  private readonly clients = new Map<string, ControlClient>();

  private constructor(
    readonly dir: string,
    private readonly removeDir: () => Promise<void>,
    private readonly opts: Required<ClusterOptions>,
  ) {}

  static async create(opts: ClusterOptions = {}): Promise<TestCluster> {
    const dir = await tempDir("swarmkit-integration-");
    return new TestCluster(dir.path, dir.remove, {
      tickInterval: opts.tickInterval ?? "100ms",
      engineAddr: opts.engineAddr ?? "unix:///nonexistent/docker.sock",
      logLevel: opts.logLevel ?? "info",
    });
  }

  private baseArgs(stateDir: string, remoteAddr: string): string[] {
    return [
      "-d", stateDir,
      "--listen-remote-api", remoteAddr,
      "--tick-interval", this.opts.tickInterval,
      "--engine-addr", this.opts.engineAddr,
      "--log-level", this.opts.logLevel,
    ];
  }

  /** Spawns a node on a new state dir; resolves with its node ID once its certificate is on disk. */
  private async spawnNew(extra: string[], waitFor: "control" | "cert", opts: AddNodeOptions = {}): Promise<TestNode> {
    const order = ++this.counter;
    const stateDir = join(this.dir, `node${order}`);
    const [port] = await freePorts(1);
    const remoteAddr = `${opts.host ?? "127.0.0.1"}:${port}`;
    await opts.prepare?.(stateDir);
    const proc = startSwarmd([...this.baseArgs(stateDir, remoteAddr), ...extra]);
    const node: TestNode = { order, nodeId: "", stateDir, socket: join(stateDir, "swarmd.sock"), remoteAddr, proc, pastLogs: [] };
    try {
      node.nodeId = await pollUntil(`node ${order} certificate`, async () => {
        if (proc.child.exitCode !== null) throw new Error(`swarmd exited ${proc.child.exitCode}: ${proc.stderr().slice(-2000)}`);
        return parseNodeCert(await readFile(join(stateDir, "certificates", "swarm-node.crt"), "utf8")).nodeId;
      }, 30_000, 100);
      if (waitFor === "control") (await waitForControl(node.socket, 30_000)).close();
    } catch (err) {
      proc.kill();
      throw err;
    }
    this.nodes.set(node.nodeId, node);
    return node;
  }

  private async tokens(): Promise<{ worker: string; manager: string }> {
    const res = await this.api((c) => unary<"listClusters", ListClustersRequest, ListClustersResponse>(c, "listClusters", ListClustersRequest.fromPartial({})));
    const t = res.clusters[0]?.rootCa?.joinTokens;
    if (!t) throw new Error(`no join tokens in ${JSON.stringify(res).slice(0, 200)}`);
    return t;
  }

  async clusterInfo(): Promise<Cluster> {
    const res = await this.api((c) => unary<"listClusters", ListClustersRequest, ListClustersResponse>(c, "listClusters", ListClustersRequest.fromPartial({})));
    if (!res.clusters[0]) throw new Error("no cluster object");
    return res.clusters[0];
  }

  /** A manager reachable now (random, like SwarmKit's RandomManager). */
  async randomManager(): Promise<TestNode> {
    const up = [...this.nodes.values()].filter((n) => n.proc && n.proc.child.exitCode === null);
    const managers: TestNode[] = [];
    for (const n of up) if (await canConnect(n.socket)) managers.push(n);
    if (managers.length === 0) throw new Error("no manager answers");
    return managers[Math.floor(Math.random() * managers.length)]!;
  }

  /** First manager bootstraps (with `opts`: SwarmKit's lateBind / rootCA); later ones join a random manager with the manager token. */
  async addManager(opts: AddNodeOptions = {}): Promise<TestNode> {
    if (this.nodes.size === 0) return this.spawnNew([], "control", opts);
    const via = await this.randomManager();
    const { manager } = await this.tokens();
    return this.spawnNew(["--join-addr", via.remoteAddr, "--join-token", manager], "control");
  }

  async addAgent(): Promise<TestNode> {
    const via = await this.randomManager();
    const { worker } = await this.tokens();
    return this.spawnNew(["--join-addr", via.remoteAddr, "--join-token", worker], "cert");
  }

  /** A control call on whichever manager answers (SwarmKit's dummyAPI). */
  async api<T>(fn: (c: ControlClient) => Promise<T>): Promise<T> {
    let last: unknown;
    const candidates = [...this.nodes.values()].filter((n) => n.proc && n.proc.child.exitCode === null);
    for (const n of candidates.sort(() => Math.random() - 0.5)) {
      if (!(await canConnect(n.socket))) continue;
      let c = this.clients.get(n.socket);
      if (!c) {
        c = connectControl(n.socket);
        this.clients.set(n.socket, c);
      }
      try {
        return await fn(c);
      } catch (err) {
        last = err;
        const code = (err as { code?: number }).code;
        // Only transport-level failures move on to another manager.
        if (code !== Status.UNAVAILABLE && code !== Status.DEADLINE_EXCEEDED && code !== Status.CANCELLED) {
          if (err instanceof Error) err.message += ` (asked node${n.order} ${n.nodeId})`;
          throw err;
        }
        c.close();
        this.clients.delete(n.socket);
      }
    }
    throw last instanceof Error ? last : new Error("no manager answers the control API");
  }

  async listNodes(): Promise<Node[]> {
    return (await this.api((c) => unary<"listNodes", ListNodesRequest, ListNodesResponse>(c, "listNodes", ListNodesRequest.fromPartial({})))).nodes;
  }

  async getNode(id: string): Promise<Node> {
    const res = await this.api((c) => unary<"getNode", GetNodeRequest, GetNodeResponse>(c, "getNode", GetNodeRequest.fromPartial({ nodeId: id })));
    if (!res.node) throw new Error(`node ${id} not found`);
    return res.node;
  }

  /** SwarmKit's pollClusterReady: every check of its poll, same error texts. */
  async pollClusterReady(numWorker: number, numManager: number, timeoutMs = OPS_TIMEOUT_MS): Promise<void> {
    await pollUntil(`cluster ready with ${numWorker} workers and ${numManager} managers`, async () => {
      const nodes = await this.listNodes();
      let mCount = 0;
      let leaderFound = false;
      for (const n of nodes) {
        const desired = roleName(n.spec?.desiredRole);
        if (n.status?.state !== NodeStatus_State.READY) {
          throw new Error(`node ${n.id} with desired role ${desired} isn't ready, status ${NodeStatus_State[n.status?.state ?? 0]}, message ${n.status?.message}`);
        }
        if (n.spec?.membership !== NodeSpec_Membership.ACCEPTED) throw new Error(`node ${n.id} isn't accepted to cluster`);
        if (n.certificate?.role !== n.spec?.desiredRole) {
          throw new Error(`node ${n.id} had different roles in spec and certificate, ${desired} and ${roleName(n.certificate?.role)} respectively`);
        }
        if (n.certificate?.status?.state !== IssuanceStatus_State.ISSUED) throw new Error(`node ${n.id} with desired role ${desired} has no issued certificate`);
        if (n.role === NodeRole.MANAGER) {
          if (!n.managerStatus) throw new Error(`manager node ${n.id} has no ManagerStatus field`);
          if (n.managerStatus.reachability !== RaftMemberStatus_Reachability.REACHABLE) throw new Error(`manager node ${n.id} is not reachable`);
          mCount++;
          if (n.managerStatus.leader) leaderFound = true;
        } else if (n.managerStatus) {
          throw new Error(`worker node ${n.id} should not have manager status`);
        }
        if (!n.description?.tlsInfo) throw new Error(`node ${n.id} has not reported its TLS info yet`);
      }
      if (!leaderFound) throw new Error("leader of cluster is not found");
      if (mCount !== numManager) throw new Error(`unexpected number of managers: ${mCount}, expected ${numManager}`);
      if (nodes.length - mCount !== numWorker) throw new Error(`unexpected number of workers: ${nodes.length - mCount}, expected ${numWorker}`);
    }, timeoutMs, 500);
  }

  /** SwarmKit's pollServiceReady: exactly `replicas` tasks RUNNING. */
  async pollServiceReady(serviceId: string, replicas: number, timeoutMs = OPS_TIMEOUT_MS): Promise<void> {
    await pollUntil(`service ${serviceId} with ${replicas} running tasks`, async () => {
      const res = await this.api((c) => unary<"listTasks", ListTasksRequest, ListTasksResponse>(c, "listTasks", ListTasksRequest.fromPartial({ filters: { serviceIds: [serviceId] } })));
      if (res.tasks.length === 0) throw new Error("tasks list is empty");
      const running = res.tasks.filter((t) => t.status?.state === TaskState.RUNNING).length;
      if (running !== replicas) throw new Error(`only ${running} running tasks, but expecting ${replicas} replicas`);
    }, timeoutMs, 500);
  }

  /**
   * A replicated busybox service that sleeps (SwarmKit's CreateService), with
   * an init process: `sleep` as PID 1 ignores SIGTERM, so each stop would take
   * the full 10 s grace and end in SIGKILL. Sixty of those at once, with a
   * cleanup's forced removes racing them, deadlocked Debian's dockerd 20.10
   * (its Kill waits forever on an exit event it dropped; every later call on
   * those containers blocks).
   */
  async createService(name: string, replicas: number): Promise<string> {
    const res = await this.api((c) =>
      unary<"createService", CreateServiceRequest, CreateServiceResponse>(
        c,
        "createService",
        CreateServiceRequest.fromPartial({
          spec: {
            annotations: { name },
            task: { runtime: { $case: "container", value: { image: "busybox:local", command: ["sleep"], args: ["3600"], init: true } } },
            mode: { $case: "replicated", value: { replicas } },
          },
        }),
      ),
    );
    return res.service!.id;
  }

  async leader(): Promise<TestNode> {
    return pollUntil("leader", async () => {
      const l = (await this.listNodes()).find((n) => n.managerStatus?.leader);
      const node = l && this.nodes.get(l.id);
      if (!node) throw new Error("no leader");
      return node;
    });
  }

  /** UpdateNode with a new desired role (retried on version races), without waiting for the node. */
  async updateRole(nodeId: string, role: NodeRole): Promise<void> {
    for (let i = 0; ; i++) {
      const node = await this.getNode(nodeId);
      try {
        await this.api((c) =>
          unary(c, "updateNode", UpdateNodeRequest.fromPartial({ nodeId, nodeVersion: node.meta?.version, spec: { ...node.spec, desiredRole: role } })),
        );
        return;
      } catch (err) {
        if (i < 5 && /update out of sequence/.test((err as Error).message)) continue;
        throw err;
      }
    }
  }

  /** SwarmKit's SetNodeRole: update, then wait until the node runs (or stops running) a manager. */
  async setNodeRole(nodeId: string, role: NodeRole): Promise<void> {
    await this.updateRole(nodeId, role);
    const node = this.nodes.get(nodeId)!;
    await pollUntil(`node ${nodeId} running as ${roleName(role)}`, async () => {
      const isManager = await canConnect(node.socket);
      if (isManager !== (role === NodeRole.MANAGER)) throw new Error(`node is still ${isManager ? "a manager" : "a worker"}`);
    });
  }

  /** Whether the node runs its manager now (its control socket answers). */
  isManager(node: TestNode): Promise<boolean> {
    return canConnect(node.socket);
  }

  /** SwarmKit's RemoveNode: (graceful: demote, stop, wait DOWN) then RemoveNode{force: !graceful}; the node is stopped. */
  async removeNode(nodeId: string, graceful: boolean): Promise<void> {
    const node = this.nodes.get(nodeId)!;
    if (graceful) {
      await this.setNodeRole(nodeId, NodeRole.WORKER);
      await this.pause(nodeId);
      await pollUntil(`node ${nodeId} down`, async () => {
        if ((await this.getNode(nodeId)).status?.state !== NodeStatus_State.DOWN) throw new Error("not down yet");
      });
    }
    await this.api((c) => unary(c, "removeNode", RemoveNodeRequest.fromPartial({ nodeId, force: !graceful })));
    await this.pause(nodeId);
    this.nodes.delete(node.nodeId);
  }

  /** Stop a node (SIGTERM, SIGKILL after 10 s); its state dir stays. */
  async pause(nodeId: string): Promise<void> {
    const node = this.nodes.get(nodeId);
    const proc = node?.proc;
    if (!node || !proc) return;
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill("SIGTERM");
      const timer = setTimeout(() => proc.child.kill("SIGKILL"), 10_000);
      await proc.exited;
      clearTimeout(timer);
    }
    node.pastLogs.push(proc.stderr());
    node.proc = undefined;
    this.clients.get(node.socket)?.close();
    this.clients.delete(node.socket);
  }

  /** Restart a paused node on its state dir and address, without join flags (SwarmKit's StartNode after Pause). */
  startNode(nodeId: string, extra: string[] = []): SwarmdProcess {
    const node = this.nodes.get(nodeId)!;
    node.proc = startSwarmd([...this.baseArgs(node.stateDir, node.remoteAddr), ...extra]);
    return node.proc;
  }

  /** Logs of a node (all runs), for failure messages. */
  logs(nodeId: string): string {
    const n = this.nodes.get(nodeId);
    return n ? [...n.pastLogs, n.proc?.stderr() ?? ""].join("\n---- restart ----\n") : "";
  }

  async stop(): Promise<void> {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
    await Promise.all([...this.nodes.keys()].map((id) => this.pause(id)));
    // Debugging aid: SWARMKIT_SCENARIO_LOGS=<dir> keeps every node's logs.
    const keep = process.env.SWARMKIT_SCENARIO_LOGS;
    if (keep) {
      await mkdir(keep, { recursive: true });
      for (const [id, n] of this.nodes) await writeFile(join(keep, `node${n.order}-${id}.log`), this.logs(id));
    }
    await this.removeDir();
  }
}
