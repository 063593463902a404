// N swarmd processes formed into one cluster of managers on loopback: the first
// bootstraps, the others join it one at a time with the manager join token,
// each on its own temp state dir and remote API port. For benchmarks and
// system tests; stop() kills every process and deletes the temp dirs.
// With `netns`, member i runs inside the lab's host namespace i
// (scripts/lib/netns.ts) and listens on <host ip>:NETNS_REMOTE_PORT, so the
// chaos run can partition it; control sockets stay reachable (unix files).
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  RaftMemberStatus_Reachability,
  type ControlClient,
  type ListClustersResponse,
  type ListNodesResponse,
} from "../../src/shared/api/index.js";
import { connectControl } from "../../src/shared/control-client.js";
import { unary, waitForControl } from "../../test/helpers/control.js";
import { startSwarmd, type SwarmdProcess } from "../../test/main/helpers.js";
import type { NetnsLab } from "./netns.js";
import { retryUntil } from "./retry.js";

/** The remote API port inside a namespace (each has its own port space, so one fixed port does). */
export const NETNS_REMOTE_PORT = 4242;

export interface ClusterMember {
  /** 0 for the bootstrapping manager, then in join order. */
  index: number;
  stateDir: string;
  /** The control API unix socket. */
  socket: string;
  /** host:port of the remote API (raft and joins go through it). */
  remoteAddr: string;
  proc: SwarmdProcess;
  /** Argv prefix the process runs under ([] on the host; `ip netns exec <ns>` in a lab). */
  wrap: string[];
}

export interface SwarmdCluster {
  /** The temp dir holding every member's state dir. */
  dir: string;
  members: ClusterMember[];
  /** The member the cluster currently reports as raft leader. */
  leader(timeoutMs?: number): Promise<ClusterMember>;
  /** A control client on a member's socket (the caller closes it). */
  connect(member: ClusterMember): ControlClient;
  /** SIGTERM every member, SIGKILL after a grace period, delete the temp dirs. Safe to call twice. */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** How many managers (default 3). */
  managers?: number;
  /** swarmd --tick-interval (default "100ms" so elections settle fast). */
  tickInterval?: string;
  /** swarmd --log-level (default "warn"; stderr is kept in memory for error messages). */
  logLevel?: string;
  /** More swarmd flags for every member. */
  extraArgs?: string[];
  /** Per step: control socket answering, join visible on the leader (default 30 s). */
  stepTimeoutMs?: number;
  /** Where the temp dir goes (default os.tmpdir()). */
  parentDir?: string;
  /** Run member i in lab host namespace i instead of on 127.0.0.1. */
  netns?: NetnsLab;
  /** Called with stop() before the first member starts, so a signal handler can clean up a cluster still forming. */
  onStop?: (stop: () => Promise<void>) => void;
}

/** Where member `i` runs: remote API address and argv prefix. */
export function placement(options: Pick<ClusterOptions, "netns">, i: number, port: number): { remoteAddr: string; wrap: string[]; args: string[] } {
  const host = options.netns?.hosts[i];
  if (options.netns && !host) throw new Error(`the netns lab has no host ${i} (it has ${options.netns.hosts.length})`);
  if (!host) return { remoteAddr: `127.0.0.1:${port}`, wrap: [], args: ["--listen-remote-api", `127.0.0.1:${port}`] };
  const remoteAddr = `${host.ip}:${NETNS_REMOTE_PORT}`;
  return { remoteAddr, wrap: host.wrap, args: ["--listen-remote-api", remoteAddr, "--advertise-remote-api", remoteAddr] };
}

/** `n` distinct free TCP ports on 127.0.0.1 (held together while picking so they differ). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}


/** Reachable managers as the given member's control API lists them. */
async function managers(client: ControlClient): Promise<{ addr: string; leader: boolean; reachable: boolean }[]> {
  const res = await unary<"listNodes", object, ListNodesResponse>(client, "listNodes", { filters: undefined }, 3000);
  return res.nodes
    .filter((n) => n.managerStatus)
    .map((n) => ({
      addr: n.managerStatus!.addr,
      leader: n.managerStatus!.leader,
      reachable: n.managerStatus!.reachability === RaftMemberStatus_Reachability.REACHABLE,
    }));
}

export async function startSwarmdCluster(options: ClusterOptions = {}): Promise<SwarmdCluster> {
  const count = options.managers ?? 3;
  const stepTimeoutMs = options.stepTimeoutMs ?? 30_000;
  const dir = await mkdtemp(join(options.parentDir ?? tmpdir(), "swarmd-cluster-"));
  const members: ClusterMember[] = [];
  let stopped: Promise<void> | undefined;

  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await Promise.all(
        members.map(async (m) => {
          const { child } = m.proc;
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill("SIGTERM");
          const timer = setTimeout(() => m.proc.kill(), 5000);
          await m.proc.exited;
          clearTimeout(timer);
        }),
      );
      await rm(dir, { recursive: true, force: true });
    })());

  const cluster: SwarmdCluster = {
    dir,
    members,
    connect: (m) => connectControl(m.socket),
    async leader(timeoutMs = stepTimeoutMs) {
      const client = cluster.connect(members[0]!);
      try {
        return await retryUntil("no leader reported", timeoutMs, async () => {
          const addr = (await managers(client)).find((m) => m.leader)?.addr;
          return members.find((m) => m.remoteAddr === addr);
        });
      } finally {
        client.close();
      }
    },
    stop,
  };

  options.onStop?.(stop);
  try {
    const ports = options.netns ? Array.from({ length: count }, () => NETNS_REMOTE_PORT) : await freePorts(count);
    const engine = `unix://${join(dir, "no-engine.sock")}`; // the agents must not touch a real Docker engine
    let token = "";
    for (let i = 0; i < count; i++) {
      const stateDir = join(dir, `m${i + 1}`);
      const { remoteAddr, wrap, args: listen } = placement(options, i, ports[i]!);
      const args = ["-d", stateDir, ...listen, "--tick-interval", options.tickInterval ?? "100ms"];
      args.push("--engine-addr", engine, "--log-level", options.logLevel ?? "warn", "--hostname", `m${i + 1}`);
      if (i > 0) args.push("--join-addr", members[0]!.remoteAddr, "--join-token", token);
      const member: ClusterMember = { index: i, stateDir, socket: join(stateDir, "swarmd.sock"), remoteAddr, wrap, proc: startSwarmd([...args, ...(options.extraArgs ?? [])], {}, wrap) };
      members.push(member);
      const died = member.proc.exited.then((e) => {
        throw new Error(`swarmd m${i + 1} exited (${e.code ?? e.signal}) while forming the cluster:\n${member.proc.stderr()}`);
      });
      const client = await Promise.race([
        waitForControl(member.socket, stepTimeoutMs).catch((err: Error) => {
          throw new Error(`${err.message}\nswarmd m${i + 1} stderr (last 3000 chars):\n${member.proc.stderr().slice(-3000)}`);
        }),
        died,
      ]);
      try {
        if (i === 0) {
          const res = await unary<"listClusters", object, ListClustersResponse>(client, "listClusters", { filters: undefined });
          token = res.clusters[0]?.rootCa?.joinTokens?.manager ?? "";
          if (!token.startsWith("SWMTKN-1-")) throw new Error(`no manager join token in the default cluster (got "${token}")`);
        }
        // Joined = the first manager sees every member so far as a reachable manager.
        const first = i === 0 ? client : cluster.connect(members[0]!);
        try {
          await Promise.race([
            retryUntil(`m${i + 1} did not show up as a reachable manager`, stepTimeoutMs, async () => {
              const ms = await managers(first);
              return ms.filter((m) => m.reachable).length >= i + 1 && ms.some((m) => m.addr === remoteAddr) ? true : undefined;
            }),
            died,
          ]);
        } finally {
          if (first !== client) first.close();
        }
      } finally {
        client.close();
      }
      void died.catch(() => undefined); // later exits are the caller's business (stop() awaits them)
    }
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}
