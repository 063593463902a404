// Placement preferences (SwarmKit's decision tree): `spread` over a node or
// engine label splits the eligible nodes into one branch per label value
// (nodes without the label form a branch of their own, value ""), each
// preference one level deeper. Each task descends from the root to the
// branch holding the fewest tasks of the service (ties: lowest label
// value) and takes a node from that leaf's heap; a leaf whose nodes are all
// full is closed and the task tries the next branch. So tasks fill branches
// evenly (water filling), as SwarmKit's scheduleNTasksOnSubtree does.
import type { PlacementPreference } from "../../../shared/api/index.js";
import type { FilterReason } from "./filters.js";
import { NodeHeap } from "./node-heap.js";
import type { NodeInfo } from "./node-info.js";

/** The label a spread descriptor reads, or undefined for one SwarmKit ignores. */
export function spreadLabel(descriptor: string): ((n: NodeInfo) => string) | undefined {
  const lower = descriptor.toLowerCase();
  if (lower.startsWith("node.labels.")) {
    const key = descriptor.slice("node.labels.".length);
    return (n) => n.node.spec?.annotations?.labels?.[key] ?? "";
  }
  if (lower.startsWith("engine.labels.")) {
    const key = descriptor.slice("engine.labels.".length);
    return (n) => n.node.description?.engine?.labels?.[key] ?? "";
  }
  return undefined;
}

interface Branch {
  value: string;
  /** Tasks of the service in this subtree (placed before and during the pass). */
  count: number;
  children: Branch[];
  heap: NodeHeap | undefined;
  parent: Branch | undefined;
  closed: boolean;
}

export class SpreadTree {
  private readonly root: Branch;
  private readonly leafOf = new Map<NodeInfo, Branch>();

  constructor(serviceId: string, prefs: readonly PlacementPreference[], nodes: NodeInfo[], penalty?: ReadonlyMap<NodeInfo, number>) {
    const labels = prefs.map((p) => (p.Preference?.$case === "spread" ? spreadLabel(p.Preference.value.spreadDescriptor) : undefined)).filter((f) => f !== undefined);
    const build = (value: string, members: NodeInfo[], depth: number, parent: Branch | undefined): Branch => {
      const b: Branch = { value, count: 0, children: [], heap: undefined, parent, closed: false };
      for (const n of members) b.count += n.serviceCount(serviceId);
      if (depth === labels.length) {
        b.heap = NodeHeap.from(serviceId, members, penalty);
        for (const n of members) this.leafOf.set(n, b);
        return b;
      }
      const groups = new Map<string, NodeInfo[]>();
      for (const n of members) {
        const v = labels[depth]!(n);
        const g = groups.get(v);
        if (g) g.push(n);
        else groups.set(v, [n]);
      }
      for (const v of [...groups.keys()].sort()) b.children.push(build(v, groups.get(v)!, depth + 1, b));
      return b;
    };
    this.root = build("", nodes, 0, undefined);
  }

  /**
   * The node for the next task: descend to the emptiest open leaf, pop its
   * heap until a node passes `check`; nodes that fail are dropped for the
   * rest of the pass (reported through `rejected`).
   */
  pick(check: (n: NodeInfo) => FilterReason | undefined, rejected: (r: FilterReason) => void): NodeInfo | undefined {
    for (;;) {
      const leaf = this.emptiestLeaf(this.root);
      if (leaf === undefined) return undefined;
      let info: NodeInfo | undefined;
      while ((info = leaf.heap!.pop()) !== undefined) {
        const reason = check(info);
        if (reason === undefined) return info;
        rejected(reason);
      }
      this.close(leaf);
    }
  }

  /** The node took a task: back into its heap, and every branch above counts it. */
  placed(info: NodeInfo): void {
    const leaf = this.leafOf.get(info);
    if (leaf === undefined) return;
    leaf.heap!.push(info);
    for (let b: Branch | undefined = leaf; b !== undefined; b = b.parent) b.count++;
  }

  private emptiestLeaf(b: Branch): Branch | undefined {
    if (b.closed) return undefined;
    if (b.heap !== undefined) return b;
    let best: Branch | undefined;
    for (const c of b.children) if (!c.closed && (best === undefined || c.count < best.count)) best = c;
    return best === undefined ? undefined : this.emptiestLeaf(best);
  }

  private close(b: Branch): void {
    b.closed = true;
    const p = b.parent;
    if (p !== undefined && p.children.every((c) => c.closed)) this.close(p);
  }
}
