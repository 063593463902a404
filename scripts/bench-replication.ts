// Durable replicated writes through a 3-manager swarmd cluster (separate
// processes on loopback) beside a 3-member etcd 3.4 cluster started on the
// same machine in the same run, with the physical floor: this disk's fsync
// latency and a loopback TCP round trip.
//
// A write on our side is Control.CreateConfig with a VALUE-byte payload
// (committed through raft on a quorum, WAL fsync before acknowledging); on
// etcd's side it is KV.Put of a VALUE-byte value. Both clients do the same
// work per call: the request encoded by hand into one buffer, the response
// not decoded (lib/swarmd-kv.ts, lib/etcd-kv.ts). Each side gets 1, 16 and 64
// concurrent writers, each a loop of calls back to back, all over ONE shared gRPC
// connection (a fresh one per run, the same on both sides), for WARMUP seconds unmeasured then SECONDS measured;
// first through the leader, then (extra line) through a follower, which
// forwards to the leader. The clusters run one after the other, never together.
// Also a non-replicated read's round trip through each API (what the client,
// gRPC and TLS cost before raft adds anything).
// Each cluster is first driven for CLUSTER_WARMUP seconds and CLUSTER_WARMUP_WRITES
// writes, within CLUSTER_WARMUP_MAX seconds (16 writers, not measured): V8 optimises swarmd's hot paths only after a few thousand calls,
// and a long-running daemon is compared at that steady state; etcd gets the same.
// etcd runs twice: as etcd-cluster.sh starts it by default (plaintext between
// members and to clients), and with TLS — mutual between members, server-side
// to clients — which is what swarmd always pays (SwarmKit mandates it). The
// headline ratio stays against plaintext etcd; the TLS lines stand beside it.
// Output: JSON lines on stdout, progress on stderr.
// Then (unless --grpcjs-floor 0) the same writes through a chain of three grpc-js processes that
// replicate and fsync like swarmd and do nothing else: the most a grpc-js raft could do here.
// Usage: node build/scripts/bench-replication.js [--seconds 5] [--warmup 2] [--cluster-warmup 6] [--cluster-warmup-writes 8000] [--cluster-warmup-max 30] [--value 256] [--etcd-tls 1] [--grpcjs-floor 1] [--grpcjs-floor-first 0]
import { spawn, execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { emitFsyncFloor, emitHostFloors } from "./lib/host-floors.js";
import { unary } from "../test/helpers/control.js";
import { argNumber, emit, latencySummary, processCpuMs, round3, runWarmUp } from "./lib/bench-util.js";
import { startSwarmdCluster, type SwarmdCluster } from "./lib/cluster.js";
import { startGrpcjsReplicationFloor } from "./lib/grpcjs-replication-floor.js";
import { ListClustersRequest } from "../src/shared/api/index.js";
import { EtcdKv } from "./lib/etcd-kv.js";
import { SwarmdKv } from "./lib/swarmd-kv.js";

const SECONDS = argNumber("seconds", 5);
// Two seconds let both servers reach steady state (ours is JIT-compiled as it runs).
const WARMUP = argNumber("warmup", 2);
const CLUSTER_WARMUP = argNumber("cluster-warmup", 6);
// V8 optimises by calls made, not by time: on a slow host 6 s gave a fresh cluster under 3,000 writes,
// while its rate rose for the first ~6,000 (docs/benchmarks.md, session 10).
const CLUSTER_WARMUP_WRITES = argNumber("cluster-warmup-writes", 8000);
const CLUSTER_WARMUP_MAX = argNumber("cluster-warmup-max", 30);
const ETCD_TLS = argNumber("etcd-tls", 1) !== 0;
const GRPCJS_FLOOR = argNumber("grpcjs-floor", 1) !== 0;
// The floor runs after swarmd by default; 1 runs it first, to check that the order does not favour etcd.
const GRPCJS_FLOOR_FIRST = argNumber("grpcjs-floor-first", 0) !== 0;
const VALUE_BYTES = argNumber("value", 256);
const CONCURRENCY = [1, 16, 64];
const ETCD_SCRIPT = fileURLToPath(new URL("../../scripts/etcd-cluster.sh", import.meta.url));
const run = promisify(execFile);

/** Set by SIGINT/SIGTERM: the clusters are going away, so the runs still in flight report nothing. */
let aborting = false;
const progress = (msg: string): void => {
  if (!aborting) process.stderr.write(`bench-replication: ${msg}\n`);
};

// ---- clean-up, also on SIGINT/SIGTERM ------------------------------------------------------

const cleanups: (() => Promise<void>)[] = [];
async function cleanupAll(): Promise<void> {
  while (cleanups.length > 0) {
    await cleanups.pop()!().catch((err: unknown) => process.stderr.write(`bench-replication: clean-up failed: ${String(err)}\n`));
  }
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    progress(`${sig}: cleaning up`);
    aborting = true;
    void cleanupAll().finally(() => process.exit(130));
  });
}

// ---- the writer loops ----------------------------------------------------------------------

interface RunResult {
  writes: number;
  errors: number;
  firstError?: string;
  secs: number;
  lat: number[];
  cpu?: CpuPerWrite;
}

// ---- CPU per write ---------------------------------------------------------------------------
// Both clusters share the machine's two cores with the client, so what each process spends per
// write decides throughput once they are busy: every run line carries it.

/** The member processes of the cluster under load, the leader apart. */
interface CpuSubjects {
  leader: number;
  followers: number[];
}

/** µs of CPU (user + system, all threads) per measured write. */
interface CpuPerWrite {
  client: number;
  leader: number;
  followers: number[];
}

function cpuSample(subjects: CpuSubjects): { client: number; members: (number | undefined)[] } {
  const own = process.cpuUsage();
  return { client: (own.user + own.system) / 1000, members: [subjects.leader, ...subjects.followers].map(processCpuMs) };
}

function cpuPerWrite(a: ReturnType<typeof cpuSample>, b: ReturnType<typeof cpuSample>, writes: number): CpuPerWrite | undefined {
  if (writes === 0) return undefined;
  const us = (ms: number): number => Math.round((ms * 1000) / writes);
  const members: number[] = [];
  for (let i = 0; i < a.members.length; i++) {
    const before = a.members[i];
    const after = b.members[i];
    if (before === undefined || after === undefined) return undefined;
    members.push(us(after - before));
  }
  return { client: us(b.client - a.client), leader: members[0]!, followers: members.slice(1) };
}

/**
 * `writers` loops calling `write` back to back. Calls that start during the warm-up are not
 * counted; the measured window runs from its start until the last call started in it returns.
 */
async function drive(
  writers: number,
  write: (writer: number, seq: number) => Promise<void>,
  warmupS = WARMUP,
  seconds = SECONDS,
  cpuOf?: CpuSubjects,
): Promise<RunResult> {
  const lat: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let measuring = false;
  let stop = false;
  let t0 = 0;
  const loops = Array.from({ length: writers }, async (_, w) => {
    for (let seq = 0; !stop; seq++) {
      const counted = measuring;
      const s = performance.now();
      try {
        await write(w, seq);
        if (counted) lat.push(performance.now() - s);
      } catch (err) {
        if (counted) errors++;
        firstError ??= String(err);
        // A refusing server answers instantly; don't spin on it.
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  });
  await new Promise((r) => setTimeout(r, warmupS * 1000));
  measuring = true;
  t0 = performance.now();
  const cpu0 = cpuOf && cpuSample(cpuOf);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  stop = true;
  const cpu = cpuOf && cpu0 && cpuPerWrite(cpu0, cpuSample(cpuOf), lat.length);
  await Promise.all(loops);
  return { writes: lat.length, errors, firstError, secs: (performance.now() - t0) / 1000, lat, cpu };
}

/**
 * Unmeasured load on a fresh cluster until its JIT-compiled paths are at steady state (see the
 * header): 16 writers for at least CLUSTER_WARMUP seconds and CLUSTER_WARMUP_WRITES writes, within
 * CLUSTER_WARMUP_MAX seconds. Its rate curve is printed, so every run shows whether it got there.
 */
async function warmUpCluster(name: string, write: (writer: number, seq: number) => Promise<void>): Promise<void> {
  if (CLUSTER_WARMUP <= 0 && CLUSTER_WARMUP_WRITES <= 0) return;
  const seqs = new Array<number>(16).fill(0);
  let firstError: string | undefined;
  const r = await runWarmUp(
    { minSeconds: CLUSTER_WARMUP, minCount: CLUSTER_WARMUP_WRITES, maxSeconds: CLUSTER_WARMUP_MAX, concurrency: 16, window: 2000 },
    async (w) => {
      try {
        await write(w, seqs[w]!++);
        return 1;
      } catch (err) {
        firstError ??= String(err);
        await new Promise((resolve) => setTimeout(resolve, 10)); // a refusing server answers at once
        return 0;
      }
    },
  );
  progress(`${name}: warmed up with ${r.count} writes in ${r.seconds} s at 16 writers${firstError ? ` (an error meanwhile: ${firstError})` : ""}`);
  emit(`replication_warmup_${name}`, r.count, "writes", { writers: 16, seconds: r.seconds, writes_per_s_per_2000_writes: r.rates });
}

interface Measured {
  writesPerSec: number;
  p50: number;
  p99: number;
}

function report(name: string, system: string, via: string, writers: number, r: RunResult, extra: Record<string, unknown> = {}): Measured | undefined {
  if (aborting) return undefined;
  if (r.writes === 0) {
    progress(`${name}: no write succeeded (${r.errors} errors; first: ${r.firstError ?? "none"})`);
    return undefined;
  }
  const latency = latencySummary(r.lat);
  const writesPerSec = r.writes / r.secs;
  emit(name, writesPerSec, "writes/s", {
    system,
    via,
    writers,
    value_bytes: VALUE_BYTES,
    commit_latency_ms: latency,
    writes: r.writes,
    errors: r.errors,
    ...(r.errors > 0 ? { first_error: r.firstError } : {}),
    seconds: round3(r.secs),
    connection: "one shared gRPC connection",
    ...(r.cpu ? { cpu_us_per_write: r.cpu, cores_busy: round3((writesPerSec * (r.cpu.client + r.cpu.leader + r.cpu.followers.reduce((a, b) => a + b, 0))) / 1e6) } : {}),
    ...extra,
  });
  return { writesPerSec, p50: latency.p50, p99: latency.p99 };
}

/** p50/p99 of `n` sequential calls of `call` after a short warm-up: the API's own round trip. */
async function sequentialRtt(call: () => Promise<unknown>, n = 2000): Promise<{ p50: number; p99: number; max: number }> {
  // 1,000 calls first: a JIT-compiled server (ours) is not at steady state after a hundred.
  for (let i = 0; i < 1000; i++) await call();
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await call();
    lat.push(performance.now() - s);
  }
  return latencySummary(lat);
}

/**
 * CPU per bare read with 64 in flight on the leader (`api_read_cpu_<system>`): what a gRPC call
 * through the API costs the server and the client before raft adds anything.
 */
async function readCpu(system: string, call: () => Promise<void>, cpuOf: CpuSubjects | undefined, extra: Record<string, unknown>): Promise<void> {
  const r = await drive(64, () => call(), 1, 3, cpuOf);
  if (aborting || !r.cpu || r.writes === 0) return;
  emit(`api_read_cpu_${system}`, r.cpu.leader, "us/call", {
    client_us_per_call: r.cpu.client,
    calls_per_s: Math.round(r.writes / r.secs),
    in_flight: 64,
    ...(r.errors > 0 ? { errors: r.errors, first_error: r.firstError } : {}),
    ...extra,
  });
}

// ---- floors --------------------------------------------------------------------------------

/** p50/p99 of a 64-byte ping-pong with an echo server in another process over 127.0.0.1. */
async function loopbackRoundTrip(samples = 3000): Promise<{ p50: number; p99: number; max: number }> {
  const echo = spawn(
    process.execPath,
    ["-e", `const s=require("net").createServer((c)=>{c.setNoDelay(true);c.pipe(c)});s.listen(0,"127.0.0.1",()=>console.log(s.address().port))`],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  try {
    const port = await new Promise<number>((resolve, reject) => {
      echo.stdout!.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
      echo.once("exit", (code) => reject(new Error(`echo server exited (${code})`)));
    });
    const sock = connect(port, "127.0.0.1");
    sock.setNoDelay(true);
    await new Promise<void>((resolve, reject) => sock.once("connect", resolve).once("error", reject));
    const msg = Buffer.alloc(64, 0x61);
    const lat: number[] = [];
    let pending = 0;
    let t = 0;
    let done: () => void = () => undefined;
    sock.on("data", (d: Buffer) => {
      pending -= d.length;
      if (pending <= 0) done();
    });
    for (let i = 0; i < samples + 200; i++) {
      await new Promise<void>((resolve) => {
        done = resolve;
        pending = msg.length;
        t = performance.now();
        sock.write(msg);
      });
      if (i >= 200) lat.push(performance.now() - t);
    }
    sock.destroy();
    return latencySummary(lat);
  } finally {
    echo.kill("SIGKILL");
  }
}

// ---- our cluster ---------------------------------------------------------------------------

async function benchSwarmd(value: Buffer): Promise<{ leader: Map<number, Measured>; follower: Map<number, Measured>; forwarding?: string }> {
  progress("starting a 3-manager swarmd cluster");
  const t0 = performance.now();
  // 100 ms ticks with a 1-tick heartbeat and a 10-tick election timeout: etcd's defaults (100 ms / 1000 ms).
  const cluster: SwarmdCluster = await startSwarmdCluster({ managers: 3, tickInterval: "100ms", extraArgs: ["--election-tick", "10"] });
  cleanups.push(() => cluster.stop());
  progress(`cluster formed in ${Math.round(performance.now() - t0)} ms`);
  const out = { leader: new Map<number, Measured>(), follower: new Map<number, Measured>(), forwarding: undefined as string | undefined };

  {
    const kv = new SwarmdKv((await cluster.leader()).socket);
    try {
      await warmUpCluster("swarmd", (w, seq) => kv.put(`warm-${w}-${seq}`, value));
    } finally {
      kv.close();
    }
  }
  {
    const client = cluster.connect(await cluster.leader());
    try {
      // A name that matches nothing, like etcd's Range of a missing key: the API's cost, not a big reply's decoding.
      const rtt = await sequentialRtt(() => unary(client, "listClusters", ListClustersRequest.fromPartial({ filters: { names: ["bench-none"] } })));
      emit("api_read_rtt_swarmd_p50", rtt.p50, "ms", { p99: rtt.p99, call: "Control.ListClusters matching no name, on the leader (no raft)", transport: "TLS over the control unix socket" });
    } finally {
      client.close();
    }
  }
  {
    const leader = await cluster.leader();
    const kv = new SwarmdKv(leader.socket);
    try {
      const cpuOf = { leader: leader.proc.child.pid!, followers: [] };
      await readCpu("swarmd", () => kv.listClustersByName("bench-none"), cpuOf, { call: "Control.ListClusters matching no name, on the leader (no raft)" });
    } finally {
      kv.close();
    }
  }

  for (const via of ["leader", "follower"] as const) {
    const into = via === "leader" ? out.leader : out.follower;
    for (const writers of CONCURRENCY) {
      // Resolved before every run: a leader lost under load must not turn "via leader" into a forwarded path.
      const leader = await cluster.leader();
      const member = via === "leader" ? leader : cluster.members.find((m) => m !== leader)!;
      const kv = new SwarmdKv(member.socket);
      try {
        if (via === "follower" && writers === CONCURRENCY[0]) {
          // Check forwarding once; without it every call would just fail fast.
          try {
            await kv.put(`probe-${via}`, value);
          } catch (err) {
            out.forwarding = String(err);
            progress(`writes through a follower fail, skipping the follower lines: ${out.forwarding}`);
            break;
          }
        }
        progress(`swarmd via ${via}, ${writers} writers`);
        const cpuOf = { leader: leader.proc.child.pid!, followers: cluster.members.filter((m) => m !== leader).map((m) => m.proc.child.pid!) };
        const r = await drive(writers, (w, seq) => kv.put(`b-${via}-${writers}-${w}-${seq}`, value), WARMUP, SECONDS, cpuOf);
        const after = await cluster.leader().catch(() => undefined);
        const m = report(`replication_swarmd_${via}_${writers}_writers`, "swarmd", via, writers, r, {
          write: "Control.CreateConfig",
          transport: "TLS over the control unix socket",
          ...(after !== leader ? { leader_changed_during_run: true } : {}),
        });
        if (m) into.set(writers, m);
      } finally {
        kv.close();
      }
    }
  }
  await cleanups.pop()!();
  return out;
}

// ---- the grpc-js floor ---------------------------------------------------------------------

/**
 * The same writes through a chain of three grpc-js processes that replicate and fsync like a
 * swarmd cluster and do nothing else (lib/grpcjs-replication-floor-node.ts), warmed up and driven
 * like swarmd: what the gRPC library every swarmd member is built on costs on this host.
 */
async function benchGrpcjsFloor(value: Buffer): Promise<Map<number, Measured>> {
  progress("starting the grpc-js replication floor (3 processes)");
  const floor = await startGrpcjsReplicationFloor();
  cleanups.push(() => floor.stop());
  const out = new Map<number, Measured>();
  const kv = new SwarmdKv(floor.socket);
  try {
    await warmUpCluster("grpcjs_floor", (w, seq) => kv.put(`warm-${w}-${seq}`, value));
    for (const writers of CONCURRENCY) {
      progress(`grpc-js floor, ${writers} writers`);
      const r = await drive(writers, (w, seq) => kv.put(`b-${writers}-${w}-${seq}`, value), WARMUP, SECONDS, floor.pids);
      const failed = floor.failure();
      const m = report(`floor_grpcjs_replication_${writers}_writers`, "grpcjs_floor", "leader", writers, r, {
        ...(failed ? { member_failed: failed } : {}),
        write: "Control.CreateConfig, answered without raft, store or codecs",
        transport: "TLS over a unix socket; members: mutual TLS streams over TCP, as swarmd",
        chain: "leader sends each loop turn's requests to both followers in one message and fdatasyncs its copy; each follower writes, fdatasyncs and acks; the leader answers once two of the three have it on disk",
      });
      if (m) out.set(writers, m);
    }
  } finally {
    kv.close();
  }
  await cleanups.pop()!();
  return out;
}

// ---- etcd ----------------------------------------------------------------------------------

/** A base port with base..base+2 and base+10..base+12 free (etcd-cluster.sh's layout). */
async function freeEtcdBase(): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 20000);
    const ports = [0, 1, 2, 10, 11, 12].map((d) => base + d);
    if ((await Promise.all(ports.map(free))).every(Boolean)) return base;
  }
  throw new Error("no free port range for etcd");
}

/** The etcd processes of a cluster started by etcd-cluster.sh (its <name>.pid files, in the order of its URLs). */
async function etcdPids(dir: string, urls: string[], leaderUrl: string): Promise<CpuSubjects | undefined> {
  const pids = await Promise.all(["e1", "e2", "e3"].map(async (name) => Number((await readFile(join(dir, `${name}.pid`), "utf8")).trim())));
  const leaderAt = urls.indexOf(leaderUrl);
  if (leaderAt < 0 || pids.length !== urls.length) return undefined;
  return { leader: pids[leaderAt]!, followers: pids.filter((_, i) => i !== leaderAt) };
}

async function benchEtcd(value: Buffer, tls: boolean): Promise<{ leader: Map<number, Measured>; follower: Map<number, Measured>; version: string }> {
  const system = tls ? "etcd_tls" : "etcd";
  const transport = tls ? "TLS gRPC over TCP loopback (members: mutual TLS)" : "plaintext gRPC over TCP loopback";
  const { stdout: versionOut } = await run(ETCD_SCRIPT, ["install"]);
  const version = versionOut.trim().replace(/^etcd Version:\s*/, "");
  const base = await mkdtemp(join(tmpdir(), "bench-etcd-"));
  const dir = join(base, "cluster");
  cleanups.push(async () => {
    await run(ETCD_SCRIPT, ["stop", dir]);
    await rm(base, { recursive: true, force: true });
  });
  progress(`starting a 3-member etcd ${version} cluster${tls ? " with TLS" : ""}`);
  const { stdout } = await run(ETCD_SCRIPT, ["start", dir, String(await freeEtcdBase()), tls ? "tls" : "plain"]);
  const urls = stdout.trim().split("\n");
  const ca = tls ? await readFile(join(dir, "pki", "ca.crt")) : undefined;
  const leaderUrl = async (): Promise<string> => (await run(ETCD_SCRIPT, ["leader", dir])).stdout.trim();
  const out = { leader: new Map<number, Measured>(), follower: new Map<number, Measured>(), version };
  {
    const url = await leaderUrl();
    const kv = new EtcdKv(url, ca);
    try {
      await warmUpCluster(system, (w, seq) => kv.put(Buffer.from(`warm/${w}/${seq}`), value));
      const rtt = await sequentialRtt(() => kv.serializableGet(Buffer.from("bench/none")));
      emit(`api_read_rtt_${system}_p50`, rtt.p50, "ms", { p99: rtt.p99, call: "KV.Range serializable on the leader (no raft)", transport });
      const cpuOf = await etcdPids(dir, urls, url);
      await readCpu(system, () => kv.serializableGet(Buffer.from("bench/none")), cpuOf && { leader: cpuOf.leader, followers: [] }, { call: "KV.Range serializable on the leader (no raft)", transport });
    } finally {
      kv.close();
    }
  }
  for (const via of ["leader", "follower"] as const) {
    const into = via === "leader" ? out.leader : out.follower;
    for (const writers of CONCURRENCY) {
      const leader = await leaderUrl();
      const kv = new EtcdKv(via === "leader" ? leader : urls.find((u) => u !== leader)!, ca);
      try {
        progress(`${system} via ${via}, ${writers} writers`);
        const cpuOf = await etcdPids(dir, urls, leader);
        const r = await drive(writers, (w, seq) => kv.put(Buffer.from(`bench/${via}/${writers}/${w}/${seq}`), value), WARMUP, SECONDS, cpuOf);
        const after = await leaderUrl().catch(() => undefined);
        const m = report(`replication_${system}_${via}_${writers}_writers`, system, via, writers, r, {
          write: "etcdserverpb.KV/Put",
          transport,
          etcd_version: version,
          ...(after !== leader ? { leader_changed_during_run: true } : {}),
        });
        if (m) into.set(writers, m);
      } finally {
        kv.close();
      }
    }
  }
  await cleanups.pop()!();
  return out;
}

// ---- ratios ---------------------------------------------------------------------------------

type Side = { leader: Map<number, Measured>; forwarding?: string };

/** Per-concurrency ratio lines and their geometric mean, ours ÷ one etcd configuration. */
function emitRatios(suffix: string, ours: Side, etcd: Side & { version: string }, what: string, floor?: Map<number, Measured>): void {
  const ratios: Record<string, number> = {};
  for (const writers of CONCURRENCY) {
    const a = ours.leader.get(writers);
    const b = etcd.leader.get(writers);
    if (!a || !b) continue;
    const ratio = a.writesPerSec / b.writesPerSec;
    ratios[String(writers)] = round3(ratio);
    emit(`replication_ratio${suffix}_${writers}_writers`, ratio, "x", {
      meaning: `swarmd writes/s ÷ ${what} writes/s through the leader (>1 = faster than etcd)`,
      writers,
      swarmd_writes_per_s: Math.round(a.writesPerSec),
      etcd_writes_per_s: Math.round(b.writesPerSec),
      p50_latency_ratio: round3(a.p50 / b.p50),
      p99_latency_ratio: round3(a.p99 / b.p99),
      etcd_version: etcd.version,
      ...floorDetail(floor?.get(writers), a, b),
    });
  }
  const values = Object.values(ratios);
  if (values.length === 0) return;
  const geomean = Math.exp(values.reduce((sum, r) => sum + Math.log(r), 0) / values.length);
  const beats = Object.entries(ratios).filter(([, r]) => r > 1).map(([w]) => Number(w));
  emit(`replication_vs_etcd${suffix}`, geomean, "x", {
    meaning: `geometric mean over 1/16/64 writers of swarmd ÷ ${what} writes/s through the leader`,
    ratios_by_writers: ratios,
    beats_etcd_at_writers: beats,
    follower_forwarding: ours.forwarding ? `not measured: ${ours.forwarding}` : "measured",
    note:
      beats.length === values.length
        ? `swarmd beats ${what} ${etcd.version} at every concurrency`
        : `swarmd beats ${what} ${etcd.version} at ${beats.length} of ${values.length} concurrencies`,
  });
}

/** Where the grpc-js floor stands: how much of it swarmd reaches, and whether etcd is above it. */
function floorDetail(floor: Measured | undefined, ours: Measured, etcd: Measured): Record<string, unknown> {
  if (!floor) return {};
  return {
    grpcjs_floor_writes_per_s: Math.round(floor.writesPerSec),
    swarmd_share_of_grpcjs_floor: round3(ours.writesPerSec / floor.writesPerSec),
    etcd_over_grpcjs_floor: round3(etcd.writesPerSec / floor.writesPerSec),
  };
}

// ---- main ----------------------------------------------------------------------------------

try {
  const value = Buffer.alloc(VALUE_BYTES, 0x5a);

  await emitFsyncFloor();
  const rtt = await loopbackRoundTrip();
  emit("floor_loopback_rtt_p50", rtt.p50, "ms", { p99: rtt.p99, bytes: 64, between: "two node processes, 127.0.0.1 TCP, no delay" });
  await emitHostFloors();

  const floorFirst = GRPCJS_FLOOR && GRPCJS_FLOOR_FIRST ? await benchGrpcjsFloor(value) : undefined;
  const ours = await benchSwarmd(value);
  const floor = floorFirst ?? (GRPCJS_FLOOR ? await benchGrpcjsFloor(value) : undefined);
  const etcd = await benchEtcd(value, false);
  const etcdTls = ETCD_TLS ? await benchEtcd(value, true) : undefined;
  emitRatios("", ours, etcd, "etcd", floor);
  if (etcdTls) emitRatios("_tls", ours, etcdTls, "etcd with TLS (as swarmd)", floor);
} catch (err) {
  progress(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanupAll();
}
