// A burst of 50 joins at once must not stall the manager's event loop (the
// one that ticks raft): signing runs in the piscina pool. We measure how late
// a 10 ms timer fires on this thread during the burst. The clients run on the
// same thread here, so the figure is an upper bound for the server alone.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { IssuanceStatus_State } from "../../src/shared/api/index.js";
import { createKeyAndCsr } from "../../src/shared/pki/index.js";
import { CaHarness, issue, status } from "./harness.js";

const JOINS = 50;
const TICK_MS = 10;
/** Generous: a raft tick here is 100 ms+ and elections take several. */
const MAX_LATENESS_MS = 500;

let h: CaHarness;
before(async () => {
  h = await CaHarness.start();
});
after(async () => {
  await h.stop();
});

test(`${JOINS} concurrent joins: all issued, timer lateness on the server thread stays bounded`, { timeout: 120_000 }, async () => {
  const csrs = await Promise.all(Array.from({ length: JOINS }, () => createKeyAndCsr()));
  const token = h.tokens().worker;
  const clients = Array.from({ length: JOINS }, () => h.nodeCa());
  // Connect first so TLS handshakes are not part of the burst.
  await Promise.all(clients.map((c) => new Promise<void>((r, j) => c.waitForReady(Date.now() + 10_000, (e) => (e ? j(e) : r())))));

  const lateness: number[] = [];
  let expected = performance.now() + TICK_MS;
  const timer = setInterval(() => {
    const now = performance.now();
    lateness.push(Math.max(0, now - expected));
    expected = now + TICK_MS;
  }, TICK_MS);
  const issuedBefore = h.loop.issued;
  const t0 = performance.now();
  try {
    const results = await Promise.all(
      clients.map(async (c, i) => {
        const res = await issue(c, csrs[i]!.csrPem, token);
        return status(c, res.nodeId);
      }),
    );
    const elapsed = performance.now() - t0;
    clearInterval(timer);
    for (const r of results) assert.equal(r.status?.state, IssuanceStatus_State.ISSUED);
    assert.equal(h.loop.issued - issuedBefore, JOINS);
    const sorted = [...lateness].sort((a, b) => a - b);
    const max = sorted[sorted.length - 1] ?? 0;
    const p99 = sorted[Math.floor(sorted.length * 0.99)] ?? 0;
    console.log(
      JSON.stringify({
        name: "ca.burst50.timer_lateness_max",
        value: Math.round(max * 10) / 10,
        unit: "ms",
        p99: Math.round(p99 * 10) / 10,
        samples: lateness.length,
        burst_ms: Math.round(elapsed),
        joins: JOINS,
        proposals: h.proposer.proposals,
      }),
    );
    assert.ok(max < MAX_LATENESS_MS, `max timer lateness ${max.toFixed(1)} ms during the burst`);
  } finally {
    clearInterval(timer);
    for (const c of clients) c.close();
  }
});
