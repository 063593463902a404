// High-availability harness over scripts/lib/cluster.ts: a formed cluster of
// managers plus optional worker nodes, with kill -9 / restart of any node by
// its state dir, fresh control clients after each restart, and every node's
// stderr kept across restarts so raft leadership can be audited afterwards
// ("became raft leader" {"term"} lines). Used by the failover, quorum and
// chaos tests, scripts/chaos.ts and scripts/bench-failover.ts. With
// `netns` (a scripts/lib/netns.ts lab) node k runs in lab host k: managers
// first, then workers and added managers in the order they join.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { status as Status } from "@grpc/grpc-js";
import {
  CreateServiceRequest,
  UpdateServiceRequest,
  type ControlClient,
  type CreateServiceResponse,
  type GetServiceResponse,
  type ListClustersResponse,
  type ListNodesResponse,
  type ListServicesResponse,
  type Node,
  type Service,
} from "../../src/shared/api/index.js";
import { connectControl } from "../../src/shared/control-client.js";
import { unary, waitForControl } from "../../test/helpers/control.js";
import { startSwarmd, type SwarmdProcess } from "../../test/main/helpers.js";
import { retryUntil, sleep } from "./retry.js";
import { NETNS_REMOTE_PORT, freePorts, startSwarmdCluster, type ClusterOptions, type SwarmdCluster } from "./cluster.js";

export { sleep } from "./retry.js";

/** One swarmd (manager or worker) that can be killed and restarted on the same state dir. */
export interface HaNode {
  name: string;
  role: "manager" | "worker";
  stateDir: string;
  socket: string;
  /** Remote API host:port (managers only; "" for workers). */
  remoteAddr: string;
  /** Arguments used for restarts (no join flags: the state dir already has an identity). */
  restartArgs: string[];
  proc: SwarmdProcess;
  /** stderr of the earlier incarnations of this node. */
  pastLogs: string[];
  /** Control client on the current incarnation (managers only); recreated on restart. */
  client: ControlClient | undefined;
  /** Argv prefix of the process ([] on the host, `ip netns exec <ns>` in a lab). */
  wrap: string[];
  /** Index of the lab host it runs in (undefined without a lab). */
  host: number | undefined;
}

export interface HaOptions extends ClusterOptions {
  /** Worker nodes (agent only) joining with the worker token (default 0). */
  workers?: number;
  /** --engine-addr for the workers (default: a socket that does not exist). */
  workerEngine?: string;
}

/** A leadership claim seen in a node's log. */
export interface LeaderClaim {
  node: string;
  term: number;
}

const CLIENT_OPTIONS = { "grpc.initial_reconnect_backoff_ms": 100, "grpc.max_reconnect_backoff_ms": 500 };

export class HaCluster {
  readonly managers: HaNode[] = [];
  readonly workers: HaNode[] = [];
  workerToken = "";
  managerToken = "";

  private constructor(readonly base: SwarmdCluster, private readonly opts: HaOptions) {}

  static async start(opts: HaOptions = {}): Promise<HaCluster> {
    const base = await startSwarmdCluster({ logLevel: "info", ...opts });
    const ha = new HaCluster(base, opts);
    try {
      const engine = `unix://${join(base.dir, "no-engine.sock")}`;
      for (const m of base.members) {
        const listen = ["--listen-remote-api", m.remoteAddr, ...(opts.netns ? ["--advertise-remote-api", m.remoteAddr] : [])];
        const restartArgs = ["-d", m.stateDir, ...listen, "--tick-interval", opts.tickInterval ?? "100ms"];
        restartArgs.push("--engine-addr", engine, "--log-level", opts.logLevel ?? "info", "--hostname", `m${m.index + 1}`, ...(opts.extraArgs ?? []));
        ha.managers.push({
          name: `m${m.index + 1}`,
          role: "manager",
          stateDir: m.stateDir,
          socket: m.socket,
          remoteAddr: m.remoteAddr,
          restartArgs,
          proc: m.proc,
          pastLogs: [],
          client: connectControl(m.socket, CLIENT_OPTIONS),
          wrap: m.wrap,
          host: opts.netns ? m.index : undefined,
        });
      }
      const clusters = await unary<"listClusters", object, ListClustersResponse>(ha.managers[0]!.client!, "listClusters", { filters: undefined });
      ha.workerToken = clusters.clusters[0]?.rootCa?.joinTokens?.worker ?? "";
      ha.managerToken = clusters.clusters[0]?.rootCa?.joinTokens?.manager ?? "";
      for (let i = 0; i < (opts.workers ?? 0); i++) await ha.addWorker(opts.workerEngine ?? engine);
      return ha;
    } catch (err) {
      await ha.stop();
      throw err;
    }
  }

  get dir(): string {
    return this.base.dir;
  }

  get nodes(): HaNode[] {
    return [...this.managers, ...this.workers];
  }

  /** The next lab host for a new node ({} without a lab). */
  private nextHost(): { host?: number; wrap: string[]; ip?: string } {
    const lab = this.opts.netns;
    if (!lab) return { wrap: [] };
    const host = this.nodes.length;
    const h = lab.hosts[host];
    if (!h) throw new Error(`the netns lab has ${lab.hosts.length} hosts; node ${host + 1} needs one more`);
    return { host, wrap: h.wrap, ip: h.ip };
  }

  /** A worker node joined at the first live manager; resolves once its session is registered. */
  async addWorker(engineAddr: string, timeoutMs = 30_000): Promise<HaNode> {
    const name = `w${this.workers.length + 1}`;
    const stateDir = join(this.base.dir, name);
    const restartArgs = ["-d", stateDir, "--tick-interval", this.opts.tickInterval ?? "100ms", "--engine-addr", engineAddr];
    restartArgs.push("--log-level", this.opts.logLevel ?? "info", "--hostname", name, "--listen-control-api", join(stateDir, "swarmd.sock"));
    const via = this.managers.find((m) => isRunning(m))!;
    const { host, wrap } = this.nextHost();
    const proc = startSwarmd([...restartArgs, "--join-addr", via.remoteAddr, "--join-token", this.workerToken], {}, wrap);
    const node: HaNode = { name, role: "worker", stateDir, socket: join(stateDir, "swarmd.sock"), remoteAddr: "", restartArgs, proc, pastLogs: [], client: undefined, wrap, host };
    this.workers.push(node);
    await proc.waitForLog(/"msg":"session registered"/, timeoutMs);
    return node;
  }

  /** A manager that joins the cluster afresh (new state dir) with the manager token at `via`. */
  async addManager(via: HaNode, timeoutMs = 30_000): Promise<HaNode> {
    const name = `m${this.managers.length + 1}`;
    const stateDir = join(this.base.dir, name);
    const { host, wrap, ip } = this.nextHost();
    const remoteAddr = ip ? `${ip}:${NETNS_REMOTE_PORT}` : `127.0.0.1:${(await freePorts(1))[0]}`;
    const listen = ["--listen-remote-api", remoteAddr, ...(ip ? ["--advertise-remote-api", remoteAddr] : [])];
    const restartArgs = ["-d", stateDir, ...listen, "--tick-interval", this.opts.tickInterval ?? "100ms"];
    restartArgs.push("--engine-addr", `unix://${join(this.base.dir, "no-engine.sock")}`, "--log-level", this.opts.logLevel ?? "info", "--hostname", name, ...(this.opts.extraArgs ?? []));
    const proc = startSwarmd([...restartArgs, "--join-addr", via.remoteAddr, "--join-token", this.managerToken], {}, wrap);
    const node: HaNode = { name, role: "manager", stateDir, socket: join(stateDir, "swarmd.sock"), remoteAddr, restartArgs, proc, pastLogs: [], client: undefined, wrap, host };
    this.managers.push(node);
    node.client = await raceExit(node, waitForControl(node.socket, timeoutMs));
    return node;
  }

  /** kill -9 and wait for the exit. */
  async kill(node: HaNode): Promise<void> {
    node.proc.kill();
    await node.proc.exited;
  }

  /** Start a killed node again on its state dir (extra flags, e.g. --force-new-cluster, appended once). */
  async restart(node: HaNode, extra: string[] = []): Promise<void> {
    if (isRunning(node)) throw new Error(`${node.name} is still running`);
    node.pastLogs.push(node.proc.stderr());
    node.client?.close();
    node.client = undefined;
    node.proc = startSwarmd([...node.restartArgs, ...extra], {}, node.wrap);
    if (node.role === "manager") node.client = connectControl(node.socket, CLIENT_OPTIONS);
  }

  /** Wait until a restarted manager's control socket answers (it need not have a leader). */
  async waitUp(node: HaNode, timeoutMs = 30_000): Promise<void> {
    await raceExit(node, retry(`${node.name}'s control socket`, timeoutMs, () => listServices(node.client!, 1000)));
  }

  /** Every leadership claim in every node's log, across restarts. */
  leaderClaims(): LeaderClaim[] {
    const claims: LeaderClaim[] = [];
    for (const n of this.managers) {
      for (const text of [...n.pastLogs, n.proc.stderr()]) {
        for (const line of text.split("\n")) {
          if (!line.includes('"became raft leader"')) continue;
          try {
            const rec = JSON.parse(line) as { term?: number };
            if (typeof rec.term === "number") claims.push({ node: n.stateDir, term: rec.term });
          } catch {
            // a torn last line of a killed process
          }
        }
      }
    }
    return claims;
  }

  /** Terms claimed by more than one node (must be empty). */
  sharedTerms(): { term: number; nodes: string[] }[] {
    const byTerm = new Map<number, Set<string>>();
    for (const c of this.leaderClaims()) {
      const s = byTerm.get(c.term) ?? new Set<string>();
      s.add(c.node);
      byTerm.set(c.term, s);
    }
    return [...byTerm].filter(([, s]) => s.size > 1).map(([term, s]) => ({ term, nodes: [...s] }));
  }

  /** The managers a node currently knows (its state.json). */
  async knownManagers(node: HaNode): Promise<{ node_id: string; addr: string }[]> {
    return JSON.parse(await readFile(join(node.stateDir, "state.json"), "utf8")) as { node_id: string; addr: string }[];
  }

  /** The live manager that its own raft view reports as leader (undefined if none agrees yet). */
  async leader(): Promise<HaNode | undefined> {
    for (const m of this.managers) {
      if (!isRunning(m) || !m.client) continue;
      try {
        const nodes = await listNodes(m.client, 1000);
        const addr = nodes.find((n) => n.managerStatus?.leader)?.managerStatus?.addr;
        const leader = this.managers.find((x) => x.remoteAddr === addr);
        if (leader && isRunning(leader)) return leader;
      } catch {
        // try the next one
      }
    }
    return undefined;
  }

  async stop(): Promise<void> {
    for (const n of this.nodes) n.client?.close();
    await Promise.all(
      this.workers.map(async (w) => {
        if (!isRunning(w)) return;
        w.proc.child.kill("SIGTERM");
        const t = setTimeout(() => w.proc.kill(), 5000);
        await w.proc.exited;
        clearTimeout(t);
      }),
    );
    // The base cluster stops its members' current processes (our restarts replace member.proc).
    for (const [i, m] of this.base.members.entries()) if (this.managers[i]) m.proc = this.managers[i]!.proc;
    await Promise.all(this.managers.slice(this.base.members.length).map(async (m) => {
      m.proc.kill();
      await m.proc.exited;
    }));
    await this.base.stop();
  }
}

export function isRunning(n: HaNode): boolean {
  return n.proc.child.exitCode === null && n.proc.child.signalCode === null;
}

/** `p`, or a rejection with the node's log if it exits first. */
async function raceExit<T>(node: HaNode, p: Promise<T>): Promise<T> {
  const proc = node.proc;
  const died = proc.exited.then((e): never => {
    throw new Error(`${node.name} exited (${e.code ?? e.signal}):\n${proc.stderr().slice(-4000)}`);
  });
  died.catch(() => undefined);
  return Promise.race([p, died]);
}

/** Retry `fn` every `everyMs` until it returns a value, or throw "timed out waiting for <what>" with the last error. */
export function retry<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>, everyMs = 100): Promise<T> {
  return retryUntil(`timed out waiting for ${what}`, timeoutMs, fn, everyMs);
}

/** The gRPC status code of an error (undefined if it carries none). */
export function grpcCode(err: unknown): number | undefined {
  const c = (err as { code?: unknown }).code;
  return typeof c === "number" ? c : undefined;
}

export const UNAVAILABLE = Status.UNAVAILABLE;

export function listNodes(c: ControlClient, deadlineMs = 5000): Promise<Node[]> {
  return unary<"listNodes", object, ListNodesResponse>(c, "listNodes", { filters: undefined }, deadlineMs).then((r) => r.nodes);
}

export function listServices(c: ControlClient, deadlineMs = 5000): Promise<Service[]> {
  return unary<"listServices", object, ListServicesResponse>(c, "listServices", { filters: undefined }, deadlineMs).then((r) => r.services);
}

/** A replicas-0 service (no containers) labelled `labels`; returns its ID. */
export async function createService(c: ControlClient, name: string, labels: Record<string, string> = {}, deadlineMs = 10_000): Promise<string> {
  const res = await unary<"createService", CreateServiceRequest, CreateServiceResponse>(
    c,
    "createService",
    CreateServiceRequest.fromPartial({
      spec: {
        annotations: { name, labels },
        task: { runtime: { $case: "container", value: { image: "busybox:local", command: ["sleep"], args: ["3600"] } } },
        mode: { $case: "replicated", value: { replicas: 0 } },
      },
    }),
    deadlineMs,
  );
  return res.service!.id;
}

/** Read-modify-write of one label (optimistic concurrency on the version read). */
export async function setServiceLabel(c: ControlClient, serviceId: string, key: string, value: string, deadlineMs = 10_000): Promise<void> {
  const svc = (await unary<"getService", object, GetServiceResponse>(c, "getService", { serviceId, insertDefaults: false }, deadlineMs)).service!;
  const spec = svc.spec!;
  await unary(
    c,
    "updateService",
    UpdateServiceRequest.fromPartial({
      serviceId,
      serviceVersion: svc.meta!.version!,
      spec: { ...spec, annotations: { ...spec.annotations!, labels: { ...spec.annotations!.labels, [key]: value } } },
    }),
    deadlineMs,
  );
}

export function removeService(c: ControlClient, serviceId: string, deadlineMs = 10_000): Promise<unknown> {
  return unary(c, "removeService", { serviceId }, deadlineMs);
}
