// CSR signing throughput: sequential on this thread, and bursts of 50 through
// the CA signer pool. One JSON object per line.
// Usage: node build/scripts/bench-sign.js [--rounds 3] [--burst 50]
import { createPrivateKey } from "node:crypto";
import { availableParallelism, loadavg } from "node:os";
import forge from "node-forge";
import { SignerPool } from "../src/workers/manager/ca/signer-pool.js";
import { nativeRsaSigner } from "../src/shared/pki/native-signer.js";
import { WORKER_ROLE, createKeyAndCsr, createRootCA, signNodeCsr, type SignRequest } from "../src/shared/pki/index.js";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const rounds = arg("rounds", 3);
const burst = arg("burst", 50);

function emit(name: string, value: number, unit: string, details: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ name, value: Math.round(value * 100) / 100, unit, ...details }));
}

const ca = await createRootCA();
const keys = await Promise.all(Array.from({ length: 10 }, () => createKeyAndCsr()));
const request = (i: number): SignRequest => ({
  csrPem: keys[i % keys.length]!.csrPem,
  caCertPem: ca.certPem,
  caKeyPem: ca.keyPem,
  nodeId: `benchnode${String(i).padStart(16, "0")}`,
  role: WORKER_ROLE,
  clusterId: "benchclusteraaaaaaaaaaaaa",
});
const common = { cores: availableParallelism(), loadavg1: Math.round(loadavg()[0]! * 100) / 100 };

// Sequential, on the calling thread (what a naive CA would do).
for (let i = 0; i < 5; i++) signNodeCsr(request(i)); // warm-up
for (let r = 0; r < rounds; r++) {
  const n = 100;
  const t = performance.now();
  for (let i = 0; i < n; i++) signNodeCsr(request(i));
  const ms = performance.now() - t;
  emit("sign.sequential", (n * 1000) / ms, "signings/s", { round: r, n, msPerSigning: Math.round((ms / n) * 1000) / 1000, ...common });
}

const pool = new SignerPool();
let t = performance.now();
await pool.start();
emit("sign.pool.start", performance.now() - t, "ms", { threads: pool.threads, ...common });
await Promise.all(Array.from({ length: 10 }, (_, i) => pool.sign(request(i)))); // warm-up (JIT in each thread)

for (let r = 0; r < rounds; r++) {
  // Measure how late a 1 ms timer fires on this thread while the burst runs:
  // the point of the pool is that this stays small.
  let maxLag = 0;
  let expected = performance.now() + 1;
  const timer = setInterval(() => {
    const now = performance.now();
    maxLag = Math.max(maxLag, now - expected);
    expected = now + 1;
  }, 1);
  t = performance.now();
  await Promise.all(Array.from({ length: burst }, (_, i) => pool.sign(request(i))));
  const ms = performance.now() - t;
  clearInterval(timer);
  emit("sign.pool.burst", (burst * 1000) / ms, "signings/s", {
    round: r,
    burst,
    threads: pool.threads,
    burstMs: Math.round(ms * 10) / 10,
    mainThreadMaxTimerLagMs: Math.round(maxLag * 10) / 10,
    ...common,
  });
}

// Sequential round trips through the pool (latency of one join).
t = performance.now();
for (let i = 0; i < 50; i++) await pool.sign(request(i));
emit("sign.pool.sequential", (50 * 1000) / (performance.now() - t), "signings/s", { n: 50, threads: pool.threads, ...common });
await pool.stop();

// One RSA-2048 signature: forge's pure-JS path versus the native path we use.
const forgeKey = forge.pki.privateKeyFromPem(ca.keyPem);
const nativeKey = nativeRsaSigner(createPrivateKey(ca.keyPem));
for (const [name, key, n] of [["rsa.sign.forgeJs", forgeKey, 10], ["rsa.sign.native", nativeKey, 200]] as const) {
  const digest = (): forge.md.MessageDigest => forge.md.sha256.create().update("tbs bytes");
  key.sign(digest());
  t = performance.now();
  for (let i = 0; i < n; i++) key.sign(digest());
  emit(name, (performance.now() - t) / n, "ms/signature", { n, ...common });
}

// Key generation, for scale (a joining node pays it once).
t = performance.now();
await Promise.all(Array.from({ length: 10 }, () => createKeyAndCsr()));
emit("keygen.rsa2048.parallel10", (performance.now() - t) / 10, "ms/key", { ...common });
