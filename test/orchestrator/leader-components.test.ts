import { test } from "node:test";
import assert from "node:assert/strict";
import { LeaderComponents, type LeaderComponent } from "../../src/workers/manager/leader-components.js";
import { getLogger } from "../../src/shared/logging.js";

const log = getLogger("test/leader-components");

/** A component that fails its first `failures` starts and records what happened to it. */
function component(name: string, events: string[], failures = 0): LeaderComponent {
  let left = failures;
  return {
    name,
    start() {
      if (left > 0) {
        left--;
        events.push(`${name}:start-failed`);
        throw new Error(`${name} cannot start`);
      }
      events.push(`${name}:start`);
    },
    stop() {
      events.push(`${name}:stop`);
    },
  };
}

const until = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
};

test("components start in order, stop in reverse, and one added while leading starts at once", async () => {
  const events: string[] = [];
  const lc = new LeaderComponents({ log });
  lc.add(component("a", events));
  lc.add(component("b", events));
  await lc.startAll();
  lc.add(component("c", events));
  await until(() => events.includes("c:start"));
  await lc.stopAll();
  assert.deepEqual(events, ["a:start", "b:start", "c:start", "c:stop", "b:stop", "a:stop"]);
});

test("a component whose start fails is retried with backoff until it starts; the others are not held up", async () => {
  const events: string[] = [];
  const lc = new LeaderComponents({ log, retryMs: 10, maxRetryMs: 40 });
  lc.add(component("ca", events, 3));
  lc.add(component("scheduler", events));
  await lc.startAll();
  assert.deepEqual(events, ["ca:start-failed", "scheduler:start"]);
  assert.deepEqual(lc.failed, ["ca"]);
  await until(() => events.includes("ca:start"));
  assert.deepEqual(events.filter((e) => e.startsWith("ca:")), ["ca:start-failed", "ca:start-failed", "ca:start-failed", "ca:start"]);
  assert.deepEqual(lc.failed, []);
  await lc.stopAll();
});

test("losing leadership cancels pending retries", async () => {
  const events: string[] = [];
  const lc = new LeaderComponents({ log, retryMs: 30 });
  lc.add(component("ca", events, 100));
  await lc.startAll();
  await lc.stopAll();
  const seen = events.length;
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(events.length, seen, `no start after stopAll: ${events.join(" ")}`);
  assert.deepEqual(lc.failed, []);
});
