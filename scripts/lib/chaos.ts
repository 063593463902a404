// The chaos run (issue 9, part 6): a 3-manager, 2-worker cluster under a
// steady stream of service creates/updates/removes while a seeded schedule
// kill -9s and restarts random nodes (one node down at a time, so a quorum of
// managers stays up), optionally followed by a quorum-loss phase (2 managers
// down together, then back). At the end it checks that every acknowledged
// write is present exactly once (unless acknowledged-removed), acknowledged
// updates are applied, no two managers ever led in the same term, and every
// manager converges on the same services. Used by scripts/chaos.ts and
// test/cluster/chaos.test.ts.
import { HaCluster, createService, isRunning, listNodes, listServices, removeService, retry, setServiceLabel, sleep, type HaNode } from "./ha.js";
import { NodeStatus_State, type Service } from "../../src/shared/api/index.js";

export interface ChaosOptions {
  seed: number;
  /** Length of the main (kill/restart) phase. */
  durationMs: number;
  /** Add the quorum-loss phase after the main phase. */
  quorumLoss?: boolean;
  tickInterval?: string;
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
  const ha = await HaCluster.start({ managers: 3, workers: 2, tickInterval: opts.tickInterval ?? "100ms" });
  log({ event: "cluster formed", atMs: at(), managers: ha.managers.map((m) => m.name), workers: ha.workers.map((w) => w.name) });

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

  const writer = (async () => {
    while (writing) {
      const ms = ha.managers.filter((m) => isRunning(m) && m.client);
      const m = ms[Math.floor(pick() * ms.length)];
      if (!m) {
        await sleep(50);
        continue;
      }
      const r = pick();
      const names = [...live.keys()];
      let ok = false;
      if (r < 0.5 || names.length < 3) {
        const name = `chaos-${seq++}`;
        try {
          const id = await createService(m.client!, name, {}, 5000);
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
          await setServiceLabel(m.client!, t.id, "v", v, 5000);
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
          await removeService(m.client!, t.id, 5000);
          live.delete(name);
          removed.add(name);
          ok = true;
        } catch {
          live.delete(name);
          maybeRemoved.set(name, t);
        }
      }
      if (ok) {
        acked++;
        if (firstFailureAt) longestUnavailable = Math.max(longestUnavailable, Date.now() - firstFailureAt);
        firstFailureAt = 0;
      } else {
        failed++;
        if (!firstFailureAt) firstFailureAt = Date.now();
        await sleep(50);
      }
    }
  })();

  let kills = 0;
  let failovers = 0;
  const violations: string[] = [];
  let converged = false;
  try {
    // Main phase: one node down at a time.
    const end = Date.now() + opts.durationMs;
    while (Date.now() < end) {
      await sleep(500 + Math.floor(sched() * 1500));
      const victim = ha.nodes[Math.floor(sched() * ha.nodes.length)]!;
      const downMs = 300 + Math.floor(sched() * 2000);
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
  }
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
