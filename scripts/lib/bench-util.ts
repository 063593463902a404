// Shared bits of the benchmark scripts: one JSON object per line, percentiles.
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
