// A binary min-heap of nodes ordered by SwarmKit's spread rule: fewest tasks
// of the service being placed, then fewest tasks overall, then node ID (so
// placements are deterministic). Only the node taken from the top changes
// between placements, so pop + push keeps the order exact. Nodes where this
// service version recently failed MAX_RECENT_FAILURES times or more come
// last, fewest failures first (SwarmKit's failure penalty).
import type { NodeInfo } from "./node-info.js";

const NO_PENALTY: ReadonlyMap<NodeInfo, number> = new Map();

export class NodeHeap {
  private readonly items: NodeInfo[] = [];

  constructor(
    private readonly serviceId: string,
    /** Penalised nodes and their recent failure counts (only those at or over the limit). */
    private readonly penalty: ReadonlyMap<NodeInfo, number> = NO_PENALTY,
  ) {}

  get size(): number {
    return this.items.length;
  }

  private less(a: NodeInfo, b: NodeInfo): boolean {
    if (this.penalty.size > 0) {
      const pa = this.penalty.get(a) ?? 0;
      const pb = this.penalty.get(b) ?? 0;
      if (pa !== pb) return pa < pb;
    }
    const sa = a.serviceCount(this.serviceId);
    const sb = b.serviceCount(this.serviceId);
    if (sa !== sb) return sa < sb;
    if (a.activeTotal !== b.activeTotal) return a.activeTotal < b.activeTotal;
    return a.node.id < b.node.id;
  }

  /** Build from an unordered list in O(n). */
  static from(serviceId: string, nodes: NodeInfo[], penalty?: ReadonlyMap<NodeInfo, number>): NodeHeap {
    const h = new NodeHeap(serviceId, penalty);
    h.items.push(...nodes);
    for (let i = (h.items.length >> 1) - 1; i >= 0; i--) h.down(i);
    return h;
  }

  push(n: NodeInfo): void {
    this.items.push(n);
    this.up(this.items.length - 1);
  }

  pop(): NodeInfo | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      this.down(0);
    }
    return top;
  }

  private up(i: number): void {
    const items = this.items;
    const x = items[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(x, items[p]!)) break;
      items[i] = items[p]!;
      i = p;
    }
    items[i] = x;
  }

  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const x = items[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.less(items[c + 1]!, items[c]!)) c++;
      if (!this.less(items[c]!, x)) break;
      items[i] = items[c]!;
      i = c;
    }
    items[i] = x;
  }
}
