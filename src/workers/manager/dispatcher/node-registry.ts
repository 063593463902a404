// The nodes this dispatcher holds a session for (SwarmKit's nodeStore): one
// entry per node with its session ID, its heartbeat deadline and its recent
// registrations (for the rate limit). A node marked UNKNOWN after a leader
// change has an entry without a session, so only its expiry runs.
import { newId } from "../../../shared/ids.js";
import type { Clock, Timer } from "./clock.js";
import { errNodeNotRegistered, errRateLimited, errSessionInvalid, RATE_LIMIT_COUNT } from "./constants.js";

export interface RegistryConfig {
  heartbeatPeriodMs: number;
  heartbeatEpsilonMs: number;
  gracePeriodMultiplier: number;
  rateLimitPeriodMs: number;
}

/** A heartbeat deadline: onExpire runs once unless beat() or stop() come first. */
class Deadline {
  private timer: Timer | undefined;
  constructor(
    private readonly clock: Clock,
    private timeoutMs: number,
    private readonly onExpire: () => void,
  ) {
    this.arm();
  }
  private arm(): void {
    this.timer?.cancel();
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.onExpire();
    }, this.timeoutMs);
  }
  beat(timeoutMs: number): void {
    this.timeoutMs = timeoutMs;
    this.arm();
  }
  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}

export interface RegisteredNode {
  readonly nodeId: string;
  /** "" for a node only known as UNKNOWN (no session yet). */
  readonly sessionId: string;
  readonly deadline: Deadline;
  registeredAt: number;
  attempts: number;
}

/** Told when a node's entry is replaced or removed, so its streams can end. */
export type InvalidationListener = (nodeId: string) => void;

export class NodeRegistry {
  private readonly nodes = new Map<string, RegisteredNode>();
  private readonly listeners = new Set<InvalidationListener>();

  constructor(
    private readonly clock: Clock,
    private readonly random: () => number,
    private config: RegistryConfig,
  ) {}

  get size(): number {
    return this.nodes.size;
  }

  /** A period in [period − ε, period + ε): spreads heartbeats of many nodes. */
  choosePeriod(): number {
    const { heartbeatPeriodMs: p, heartbeatEpsilonMs: e } = this.config;
    return Math.max(1, p - e + this.random() * 2 * e);
  }

  updatePeriod(heartbeatPeriodMs: number): void {
    this.config = { ...this.config, heartbeatPeriodMs };
  }

  onInvalidate(fn: InvalidationListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private invalidated(nodeId: string): void {
    for (const fn of [...this.listeners]) fn(nodeId);
  }

  /** After a leader change: expire in 2× the normal grace unless the node registers. */
  addUnknown(nodeId: string, onExpire: () => void): void {
    this.replace(nodeId, {
      nodeId,
      sessionId: "",
      deadline: new Deadline(this.clock, this.choosePeriod() * this.config.gracePeriodMultiplier * 2, onExpire),
      registeredAt: 0,
      attempts: 0,
    });
  }

  /** Throws UNAVAILABLE when the node registered more than RATE_LIMIT_COUNT times, each within the period of the last. */
  checkRateLimit(nodeId: string): void {
    const rn = this.nodes.get(nodeId);
    if (!rn) return;
    const now = this.clock.now();
    if (now - rn.registeredAt > this.config.rateLimitPeriodMs) rn.attempts = 0;
    rn.attempts++;
    if (rn.attempts > RATE_LIMIT_COUNT) throw errRateLimited(nodeId);
    rn.registeredAt = now;
  }

  /** A new session for the node, replacing any earlier one (whose streams end). */
  add(nodeId: string, onExpire: () => void): RegisteredNode {
    const old = this.nodes.get(nodeId);
    const rn: RegisteredNode = {
      nodeId,
      sessionId: newId(),
      deadline: new Deadline(this.clock, this.choosePeriod() * this.config.gracePeriodMultiplier, onExpire),
      registeredAt: old && old.registeredAt !== 0 ? old.registeredAt : this.clock.now(),
      attempts: old?.attempts ?? 0,
    };
    this.replace(nodeId, rn);
    return rn;
  }

  private replace(nodeId: string, rn: RegisteredNode): void {
    const old = this.nodes.get(nodeId);
    old?.deadline.stop();
    this.nodes.set(nodeId, rn);
    if (old) this.invalidated(nodeId);
  }

  get(nodeId: string): RegisteredNode {
    const rn = this.nodes.get(nodeId);
    if (!rn) throw errNodeNotRegistered();
    return rn;
  }

  /** NOT_FOUND "node not registered" or INVALID_ARGUMENT "session invalid", as SwarmKit. */
  getWithSession(nodeId: string, sessionId: string): RegisteredNode {
    const rn = this.get(nodeId);
    if (sessionId === "" || rn.sessionId !== sessionId) throw errSessionInvalid();
    return rn;
  }

  /** Record a beat; returns the period within which the next one must come. */
  heartbeat(nodeId: string, sessionId: string): number {
    const rn = this.getWithSession(nodeId, sessionId);
    const period = this.choosePeriod();
    rn.deadline.beat(period * this.config.gracePeriodMultiplier);
    return period;
  }

  delete(nodeId: string): RegisteredNode | undefined {
    const rn = this.nodes.get(nodeId);
    if (!rn) return undefined;
    rn.deadline.stop();
    this.nodes.delete(nodeId);
    this.invalidated(nodeId);
    return rn;
  }

  /** Drop every entry and stop every deadline (dispatcher stop). */
  clean(): void {
    const ids = [...this.nodes.keys()];
    for (const rn of this.nodes.values()) rn.deadline.stop();
    this.nodes.clear();
    for (const id of ids) this.invalidated(id);
  }
}

/** Plain timers per node: how long a node has been DOWN (SwarmKit's downNodes store). */
export class DownNodes {
  private readonly timers = new Map<string, Timer>();
  constructor(
    private readonly clock: Clock,
    private readonly periodMs: number,
  ) {}
  add(nodeId: string, onExpire: () => void): void {
    this.timers.get(nodeId)?.cancel();
    this.timers.set(
      nodeId,
      this.clock.setTimeout(() => {
        this.timers.delete(nodeId);
        onExpire();
      }, this.periodMs),
    );
  }
  delete(nodeId: string): void {
    this.timers.get(nodeId)?.cancel();
    this.timers.delete(nodeId);
  }
  has(nodeId: string): boolean {
    return this.timers.has(nodeId);
  }
  clean(): void {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }
}
