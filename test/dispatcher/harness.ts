// A Dispatcher on a MemoryStore + InMemoryProposer, driven by a fake clock:
// timers fire only when a test advances time, so heartbeat expiry and
// batching are exact and instant.
import { Cluster, Node, NodeDescription, NodeStatus_State, Task, TaskState, type Peer, type SessionMessage } from "../../src/shared/api/index.js";
import type { Clock, Timer } from "../../src/workers/manager/dispatcher/clock.js";
import { Dispatcher } from "../../src/workers/manager/dispatcher/dispatcher.js";
import type { StreamSink } from "../../src/workers/manager/dispatcher/streams.js";
import { InMemoryProposer, MemoryStore, update, type Tx } from "../../src/workers/manager/store/index.js";

export const T0 = Date.parse("2026-01-02T03:04:05.000Z");
export const MANAGER_ID = "manager0000000000000000001";
export const ROOT_CA_PEM = "-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n";

/** Let promise chains and setImmediate callbacks run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

export class FakeClock implements Clock {
  t = T0;
  private seq = 0;
  private timers: Array<{ at: number; seq: number; fn: () => void; live: boolean }> = [];

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, live: true };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.live = false;
      },
    };
  }

  get pendingTimers(): number {
    return this.timers.filter((t) => t.live).length;
  }

  /** Move time forward, firing due timers in order and letting their async work settle. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => t.live);
      const next = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.t = next.at;
      next.live = false;
      next.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

/** A sink that records what it receives; close() plays the client going away. */
export class Collector<T> implements StreamSink<T> {
  readonly messages: T[] = [];
  private closeFn!: () => void;
  readonly closed = new Promise<void>((r) => (this.closeFn = r));
  send(m: T): void {
    this.messages.push(m);
  }
  close(): void {
    this.closeFn();
  }
  get last(): T | undefined {
    return this.messages[this.messages.length - 1];
  }
}

/** Where a stream's promise stands, without waiting for it. */
export function track(p: Promise<void>): { state: "open" | "ended" | "failed"; error?: Error } {
  const s: { state: "open" | "ended" | "failed"; error?: Error } = { state: "open" };
  p.then(
    () => {
      s.state = "ended";
    },
    (e: Error) => {
      s.state = "failed";
      s.error = e;
    },
  );
  return s;
}

export function nodeObj(id: string, hostname = id, state = NodeStatus_State.UNKNOWN): Node {
  return Node.fromPartial({ id, spec: { annotations: { name: "" } }, description: { hostname }, status: { state } });
}

export function taskObj(id: string, nodeId: string, state: TaskState, extra: Partial<Task> = {}): Task {
  return Task.fromPartial({
    id,
    serviceId: "svc1",
    nodeId,
    desiredState: TaskState.RUNNING,
    status: { state, message: "test" },
    spec: { runtime: { $case: "container", value: { image: "nginx" } } },
    ...extra,
  } as Partial<Task>);
}

export interface Harness {
  store: MemoryStore;
  proposer: InMemoryProposer;
  clock: FakeClock;
  dispatcher: Dispatcher;
  managers: Peer[];
  write<R>(fn: (tx: Tx) => R): Promise<R>;
}

export async function harness(opts: { nodes?: Node[]; heartbeatSeconds?: number; start?: boolean } = {}): Promise<Harness> {
  const clock = new FakeClock();
  const store = new MemoryStore({ clock: () => new Date(clock.now()) });
  const proposer = new InMemoryProposer(store);
  const write = <R>(fn: (tx: Tx) => R) => update(store, proposer, fn);
  const managers: Peer[] = [{ nodeId: MANAGER_ID, addr: "10.0.0.1:4242" }];
  await write((tx) => {
    tx.create(
      "cluster",
      Cluster.fromPartial({
        id: "cluster1",
        spec: {
          annotations: { name: "default" },
          ...(opts.heartbeatSeconds ? { dispatcher: { heartbeatPeriod: { seconds: opts.heartbeatSeconds, nanos: 0 } } } : {}),
        },
        rootCa: { caCert: Buffer.from(ROOT_CA_PEM) },
      }),
    );
    for (const n of opts.nodes ?? [nodeObj("node1", "host1")]) tx.create("node", n);
  });
  // random 0.5 → every heartbeat period is exactly the configured one.
  const dispatcher = new Dispatcher({ nodeId: MANAGER_ID, managers: () => managers, clock, random: () => 0.5 });
  if (opts.start !== false) await dispatcher.start(store, proposer);
  return { store, proposer, clock, dispatcher, managers, write };
}

/** Open a session and let its registration batch be written. */
export async function openSession(h: Harness, nodeId: string, opts: { sessionId?: string; hostname?: string; remoteAddr?: string } = {}) {
  const sink = new Collector<SessionMessage>();
  const p = h.dispatcher.session(
    nodeId,
    { sessionId: opts.sessionId ?? "", description: opts.hostname ? NodeDescription.fromPartial({ hostname: opts.hostname }) : undefined },
    sink,
    { remoteAddr: opts.remoteAddr ?? "192.168.1.7:50123" },
  );
  const status = track(p);
  await h.clock.advance(100);
  return { sink, promise: p, status, sessionId: sink.messages[0]?.sessionId ?? "" };
}

export function codeOf(err: unknown): string | undefined {
  return (err as { code?: string } | undefined)?.code;
}
