// Go-compatible renderings used by swarmctl's output: go-humanize's relative
// times and IEC byte sizes, and Go's time.Duration String().

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const MONTH = 30 * DAY;
const YEAR = 12 * MONTH;
const LONG_TIME = 37 * YEAR;

// go-humanize's default magnitudes: [upper bound, format, divisor].
const MAGNITUDES: readonly [number, string, number][] = [
  [SECOND, "now", SECOND],
  [2 * SECOND, "1 second %s", 1],
  [MINUTE, "%d seconds %s", SECOND],
  [2 * MINUTE, "1 minute %s", 1],
  [HOUR, "%d minutes %s", MINUTE],
  [2 * HOUR, "1 hour %s", 1],
  [DAY, "%d hours %s", HOUR],
  [2 * DAY, "1 day %s", 1],
  [WEEK, "%d days %s", DAY],
  [2 * WEEK, "1 week %s", 1],
  [MONTH, "%d weeks %s", WEEK],
  [2 * MONTH, "1 month %s", 1],
  [YEAR, "%d months %s", MONTH],
  [18 * MONTH, "1 year %s", 1],
  [2 * YEAR, "2 years %s", 1],
  [LONG_TIME, "%d years %s", YEAR],
  [Number.POSITIVE_INFINITY, "a long while %s", 1],
];

/** humanize.Time: "now", "2 seconds ago", "1 minute ago", "3 days from now". */
export function timeAgo(then: Date, now: Date = new Date()): string {
  let diff = now.getTime() - then.getTime();
  let label = "ago";
  if (diff < 0) {
    diff = -diff;
    label = "from now";
  }
  const mag = MAGNITUDES.find(([bound]) => bound > diff) ?? MAGNITUDES[MAGNITUDES.length - 1]!;
  const [, fmt, div] = mag;
  return fmt.replace("%d", String(Math.floor(diff / div))).replace("%s", label);
}

const IEC = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/** humanize.IBytes: "24 GiB", "512 MiB", "1.5 GiB", "9 B". */
export function iBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const e = Math.floor(Math.log(n) / Math.log(1024));
  const val = Math.floor((n / 1024 ** e) * 10 + 0.5) / 10;
  return `${val < 10 ? val.toFixed(1) : val.toFixed(0)} ${IEC[e]}`;
}

/** Go's time.Duration.String() for a span in nanoseconds: "2160h0m0s", "5s", "1.5s", "200ms", "0s". */
export function goDuration(nanos: number): string {
  if (nanos === 0) return "0s";
  const neg = nanos < 0;
  let u = Math.abs(Math.round(nanos));
  let out: string;
  if (u < 1e9) {
    // Sub-second spans use the largest unit that keeps a whole part.
    const [unit, scale] = u < 1e3 ? ["ns", 1] : u < 1e6 ? ["µs", 1e3] : ["ms", 1e6];
    out = `${trimFraction(u / scale)}${unit}`;
  } else {
    const h = Math.floor(u / 3600e9);
    u -= h * 3600e9;
    const m = Math.floor(u / 60e9);
    u -= m * 60e9;
    const s = trimFraction(u / 1e9);
    out = h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
  }
  return neg ? `-${out}` : out;
}

function trimFraction(v: number): string {
  // Go prints up to 9 fractional digits with trailing zeros removed.
  return v.toFixed(9).replace(/\.?0+$/, "");
}

/** RFC 3339 with nanoseconds as Go prints it (our Dates carry milliseconds). */
export function rfc3339(d: Date): string {
  const iso = d.toISOString(); // 2026-11-26T07:51:23.943Z
  return iso.replace(/\.(\d+)Z$/, (_m, frac: string) => {
    const f = frac.replace(/0+$/, "");
    return f === "" ? "Z" : `.${f}Z`;
  });
}
