// The host lines the benchmarks print beside their figures: each measures
// something real (a positive, finite figure) and the description is complete.
import { test } from "node:test";
import assert from "node:assert/strict";
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
