import { test } from "node:test";
import assert from "node:assert/strict";
import { BatchedSender } from "../../src/workers/manager/controlapi/forward-batch.js";

/** A sink that completes each write only when the test says so, as a stream does a turn later. */
function slowSink() {
  const messages: number[][] = [];
  const callbacks: Array<() => void> = [];
  return {
    messages,
    write(m: { items: number[] }, cb: () => void): boolean {
      messages.push(m.items);
      callbacks.push(cb);
      return true;
    },
    complete(): void {
      callbacks.shift()!();
    },
    get writing(): number {
      return callbacks.length;
    },
  };
}

/** Lets queued microtasks run (the sender flushes after them). */
const microtasks = () => new Promise<void>((resolve) => setImmediate(resolve));

test("items sent together go out in one message; what queues while a message is written goes out in the next", async () => {
  const sink = slowSink();
  const out = new BatchedSender<number, { items: number[] }>(sink, (items) => ({ items }), () => 1);
  // A commit answering three writes at once: one message, not 1 + 2 a turn later.
  out.send(1);
  out.send(2);
  out.send(3);
  assert.deepEqual(sink.messages, [], "nothing before the current microtasks have run");
  await microtasks();
  assert.deepEqual(sink.messages, [[1, 2, 3]]);
  for (let i = 4; i <= 64; i++) out.send(i);
  await microtasks();
  assert.equal(sink.messages.length, 1, "nothing more while the first message is being written");
  sink.complete();
  assert.deepEqual(sink.messages[1], Array.from({ length: 61 }, (_, i) => i + 4));
  assert.equal(sink.writing, 1, "one message in flight at a time");
  sink.complete();
  out.send(65);
  await microtasks();
  assert.deepEqual(sink.messages[2], [65]);
});

test("whenDrained waits for queued items to be handed over; close drops them", async () => {
  const sink = slowSink();
  const out = new BatchedSender<number, { items: number[] }>(sink, (items) => ({ items }), () => 1);
  let drained = 0;
  out.whenDrained(() => drained++);
  assert.equal(drained, 1, "nothing sent: drained at once");
  out.send(1);
  out.whenDrained(() => drained++);
  await microtasks();
  assert.equal(drained, 1, "[1] is being written");
  out.send(2);
  sink.complete(); // [1] done, [2] goes out
  assert.equal(drained, 1);
  sink.complete(); // [2] done
  assert.equal(drained, 2);
  out.send(3);
  await microtasks();
  out.send(4);
  out.close();
  sink.complete();
  out.send(5);
  await microtasks();
  assert.deepEqual(sink.messages, [[1], [2], [3]], "4 was dropped by close, 5 never sent");
});

test("a batch stops short of its byte budget; an item over the budget goes alone", async () => {
  const sink = slowSink();
  // Each item's size is its value: a budget of 10 takes 4+5, then 6, then 11 alone, then 2+3.
  const out = new BatchedSender<number, { items: number[] }>(sink, (items) => ({ items }), (n) => n, 10);
  for (const n of [4, 5, 6, 11, 2, 3]) out.send(n);
  await microtasks();
  assert.deepEqual(sink.messages, [[4, 5]]);
  sink.complete();
  sink.complete();
  sink.complete();
  sink.complete();
  assert.deepEqual(sink.messages, [[4, 5], [6], [11], [2, 3]]);
});
