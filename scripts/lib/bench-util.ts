// Shared bits of the benchmark scripts: one JSON object per line, percentiles.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
export function emit(name: string, value: number, unit: string, details: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ name, value: Math.round(value * 100) / 100, unit, ...details }));
}

/** The p-th percentile (0–100) of `sorted` (ascending). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** Latency summary in milliseconds of samples taken in milliseconds. */
export function latencySummary(samplesMs: number[]): { p50: number; p99: number; max: number } {
  const s = [...samplesMs].sort((a, b) => a - b);
  return { p50: round3(percentile(s, 50)), p99: round3(percentile(s, 99)), max: round3(s[s.length - 1] ?? 0) };
}

export function argNumber(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

/** `--name value`, one of `choices`; anything else stops the benchmark with a clear error. */
export function argString<T extends string>(name: string, dflt: T, choices: readonly T[]): T {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = process.argv[i + 1];
  if (!choices.includes(v as T)) {
    process.stderr.write(`--${name} must be one of ${choices.join(", ")} (got ${v ?? "nothing"})\n`);
    process.exit(2);
  }
  return v as T;
}

/**
 * Calls/s over consecutive windows of `size` completed calls: the curve by
 * which a warm-up shows whether the JIT reached steady state (flat at the end).
 */
export class WindowRates {
  private done = 0;
  private windowStart = performance.now();
  readonly rates: number[] = [];

  constructor(readonly size: number) {}

  /** Counts `n` completed calls. */
  add(n = 1): void {
    this.done += n;
    if (this.done < this.size) return;
    const now = performance.now();
    this.rates.push(Math.round(this.done / ((now - this.windowStart) / 1000)));
    this.done = 0;
    this.windowStart = now;
  }
}

/**
 * Whether a warm-up should go on: for at least `minSeconds` and at least `minCount` (as `count()`
 * reports), never past `maxSeconds` (raised to `minSeconds` if lower). V8 optimises by calls made,
 * not by time, so a time-only warm-up ends too early on a slow host.
 */
export function warmUpUntil(opts: { minSeconds: number; minCount: number; maxSeconds: number }, count: () => number): () => boolean {
  const start = performance.now();
  const minUntil = start + opts.minSeconds * 1000;
  const maxUntil = start + Math.max(opts.minSeconds, opts.maxSeconds) * 1000;
  return () => {
    const now = performance.now();
    return now < maxUntil && (now < minUntil || count() < opts.minCount);
  };
}

export interface WarmUpResult {
  /** What the steps counted (calls, writes). */
  count: number;
  seconds: number;
  /** Per window of `window` counted units: the curve that shows whether the JIT got to steady state. */
  rates: number[];
}

/**
 * Runs `step` in `concurrency` loops for as long as warmUpUntil says (at least `minSeconds` and
 * `minCount` counted units, at most `maxSeconds`). A step resolves to how many units it completed;
 * one that fails handles its error and resolves to 0.
 */
export async function runWarmUp(
  opts: { minSeconds: number; minCount: number; maxSeconds: number; concurrency: number; window: number },
  step: (loop: number) => Promise<number>,
): Promise<WarmUpResult> {
  const start = performance.now();
  const curve = new WindowRates(opts.window);
  let count = 0;
  const more = warmUpUntil(opts, () => count);
  await Promise.all(
    Array.from({ length: opts.concurrency }, async (_, loop) => {
      while (more()) {
        const n = await step(loop);
        count += n;
        if (n > 0) curve.add(n);
      }
    }),
  );
  return { count, seconds: Math.round((performance.now() - start) / 100) / 10, rates: curve.rates };
}

// Read when first needed: most benchmarks and tests that import this never ask.
let clockTicks: number | undefined;
function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** CPU time (ms) process `pid` has used so far, from /proc/<pid>/stat; undefined where that is unreadable. */
export function processCpuMs(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / clockTicksPerSecond();
}
