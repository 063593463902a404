// What one node has been told it must run (SwarmKit's assignmentSet): its
// tasks in state ASSIGNED or later, plus the secrets and configs those tasks
// reference. Changes accumulate until message() hands them out, so a burst
// of store events becomes one INCREMENTAL message.
import {
  AssignmentChange_AssignmentAction as Action,
  Config,
  ResourceType,
  Secret,
  Task,
  TaskState,
  type AssignmentChange,
} from "../../../shared/api/index.js";
import { getLogger } from "../../../shared/logging.js";
import type { ReadTx } from "../store/index.js";

const log = getLogger("dispatcher");

type DepKind = "secret" | "config";
const depKey = (kind: DepKind, id: string): string => `${kind}:${id}`;
const taskKey = (id: string): string => `task:${id}`;

/** Equal apart from status and meta (SwarmKit's equality.TasksEqualStable). */
export function tasksEqualStable(a: Task, b: Task): boolean {
  const strip = (t: Task): Uint8Array => Task.encode({ ...t, status: undefined, meta: undefined }).finish();
  return Buffer.from(strip(a)).equals(Buffer.from(strip(b)));
}

export class AssignmentSet {
  private readonly tasks = new Map<string, Task>();
  /** Dependency key → IDs of the tasks using it. */
  private readonly users = new Map<string, Set<string>>();
  /** Pending changes by object key, in first-change order. */
  private changes = new Map<string, AssignmentChange>();

  constructor(private readonly nodeId: string) {}

  get pendingChanges(): number {
    return this.changes.size;
  }

  has(taskId: string): boolean {
    return this.tasks.has(taskId);
  }

  private usersOf(key: string): Set<string> {
    let s = this.users.get(key);
    if (!s) this.users.set(key, (s = new Set()));
    return s;
  }

  private assignSecret(tx: ReadTx, id: string): void {
    const secret = tx.get("secret", id);
    if (!secret) {
      log.debug({ node: this.nodeId, secret: id }, "secret referenced by a task not found");
      return;
    }
    // Secret drivers (per-task values) are not supported: the stored value is sent.
    this.changes.set(depKey("secret", id), {
      assignment: { item: { $case: "secret", value: secret } },
      action: Action.UPDATE,
    });
  }

  private assignConfig(tx: ReadTx, id: string): void {
    const config = tx.get("config", id);
    if (!config) {
      log.debug({ node: this.nodeId, config: id }, "config referenced by a task not found");
      return;
    }
    this.changes.set(depKey("config", id), {
      assignment: { item: { $case: "config", value: config } },
      action: Action.UPDATE,
    });
  }

  private addDependencies(tx: ReadTx, t: Task): void {
    for (const ref of t.spec?.resourceReferences ?? []) {
      const kind: DepKind | undefined =
        ref.resourceType === ResourceType.SECRET ? "secret" : ref.resourceType === ResourceType.CONFIG ? "config" : undefined;
      if (!kind) continue;
      const key = depKey(kind, ref.resourceId);
      const users = this.usersOf(key);
      if (users.size === 0) {
        if (kind === "secret") this.assignSecret(tx, ref.resourceId);
        else this.assignConfig(tx, ref.resourceId);
      }
      users.add(t.id);
    }
    const container = t.spec?.runtime?.$case === "container" ? t.spec.runtime.value : undefined;
    for (const ref of container?.secrets ?? []) {
      const users = this.usersOf(depKey("secret", ref.secretId));
      // Sent again for each new task that uses it, as SwarmKit does.
      if (!users.has(t.id)) this.assignSecret(tx, ref.secretId);
      users.add(t.id);
    }
    for (const ref of container?.configs ?? []) {
      const users = this.usersOf(depKey("config", ref.configId));
      if (users.size === 0) this.assignConfig(tx, ref.configId);
      users.add(t.id);
    }
  }

  private release(kind: DepKind, id: string, taskId: string): boolean {
    const key = depKey(kind, id);
    const users = this.users.get(key);
    users?.delete(taskId);
    if (users && users.size > 0) return false;
    this.users.delete(key);
    this.changes.set(key, {
      assignment: {
        item: kind === "secret" ? { $case: "secret", value: Secret.fromPartial({ id }) } : { $case: "config", value: Config.fromPartial({ id }) },
      },
      action: Action.REMOVE,
    });
    return true;
  }

  private releaseDependencies(t: Task): boolean {
    let modified = false;
    for (const ref of t.spec?.resourceReferences ?? []) {
      if (ref.resourceType === ResourceType.SECRET) modified = this.release("secret", ref.resourceId, t.id) || modified;
      else if (ref.resourceType === ResourceType.CONFIG) modified = this.release("config", ref.resourceId, t.id) || modified;
    }
    const container = t.spec?.runtime?.$case === "container" ? t.spec.runtime.value : undefined;
    for (const ref of container?.secrets ?? []) modified = this.release("secret", ref.secretId, t.id) || modified;
    for (const ref of container?.configs ?? []) modified = this.release("config", ref.configId, t.id) || modified;
    return modified;
  }

  /** A task of this node was created or changed; true when the agent must hear about it. */
  addOrUpdateTask(tx: ReadTx, t: Task): boolean {
    const state = t.status?.state ?? TaskState.NEW;
    if (state < TaskState.ASSIGNED) return false;
    const old = this.tasks.get(t.id);
    if (old) {
      // States up to ASSIGNED come from the orchestrator/scheduler and are always
      // sent; later ones were reported by the agent itself.
      if (state > TaskState.ASSIGNED && tasksEqualStable(old, t)) {
        this.tasks.set(t.id, t);
        // A task past RUNNING no longer needs its secrets and configs.
        return state > TaskState.RUNNING ? this.releaseDependencies(t) : false;
      }
    } else if (state <= TaskState.RUNNING) {
      this.addDependencies(tx, t);
    }
    this.tasks.set(t.id, t);
    this.changes.set(taskKey(t.id), { assignment: { item: { $case: "task", value: t } }, action: Action.UPDATE });
    return true;
  }

  /** A task was deleted or moved to another node. */
  removeTask(t: Task): boolean {
    if (!this.tasks.has(t.id)) return false;
    this.changes.set(taskKey(t.id), {
      assignment: { item: { $case: "task", value: Task.fromPartial({ id: t.id }) } },
      action: Action.REMOVE,
    });
    this.tasks.delete(t.id);
    this.releaseDependencies(t);
    return true;
  }

  /** The changes since the last call (and reset). */
  takeChanges(): AssignmentChange[] {
    const out = [...this.changes.values()];
    this.changes = new Map();
    return out;
  }
}
