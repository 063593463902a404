// The host lines the benchmarks print beside their figures, and the warm-up
// helpers they share. The host lines: each measures
// something real (a positive, finite figure) and the description is complete.
import { test } from "node:test";
import assert from "node:assert/strict";
import { WindowRates, runWarmUp, warmUpUntil } from "../../scripts/lib/bench-util.js";
import { hostDescription, pageFaultMicros, threadRoundTripsMicros } from "../../scripts/lib/host-floors.js";

test("pageFaultMicros times first touches of fresh pages", () => {
  const us = pageFaultMicros(8 << 20);
  assert.ok(Number.isFinite(us) && us > 0, `got ${us}`);
  // Even a slow VM faults a page in well under a millisecond.
  assert.ok(us < 1000, `got ${us} µs per page`);
});

test("threadRoundTripsMicros returns one sorted sample per round trip to a worker", async () => {
  const rt = await threadRoundTripsMicros(50);
  assert.equal(rt.length, 50);
  assert.ok(rt.every((v, i) => v > 0 && (i === 0 || v >= rt[i - 1]!)), "positive and sorted");
});

test("hostDescription names the CPU, cores and kernel", () => {
  const d = hostDescription();
  assert.equal(typeof d["cpu"], "string");
  assert.ok((d["cores"] as number) >= 1);
  assert.equal(typeof d["kernel"], "string");
  assert.equal(typeof d["hypervisor"], "boolean");
  assert.ok(Array.isArray(d["virt_boot_flags"]));
});

test("WindowRates records one rate per full window of calls, none for a partial one", async () => {
  const w = new WindowRates(10);
  for (let i = 0; i < 9; i++) w.add();
  assert.deepEqual(w.rates, []);
  await new Promise((r) => setTimeout(r, 20));
  w.add();
  assert.equal(w.rates.length, 1);
  // 10 calls in at least 20 ms: at most 500 calls/s.
  assert.ok(w.rates[0]! > 0 && w.rates[0]! <= 500, `got ${w.rates[0]}`);
  w.add(2);
  for (let i = 0; i < 8; i++) w.add();
  assert.equal(w.rates.length, 2);
});

test("warmUpUntil goes on until both the time and the count are reached, and stops at the cap", async () => {
  let n = 0;
  const more = warmUpUntil({ minSeconds: 0.05, minCount: 3, maxSeconds: 0.2 }, () => n);
  n = 5;
  assert.equal(more(), true, "the count is reached but not the time");
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(more(), false, "both reached");
  n = 0;
  assert.equal(more(), true, "time reached, count not");
  await new Promise((r) => setTimeout(r, 160));
  assert.equal(more(), false, "past the cap, whatever the count");
});

test("runWarmUp runs its loops until the count is reached, counting what steps return and nothing for a failed one", async () => {
  const loopsSeen = new Set<number>();
  let calls = 0;
  const r = await runWarmUp({ minSeconds: 0, minCount: 40, maxSeconds: 5, concurrency: 4, window: 10 }, async (loop) => {
    loopsSeen.add(loop);
    calls++;
    await new Promise((resolve) => setImmediate(resolve));
    return calls % 3 === 0 ? 0 : 2; // every third step "fails" and counts nothing
  });
  assert.deepEqual([...loopsSeen].sort(), [0, 1, 2, 3], "every loop ran");
  assert.ok(r.count >= 40 && r.count < 40 + 4 * 2, `stopped once 40 were counted (got ${r.count})`);
  assert.ok(calls > r.count / 2, "failed steps added nothing");
  assert.ok(r.rates.length >= 3, `one rate per 10 counted (got ${r.rates.length})`);
  assert.ok(r.seconds >= 0 && r.seconds < 5);
});
