// The chaos run (issue 9, part 6): a 3-manager, 2-worker cluster under a
// steady stream of service creates/updates/removes while a seeded schedule
// kill -9s and restarts random nodes, and (where network namespaces work, see
// scripts/lib/netns.ts) partitions them: the leader, a follower or a worker cut
// off, minority/majority splits, the leader deaf to inbound connections — one
// disruption at a time, each healed before the next, so a quorum of managers
// stays up. Optionally followed by a quorum-loss phase (2 managers down
// together, then back). At the end it checks that every acknowledged
// write is present exactly once (unless acknowledged-removed), acknowledged
// updates are applied, no two managers ever led in the same term, and every
// manager converges on the same services. Used by scripts/chaos.ts and
// test/cluster/chaos.test.ts.
import { HaCluster, createService, isRunning, listNodes, listServices, removeService, retry, setServiceLabel, sleep, type HaNode } from "./ha.js";
import { NodeStatus_State, type Service } from "../../src/shared/api/index.js";
import { NETNS_REMOTE_PORT } from "./cluster.js";
import { createNetnsLab, netnsAvailable, onAbort, type NetnsLab } from "./netns.js";
import { rmSync } from "node:fs";

export interface ChaosOptions {
  seed: number;
  /** Length of the main (kill/restart) phase. */
  durationMs: number;
  /** Add the quorum-loss phase after the main phase. */
  quorumLoss?: boolean;
  tickInterval?: string;
  /**
   * Add network partitions to the schedule (default true). Without network
   * namespaces (not root, no `ip netns`) the run says so and falls back to
   * kills only — except with CI=true, where that is an error.
   */
  partitions?: boolean;
  /** One JSON-able record per event (what the run did). */
  log?: (event: Record<string, unknown>) => void;
}

export interface ChaosResult {
  seed: number;
  writesAcknowledged: number;
  writesFailed: number;
  lost: number;
  duplicated: number;
  updatesWrong: number;
  kills: number;
  /** Partition events (each healed before the next disruption); 0 without namespaces. */
  partitions: number;
  /** Of those, the ones that cut the leader off from a quorum. */
  leaderPartitions: number;
  /** Whether the schedule could use network namespaces. */
  partitionsEnabled: boolean;
  /** Leader changes: kills of the leader, and partitions after which another manager led. */
  failovers: number;
  /** Longest run of failing writes, over the whole run and in the main phase (one node down at a time). */
  longestUnavailabilityMs: number;
  mainPhaseLongestUnavailabilityMs: number;
  sharedTerms: { term: number; nodes: string[] }[];
  converged: boolean;
  /** Human-readable reasons the run failed its checks (empty when it passed). */
  violations: string[];
}

/** mulberry32: small, seedable, good enough for a schedule. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A write's deadline: one stuck on a cut-off manager counts as unavailability until then. */
const WRITE_DEADLINE_MS = 3000;

interface Tracked {
  id: string;
  /** Last acknowledged label value ("" before any update). */
  acked: string;
  /** Values of later updates that failed: each may or may not have been applied. */
  maybe: string[];
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const log = opts.log ?? (() => undefined);
  const sched = prng(opts.seed);
  const pick = prng(opts.seed ^ 0x5bd1e995);
  const t0 = Date.now();
  const at = () => Date.now() - t0;
  log({ event: "start", seed: opts.seed, durationMs: opts.durationMs, quorumLoss: !!opts.quorumLoss });
  let lab: NetnsLab | undefined;
  if (opts.partitions ?? true) {
    const avail = await netnsAvailable();
    if (avail.ok) {
      lab = await createNetnsLab(5);
      log({ event: "network namespaces", prefix: lab.prefix, hosts: lab.hosts.map((h) => h.ip), oneWay: lab.oneWay });
    } else if (process.env["CI"] === "true") {
      throw new Error(`chaos: network namespaces are unavailable in CI (${avail.reason}); CI runs as root and must exercise partitions`);
    } else {
      log({ event: "partitions unavailable: running the kill/restart schedule only", reason: avail.reason });
    }
  }
  let ha: HaCluster;
  try {
    ha = await HaCluster.start({ managers: 3, workers: 2, tickInterval: opts.tickInterval ?? "100ms", ...(lab ? { netns: lab } : {}) });
  } catch (err) {
    await lab?.destroy();
    throw err;
  }
  // Interrupted (SIGINT/SIGTERM): the lab kills the processes in its namespaces; the state dirs go too.
  const forget = onAbort(() => rmSync(ha.dir, { recursive: true, force: true }));
  log({ event: "cluster formed", atMs: at(), dir: ha.dir, managers: ha.managers.map((m) => `${m.name} ${m.remoteAddr}`), workers: ha.workers.map((w) => w.name) });

  // Writer state.
  const live = new Map<string, Tracked>(); // acknowledged created, not acknowledged removed
  const removed = new Set<string>(); // acknowledged removed
  const maybeCreated = new Set<string>(); // create failed: 0 or 1 copies allowed
  const maybeRemoved = new Map<string, Tracked>(); // remove failed: may be gone or still as tracked
  let acked = 0;
  let failed = 0;
  let seq = 0;
  let value = 0;
  let writing = true;
  let firstFailureAt = 0;
  let longestUnavailable = 0;
  let lastFailed: HaNode | undefined;

  const writer = (async () => {
    while (writing) {
      // Like a client failing over: after a failure, try another manager first.
      const up = ha.managers.filter((m) => isRunning(m) && m.client);
      const ms = up.length > 1 ? up.filter((m) => m !== lastFailed) : up;
      const m = ms[Math.floor(pick() * ms.length)];
      if (!m) {
        await sleep(50);
        continue;
      }
      const r = pick();
      const names = [...live.keys()];
      let ok = false;
      // Unavailability runs from when the first failing write was sent (a write stuck on a cut-off manager counts).
      const issuedAt = Date.now();
      if (r < 0.5 || names.length < 3) {
        const name = `chaos-${seq++}`;
        try {
          const id = await createService(m.client!, name, {}, WRITE_DEADLINE_MS);
          live.set(name, { id, acked: "", maybe: [] });
          ok = true;
        } catch {
          maybeCreated.add(name);
        }
      } else if (r < 0.8) {
        const name = names[Math.floor(pick() * names.length)]!;
        const t = live.get(name)!;
        const v = String(++value);
        try {
          await setServiceLabel(m.client!, t.id, "v", v, WRITE_DEADLINE_MS);
          t.acked = v;
          t.maybe = [];
          ok = true;
        } catch {
          t.maybe.push(v);
        }
      } else {
        const name = names[Math.floor(pick() * names.length)]!;
        const t = live.get(name)!;
        try {
          await removeService(m.client!, t.id, WRITE_DEADLINE_MS);
          live.delete(name);
          removed.add(name);
          ok = true;
        } catch {
          live.delete(name);
          maybeRemoved.set(name, t);
        }
      }
      lastFailed = ok ? undefined : m;
      if (ok) {
        acked++;
        if (firstFailureAt) longestUnavailable = Math.max(longestUnavailable, Date.now() - firstFailureAt);
        firstFailureAt = 0;
      } else {
        failed++;
        if (!firstFailureAt) firstFailureAt = issuedAt;
        await sleep(50);
      }
    }
  })();

  let kills = 0;
  let partitions = 0;
  let leaderPartitions = 0;
  let failovers = 0;
  const violations: string[] = [];
  let converged = false;
  try {
    // Main phase: one disruption at a time, each undone before the next.
    const end = Date.now() + opts.durationMs;
    for (let step = 0; Date.now() < end; step++) {
      // A fixed number of draws per step, so the seed fixes the schedule whatever the cluster does.
      const r = Array.from({ length: 6 }, () => sched());
      await sleep(500 + Math.floor(r[0]! * 1500));
      const kind = disruption(step, r[1]!, lab);
      if (kind === "kill") {
        const victim = ha.nodes[Math.floor(r[2]! * ha.nodes.length)]!;
        const downMs = 300 + Math.floor(r[3]! * 2000);
        const leader = victim.role === "manager" ? await ha.leader() : undefined;
        const wasLeader = leader === victim;
        await ha.kill(victim);
        kills++;
        if (wasLeader) failovers++;
        log({ event: "kill -9", node: victim.name, role: victim.role, leader: wasLeader, atMs: at(), downMs });
        await sleep(downMs);
        await ha.restart(victim);
        await rejoined(ha, victim);
        log({ event: "restarted", node: victim.name, atMs: at() });
        continue;
      }
      const net = lab!;
      const leader = await retry("a leader before a partition", 60_000, () => ha.leader());
      const followers = ha.managers.filter((m) => m !== leader);
      const follower = followers[Math.floor(r[2]! * followers.length)]!;
      const worker = ha.workers[Math.floor(r[2]! * ha.workers.length)]!;
      const holdMs = 1000 + Math.floor(r[3]! * 3000);
      // Workers that go with the minority side of a split (r[4], r[5]: one coin each).
      const withMinority = ha.workers.filter((_, i) => r[4 + i]! < 0.5);
      let cut: HaNode[];
      let detail: Record<string, unknown>;
      if (kind === "one-way leader") {
        cut = [leader];
        await net.blockInbound(leader.host!, NETNS_REMOTE_PORT);
        detail = { node: leader.name, note: "nobody can connect to its remote API; its own connections work" };
      } else {
        const minority = kind === "isolate leader" ? [leader] : kind === "isolate follower" ? [follower] : kind === "isolate worker" ? [worker]
          : kind === "split, leader in minority" ? [leader, ...withMinority] : [follower, ...withMinority];
        cut = minority;
        await net.partition([minority.map((n) => n.host!)]);
        detail = { minority: minority.map((n) => n.name), majority: ha.nodes.filter((n) => !minority.includes(n)).map((n) => n.name) };
      }
      partitions++;
      const leaderCut = cut.includes(leader);
      if (leaderCut) leaderPartitions++;
      log({ event: `partition: ${kind}`, ...detail, leader: leader.name, atMs: at(), holdMs });
      await sleep(holdMs);
      await net.heal();
      log({ event: "healed", atMs: at() });
      for (const n of cut) await healed(ha, n);
      const after = await retry("a leader after healing", 60_000, () => ha.leader());
      if (after !== leader) failovers++;
      log({ event: "whole again", leader: after.name, atMs: at() });
    }

    const mainPhaseLongest = Math.max(longestUnavailable, firstFailureAt ? Date.now() - firstFailureAt : 0);
    if (opts.quorumLoss) {
      const leader = await ha.leader();
      const lead = leader ?? ha.managers[0]!;
      const pair = [lead, ha.managers.find((m) => m !== lead)!];
      await Promise.all(pair.map((m) => ha.kill(m)));
      kills += pair.length;
      failovers++;
      log({ event: "quorum loss: kill -9", nodes: pair.map((m) => m.name), atMs: at() });
      await sleep(3000);
      for (const m of pair) await ha.restart(m);
      await Promise.all(pair.map((m) => rejoined(ha, m)));
      log({ event: "quorum restored", nodes: pair.map((m) => m.name), atMs: at() });
    }

    // A last acknowledged write after the dust settles, then stop writing.
    const ackedBefore = acked;
    await retry("a write after the chaos", 60_000, async () => (acked > ackedBefore ? true : undefined));
    writing = false;
    await writer;
    log({ event: "writer stopped", atMs: at(), acked, failed });

    // Every manager converges on the same services.
    let final: Service[] = [];
    try {
      final = await retry("every manager to hold the same services", 60_000, async () => {
        const views = await Promise.all(ha.managers.map((m) => listServices(m.client!, 5000)));
        const keys = views.map((v) => v.map((s) => `${s.id}@${s.meta!.version!.index}`).sort().join());
        return keys.every((k) => k === keys[0]) ? views[0]! : undefined;
      });
      converged = true;
    } catch (err) {
      violations.push((err as Error).message);
      final = await listServices((await ha.leader())?.client ?? ha.managers[0]!.client!);
    }
    // Every node ready again (agents found a leader after their restarts).
    try {
      await retry("every node READY", 60_000, async () => {
        const l = await ha.leader();
        const ns = l ? await listNodes(l.client!) : [];
        return ns.length === 5 && ns.every((n) => n.status?.state === NodeStatus_State.READY) ? true : undefined;
      });
    } catch (err) {
      violations.push((err as Error).message);
      converged = false;
    }

    const count = new Map<string, Service[]>();
    for (const s of final) {
      const n = s.spec!.annotations!.name;
      count.set(n, [...(count.get(n) ?? []), s]);
    }
    let lost = 0;
    let duplicated = 0;
    let updatesWrong = 0;
    for (const [name, list] of count) {
      if (list.length > 1) {
        duplicated++;
        violations.push(`${name} exists ${list.length} times`);
      }
    }
    for (const [name, t] of live) {
      const list = count.get(name) ?? [];
      if (list.length === 0) {
        lost++;
        violations.push(`acknowledged create ${name} is missing`);
        continue;
      }
      const v = list[0]!.spec!.annotations!.labels["v"] ?? "";
      if (v !== t.acked && !t.maybe.includes(v)) {
        updatesWrong++;
        violations.push(`${name}: label v=${JSON.stringify(v)}, acknowledged ${JSON.stringify(t.acked)} (possible: ${t.maybe.join(",")})`);
      }
    }
    for (const name of removed) {
      if (count.has(name)) violations.push(`acknowledged remove of ${name}, but it exists`);
    }
    for (const name of count.keys()) {
      if (!live.has(name) && !removed.has(name) && !maybeCreated.has(name) && !maybeRemoved.has(name)) violations.push(`${name} exists but was never written`);
    }
    const shared = ha.sharedTerms();
    for (const s of shared) violations.push(`term ${s.term} had leaders ${s.nodes.join(", ")}`);
    if (!converged && !violations.some((v) => v.includes("same services"))) violations.push("services did not converge");
    return {
      seed: opts.seed,
      writesAcknowledged: acked,
      writesFailed: failed,
      lost,
      duplicated,
      updatesWrong,
      kills,
      partitions,
      leaderPartitions,
      partitionsEnabled: lab !== undefined,
      failovers,
      longestUnavailabilityMs: longestUnavailable,
      mainPhaseLongestUnavailabilityMs: mainPhaseLongest,
      sharedTerms: shared,
      converged,
      violations,
    };
  } finally {
    writing = false;
    await writer.catch(() => undefined);
    await ha.stop();
    await lab?.destroy();
    forget();
  }
}

type Disruption = "kill" | "isolate leader" | "isolate follower" | "isolate worker" | "split, leader in minority" | "split, follower in minority" | "one-way leader";

/** What step `step` does: the first partitions the leader (so every run has one), then by the draw `r`. */
function disruption(step: number, r: number, lab: NetnsLab | undefined): Disruption {
  if (!lab) return "kill";
  if (step === 0) return "isolate leader";
  if (r < 0.4) return "kill";
  if (r < 0.52) return "isolate leader";
  if (r < 0.62) return "isolate follower";
  if (r < 0.7) return "isolate worker";
  if (r < 0.8) return "split, leader in minority";
  if (r < 0.9 || !lab.oneWay) return "split, follower in minority";
  return "one-way leader";
}

/**
 * A node that was cut off is back: a manager agrees with the others on a
 * running leader, a worker is READY on that leader.
 */
async function healed(ha: HaCluster, node: HaNode): Promise<void> {
  await retry(`${node.name} back after the partition healed`, 60_000, async () => {
    const views = await Promise.all(
      ha.managers.map(async (m) => (await listNodes(m.client!, 1000)).find((n) => n.managerStatus?.leader)?.managerStatus?.addr),
    );
    const leader = ha.managers.find((m) => m.remoteAddr === views[0]);
    if (!leader || !isRunning(leader) || views.some((v) => v !== views[0])) return undefined;
    if (node.role === "manager") return true;
    const nodes = await listNodes(leader.client!, 1000);
    return nodes.some((n) => n.description?.hostname === node.name && n.status?.state === NodeStatus_State.READY) ? true : undefined;
  });
}

/** A restarted node is back: a manager sees a leader, a worker has a session again. */
async function rejoined(ha: HaCluster, node: HaNode): Promise<void> {
  if (node.role === "worker") {
    await node.proc.waitForLog(/"msg":"session registered"/, 60_000);
    return;
  }
  await ha.waitUp(node, 60_000);
  await retry(`${node.name} to see a leader`, 60_000, async () => ((await listNodes(node.client!, 1000)).some((n) => n.managerStatus?.leader) ? true : undefined));
}
