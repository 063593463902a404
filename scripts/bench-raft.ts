// Raft core benchmark: tick handling, throughput and tick latency under load.
// Prints one JSON object per line ({name, value, unit, ...details}); no pass/fail.
//   npm run build && npm run bench:raft [-- --quick]
import { GCProfiler } from "node:v8";
import { RaftCore, SeededRandom, type Message, type RaftConfig } from "../src/workers/manager/raft/core/index.js";

const quick = process.argv.includes("--quick");
const CFG: Partial<RaftConfig> = {
  electionTick: 10,
  heartbeatTick: 1,
  preVote: true,
  checkQuorum: true,
  maxSizePerMsg: 1 << 20,
  maxInflightMsgs: 256,
};

function emit(name: string, value: number, unit: string, details: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ name, value: Number(value.toFixed(3)), unit, ...details }));
}

class Cluster {
  readonly nodes: RaftCore[] = [];
  dropResponsesOf: ((m: Message) => boolean) | null = null;
  constructor(n: number, cfg: Partial<RaftConfig> = CFG) {
    const peers = Array.from({ length: n }, (_, i) => ({ id: i + 1 }));
    for (let i = 1; i <= n; i++) this.nodes.push(new RaftCore({ id: i, random: new SeededRandom(i), ...cfg }, { peers }));
    this.pump();
    this.nodes[0]!.campaign();
    this.pump();
    if (this.nodes[0]!.status().role !== "leader") throw new Error("bench: node 1 did not become leader");
  }
  get leader(): RaftCore {
    return this.nodes[0]!;
  }
  /** Ready/advance one node; returns its messages. */
  drain(node: RaftCore): Message[] {
    if (!node.hasReady()) return [];
    const rd = node.ready();
    node.advance();
    return rd.messages;
  }
  deliver(msgs: Message[]): void {
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      if (this.dropResponsesOf && this.dropResponsesOf(m)) continue;
      this.nodes[m.to - 1]!.step(m);
    }
  }
  /** Synchronous delivery until quiet. */
  pump(): void {
    for (let guard = 0; guard < 1000; guard++) {
      let any = false;
      for (const n of this.nodes) {
        const msgs = this.drain(n);
        if (msgs.length > 0) {
          any = true;
          this.deliver(msgs);
        }
      }
      if (!any) return;
    }
  }
}

function percentiles(samples: Float64Array, n: number): { p50: number; p99: number; max: number } {
  const s = samples.subarray(0, n).sort();
  return { p50: s[Math.floor(n * 0.5)]!, p99: s[Math.floor(n * 0.99)]!, max: s[n - 1]! };
}

function now(): number {
  return Number(process.hrtime.bigint());
}

// --- tick: idle follower ---------------------------------------------------
function benchIdleFollower(): void {
  // A huge election timeout keeps the follower idle; each tick() does the same work.
  const core = new RaftCore({ id: 2, random: new SeededRandom(2), ...CFG, electionTick: 2 ** 30 }, { peers: [{ id: 1 }, { id: 2 }, { id: 3 }] });
  core.ready();
  core.advance();
  const N = quick ? 2_000_000 : 20_000_000;
  for (let i = 0; i < 100_000; i++) core.tick();
  const t0 = now();
  for (let i = 0; i < N; i++) core.tick();
  const ns = (now() - t0) / N;
  const samples = new Float64Array(200_000);
  for (let i = 0; i < samples.length; i++) {
    const a = now();
    core.tick();
    samples[i] = now() - a;
  }
  const p = percentiles(samples, samples.length);
  emit("raft.tick.idle_follower", ns, "ns/tick", { ticksPerSec: Math.round(1e9 / ns), perCallNs: p, note: "per-call figures include ~hrtime overhead" });
}

// --- tick: leader with k followers ------------------------------------------
function benchLeaderTick(followers: number): void {
  const c = new Cluster(followers + 1);
  const leader = c.leader;
  const rounds = quick ? 20_000 : 200_000;
  const own = new Float64Array(rounds);
  const tickOnly = new Float64Array(rounds);
  const full = new Float64Array(rounds);
  // Warm up (JIT) before measuring.
  for (let r = 0; r < 20_000; r++) {
    leader.tick();
    const hb = c.drain(leader);
    for (let i = 1; i < c.nodes.length; i++) c.nodes[i]!.tick();
    c.deliver(hb);
    c.pump();
  }
  for (let r = 0; r < rounds; r++) {
    const t0 = now();
    leader.tick();
    const t1 = now();
    const hb = c.drain(leader);
    const t2 = now();
    // Followers: their tick and the heartbeat, and their responses (not the leader's cost).
    const resps: Message[] = [];
    for (let i = 1; i < c.nodes.length; i++) c.nodes[i]!.tick();
    c.deliver(hb);
    for (let i = 1; i < c.nodes.length; i++) for (const m of c.drain(c.nodes[i]!)) resps.push(m);
    const t3 = now();
    c.deliver(resps);
    c.drain(leader);
    const t4 = now();
    tickOnly[r] = t1 - t0;
    own[r] = t2 - t0 + (t4 - t3);
    full[r] = t4 - t0;
  }
  if (leader.status().role !== "leader") throw new Error("bench: leader lost leadership");
  const mean = (a: Float64Array): number => a.reduce((s, v) => s + v, 0) / a.length;
  const ownMean = mean(own);
  emit(`raft.tick.leader_${followers}_followers`, ownMean, "ns/tick", {
    what: "leader tick() + its Ready + stepping the heartbeat responses",
    ticksPerSec: Math.round(1e9 / ownMean),
    perCallNs: percentiles(own, rounds),
    tickCallNs: { mean: Number(mean(tickOnly).toFixed(1)), ...percentiles(tickOnly, rounds) },
    fullRoundNs: { mean: Number(mean(full).toFixed(1)), ...percentiles(full, rounds) },
  });
}

// --- throughput --------------------------------------------------------------
function allocMeasure<T>(fn: () => T): { result: T; bytes: number } {
  const prof = new GCProfiler();
  const before = process.memoryUsage().heapUsed;
  prof.start();
  const result = fn();
  const after = process.memoryUsage().heapUsed;
  const data = prof.stop();
  let freed = 0;
  for (const s of data?.statistics ?? []) {
    const b = s.beforeGC.heapStatistics.usedHeapSize;
    const a = s.afterGC.heapStatistics.usedHeapSize;
    freed += b - a;
  }
  return { result, bytes: after - before + freed };
}

function benchThroughput(batch: number, payload: number): void {
  const c = new Cluster(3);
  const leader = c.leader;
  const total = quick ? 20_000 : batch === 1 ? 100_000 : 300_000;
  const datas: Uint8Array[] = [];
  for (let i = 0; i < batch; i++) datas.push(new Uint8Array(payload).fill(i & 0xff));
  // Warm up.
  for (let i = 0; i < 2000 / batch + 10; i++) {
    leader.proposeBatch(datas);
    c.pump();
  }
  const start = leader.status().commit;
  const { result: secs, bytes } = allocMeasure(() => {
    const t0 = now();
    let proposed = 0;
    while (proposed < total) {
      if (!leader.proposeBatch(datas)) throw new Error("bench: proposal dropped");
      proposed += batch;
      c.pump();
      // Snapshot/compaction as an application would, to bound memory.
      if (leader.log.applied - leader.log.baseIndex > 50_000) {
        for (const n of c.nodes) n.snapshotTaken(n.log.applied, new Uint8Array(0));
      }
    }
    return (now() - t0) / 1e9;
  });
  const committed = leader.status().commit - start;
  emit(`raft.throughput.batch_${batch}.payload_${payload}`, committed / secs, "proposals/s", {
    committed,
    seconds: Number(secs.toFixed(3)),
    allocBytesPerProposal: Math.round(bytes / committed),
    note: "3 nodes, synchronous delivery, payload buffers reused by the proposer",
  });
}

// --- tick latency under load -------------------------------------------------
function benchTickUnderLoad(): void {
  const c = new Cluster(3);
  const leader = c.leader;
  // Followers receive everything but their append acks are lost: proposals stay in flight.
  c.dropResponsesOf = (m) => m.type === 4 /* AppResp */;
  const payload = new Uint8Array(128);
  const inflight = 10_000;
  const batch: Uint8Array[] = Array.from({ length: 100 }, () => payload);
  for (let i = 0; i < inflight / 100; i++) {
    leader.proposeBatch(batch);
    c.pump();
  }
  const uncommitted = leader.log.lastIndex() - leader.log.committed;
  const rounds = quick ? 2_000 : 20_000;
  const tickNs = new Float64Array(rounds);
  const roundNs = new Float64Array(rounds);
  for (let r = 0; r < rounds; r++) {
    const t0 = now();
    leader.tick();
    const t1 = now();
    const msgs = c.drain(leader);
    c.deliver(msgs);
    for (let i = 1; i < c.nodes.length; i++) c.nodes[i]!.tick();
    c.pump();
    tickNs[r] = t1 - t0;
    roundNs[r] = now() - t0;
  }
  if (leader.status().role !== "leader") throw new Error("bench: leader stepped down under load");
  const p = percentiles(tickNs, rounds);
  emit("raft.tick.leader_under_load.p99", p.p99, "ns", {
    inflightProposals: uncommitted,
    tickCallNs: p,
    fullRoundNs: percentiles(roundNs, rounds),
  });
}

benchIdleFollower();
benchLeaderTick(2);
benchLeaderTick(4);
for (const payload of [128, 4096]) for (const batch of [1, 16, 256]) benchThroughput(batch, payload);
benchTickUnderLoad();
