// Network namespaces for the chaos run (issue 9, part 6): N "host" namespaces,
// each with one veth pair into a bridge that lives in a separate "hub"
// namespace, so nothing is created in (or routed from) the host's root
// namespace. Every name carries a run prefix skc-<pid>-<random> so parallel
// test files never collide; interface names only need to be unique inside
// their own namespace (eth0 on a host, p<i>/br<g> in the hub).
//
// Partitions move hub ports between bridges: hosts on different bridges
// cannot exchange a frame, hosts on the same one can, so any split into
// groups works (a lone host on its own bridge is cut off from everyone).
// One-way cuts use nft inside a host namespace when nft exists: dropping
// packets to the host's server port blocks connections *to* it while its own
// outgoing connections (and their replies) still work.
//
// Unix sockets (control API, Docker engine) are files, so they stay
// reachable from every namespace; only TCP/IP is affected.
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";

const run = promisify(execFile);

export const NETNS_PREFIX = "skc-";
const IP = "ip";

export interface NetnsHost {
  /** Namespace name. */
  ns: string;
  /** The host's address on the lab network. */
  ip: string;
  /** Argv prefix that runs a command inside the namespace. */
  wrap: string[];
}

export interface NetnsLab {
  prefix: string;
  hub: string;
  hosts: NetnsHost[];
  /** Split the hosts: each listed group gets its own segment; hosts not listed stay together on the main one. */
  partition(groups: number[][]): Promise<void>;
  /** Cut one host off from everyone. */
  isolate(host: number): Promise<void>;
  /** One-way: nobody can reach `port` on the host; its own outgoing connections still work (needs nft). */
  blockInbound(host: number, port: number): Promise<void>;
  /** Every host back on the main segment, every one-way rule removed. */
  heal(): Promise<void>;
  /** Which segment each host is on now (0 = main). */
  segments(): number[];
  /** Whether blockInbound works here (nft present and usable in a namespace). */
  readonly oneWay: boolean;
  /** Kill whatever still runs in the namespaces and delete them. Safe to call twice. */
  destroy(): Promise<void>;
}

export interface Availability {
  ok: boolean;
  /** Why not, when !ok. */
  reason?: string;
}

async function ip(...args: string[]): Promise<string> {
  try {
    return (await run(IP, args, { timeout: 10_000 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(" ")}: ${(e.stderr ?? "").trim() || e.message}`);
  }
}

function ipSync(args: string[]): string {
  try {
    return execFileSync(IP, args, { stdio: ["ignore", "pipe", "ignore"], timeout: 10_000 }).toString();
  } catch {
    return "";
  }
}

/** Names of the namespaces that exist now (`ip netns list` prints "name (id: n)"). */
export function listNamespaces(): string[] {
  return ipSync(["netns", "list"])
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter((n) => n !== "");
}

/** Kill the processes inside a namespace (by PID, as `ip netns pids` lists them) and delete it. */
function deleteNamespaceSync(ns: string): void {
  for (const pid of ipSync(["netns", "pids", ns]).split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // already gone
    }
  }
  ipSync(["netns", "del", ns]);
}

function ownerAlive(ns: string): boolean {
  const pid = Number(/^skc-(\d+)-/.exec(ns)?.[1]);
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Remove leftover namespaces of earlier runs: every skc-* namespace whose
 * owning process (the PID in its name) is gone, or all skc-* ones with `all`.
 * Returns the names removed.
 */
export function cleanupLeftovers(all = false): string[] {
  const gone = listNamespaces().filter((n) => n.startsWith(NETNS_PREFIX) && (all || !ownerAlive(n)));
  // Hosts first so their processes die before the hub (and its bridges) go.
  gone.sort((a, b) => Number(a.endsWith("-hub")) - Number(b.endsWith("-hub")));
  for (const ns of gone) deleteNamespaceSync(ns);
  return gone;
}

/** Can this process create namespaces (root, iproute2 with netns support)? Probes with a throwaway namespace. */
export async function netnsAvailable(): Promise<Availability> {
  if (process.platform !== "linux") return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` };
  if (typeof process.getuid === "function" && process.getuid() !== 0) return { ok: false, reason: "network namespaces need root (uid is not 0)" };
  const probe = `${NETNS_PREFIX}${process.pid}-probe${randomBytes(2).toString("hex")}`;
  try {
    await ip("netns", "add", probe);
    await ip("-n", probe, "link", "add", "name", "probe0", "type", "veth", "peer", "name", "probe1");
    await ip("-n", probe, "link", "add", "name", "probebr", "type", "bridge");
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  } finally {
    ipSync(["netns", "del", probe]);
  }
}

async function nftUsable(ns: string): Promise<boolean> {
  try {
    await run(IP, ["netns", "exec", ns, "nft", "add", "table", "inet", "skc"], { timeout: 10_000 });
    await run(IP, ["netns", "exec", ns, "nft", "delete", "table", "inet", "skc"], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

// One handler set for every lab of the process: delete on exit and on SIGINT/SIGTERM.
const liveLabs = new Set<() => void>();

/**
 * Run `fn` (synchronous) if the process exits or is interrupted before the
 * returned function is called — for a run's other leftovers (temp dirs).
 */
export function onAbort(fn: () => void): () => void {
  installExitHandlers();
  const once = () => {
    liveLabs.delete(once);
    fn();
  };
  liveLabs.add(once);
  return () => liveLabs.delete(once);
}
let handlersInstalled = false;
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", () => {
    for (const d of [...liveLabs]) d();
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(sig, () => {
      for (const d of [...liveLabs]) d();
      // Default behaviour after our cleanup: die of the same signal.
      process.kill(process.pid, sig);
    });
  }
}

export interface LabOptions {
  /** Third octet of 10.213.X.0/24 (default: from the PID). Each lab has its own bridge, so this is cosmetic. */
  subnet?: number;
}

/** N host namespaces on one bridge in a hub namespace, loopback up, addresses 10.213.X.(i+1)/24. */
export async function createNetnsLab(count: number, opts: LabOptions = {}): Promise<NetnsLab> {
  installExitHandlers();
  cleanupLeftovers();
  const prefix = `${NETNS_PREFIX}${process.pid}-${randomBytes(3).toString("hex")}`;
  const hub = `${prefix}-hub`;
  const subnet = opts.subnet ?? process.pid % 250;
  const hosts: NetnsHost[] = Array.from({ length: count }, (_, i) => ({
    ns: `${prefix}-${i}`,
    ip: `10.213.${subnet}.${i + 1}`,
    wrap: [IP, "netns", "exec", `${prefix}-${i}`],
  }));
  const segment = hosts.map(() => 0);
  const bridges = new Set<number>();
  const blocked = new Set<number>();
  let destroyed = false;

  const destroySync = () => {
    if (destroyed) return;
    destroyed = true;
    liveLabs.delete(destroySync);
    for (const h of hosts) deleteNamespaceSync(h.ns);
    deleteNamespaceSync(hub);
  };
  liveLabs.add(destroySync);

  const bridge = async (g: number): Promise<string> => {
    const name = `br${g}`;
    if (!bridges.has(g)) {
      await ip("-n", hub, "link", "add", "name", name, "type", "bridge");
      await ip("-n", hub, "link", "set", name, "up");
      bridges.add(g);
    }
    return name;
  };
  const move = async (host: number, g: number): Promise<void> => {
    if (segment[host] === g) return;
    await ip("-n", hub, "link", "set", `p${host}`, "master", await bridge(g));
    segment[host] = g;
  };

  try {
    await ip("netns", "add", hub);
    await ip("-n", hub, "link", "set", "lo", "up");
    await bridge(0);
    for (const [i, h] of hosts.entries()) {
      await ip("netns", "add", h.ns);
      // Both ends are created directly in their namespaces: nothing appears in the root namespace.
      await ip("link", "add", "name", `p${i}`, "netns", hub, "type", "veth", "peer", "name", "eth0", "netns", h.ns);
      await ip("-n", hub, "link", "set", `p${i}`, "master", "br0");
      await ip("-n", hub, "link", "set", `p${i}`, "up");
      await ip("-n", h.ns, "link", "set", "lo", "up");
      await ip("-n", h.ns, "addr", "add", `${h.ip}/24`, "dev", "eth0");
      await ip("-n", h.ns, "link", "set", "eth0", "up");
    }
  } catch (err) {
    destroySync();
    throw err;
  }
  const oneWay = await nftUsable(hosts[0]!.ns);

  const lab: NetnsLab = {
    prefix,
    hub,
    hosts,
    oneWay,
    segments: () => [...segment],
    async partition(groups) {
      const target = hosts.map(() => 0);
      groups.forEach((g, k) => g.forEach((h) => (target[h] = k + 1)));
      for (const [h, g] of target.entries()) await move(h, g);
    },
    isolate: (host) => lab.partition([[host]]),
    async blockInbound(host, port) {
      if (!oneWay) throw new Error("one-way partitions need nft in the namespaces");
      const ns = hosts[host]!.ns;
      const nft = (...a: string[]) => run(IP, ["netns", "exec", ns, "nft", ...a], { timeout: 10_000 });
      if (!blocked.has(host)) {
        await nft("add", "table", "inet", "skc");
        await nft("add", "chain", "inet", "skc", "in", "{ type filter hook input priority 0; policy accept; }");
        blocked.add(host);
      }
      await nft("add", "rule", "inet", "skc", "in", "iifname", "eth0", "tcp", "dport", String(port), "drop");
    },
    async heal() {
      for (const h of hosts.keys()) await move(h, 0);
      for (const h of [...blocked]) {
        await run(IP, ["netns", "exec", hosts[h]!.ns, "nft", "delete", "table", "inet", "skc"], { timeout: 10_000 });
        blocked.delete(h);
      }
    },
    async destroy() {
      destroySync();
    },
  };
  return lab;
}
