// The agent's task database in <state-dir>/worker/: one JSON file per
// assigned task ({task, status}, api types in their proto JSON form), written
// atomically. Only assigned tasks are kept: a removed assignment is deleted
// at once, so the directory never outgrows the node's current assignments.
// Writes to one task are serialised, so a delete never races an older write.
import { mkdir, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { Task, TaskStatus } from "../../shared/api/index.js";
import { errorMessage } from "../../shared/errors.js";
import { getLogger } from "../../shared/logging.js";
import { fsyncDir, writeFileAtomic } from "../../shared/atomic-file.js";

const log = getLogger("agent/task-db");

export const WORKER_DIR = "worker";
const TASKS_DIR = "tasks";
const SUFFIX = ".json";
/** Task IDs are SwarmKit IDs; anything else must not become a path. */
const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;

export interface StoredTask {
  task: Task;
  status: TaskStatus;
}

export class TaskDb {
  readonly dir: string;
  private readonly queues = new Map<string, Promise<void>>();

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Opens (creating, mode 0700) <stateDir>/worker/tasks. */
  static async open(stateDir: string): Promise<TaskDb> {
    const dir = join(stateDir, WORKER_DIR, TASKS_DIR);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return new TaskDb(dir);
  }

  /** Every stored task; unreadable entries are logged and deleted (they cannot be resumed). */
  async load(): Promise<StoredTask[]> {
    const out: StoredTask[] = [];
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      if (name.startsWith(".") && name.endsWith(".tmp")) {
        await unlink(path).catch(() => undefined); // a write cut short by a crash
        continue;
      }
      if (!name.endsWith(SUFFIX)) continue;
      try {
        const raw = JSON.parse(await readFile(path, "utf8")) as { task?: unknown; status?: unknown };
        const task = Task.fromJSON(raw.task);
        if (!task.id || `${task.id}${SUFFIX}` !== name) throw new Error("task ID does not match the file name");
        out.push({ task, status: TaskStatus.fromJSON(raw.status ?? {}) });
      } catch (err) {
        log.error({ path, err: errorMessage(err) }, "dropping unreadable task DB entry");
        await unlink(path).catch(() => undefined);
      }
    }
    return out;
  }

  /** Stores the task and its status (replacing what was there). */
  put(task: Task, status: TaskStatus): Promise<void> {
    const id = checkId(task.id);
    const data = JSON.stringify({ task: Task.toJSON(task), status: TaskStatus.toJSON(status) });
    return this.enqueue(id, () => writeFileAtomic(this.path(id), data, 0o600));
  }

  /** Deletes the task's entry; a missing entry is fine. */
  delete(taskId: string): Promise<void> {
    const id = checkId(taskId);
    return this.enqueue(id, async () => {
      try {
        await unlink(this.path(id));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        return;
      }
      await fsyncDir(this.dir);
    });
  }

  /** IDs currently stored (for tests and diagnostics). */
  async ids(): Promise<string[]> {
    return (await readdir(this.dir)).filter((n) => n.endsWith(SUFFIX) && !n.startsWith(".")).map((n) => n.slice(0, -SUFFIX.length));
  }

  /** Resolves once every queued write has finished. */
  async flush(): Promise<void> {
    await Promise.all([...this.queues.values()]);
  }

  private path(id: string): string {
    return join(this.dir, `${id}${SUFFIX}`);
  }

  private enqueue(id: string, op: () => Promise<void>): Promise<void> {
    const prev = this.queues.get(id) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(op);
    const tracked = next.catch(() => undefined);
    this.queues.set(id, tracked);
    void tracked.then(() => {
      if (this.queues.get(id) === tracked) this.queues.delete(id);
    });
    return next;
  }
}

function checkId(id: string): string {
  if (!SAFE_ID.test(id)) throw new Error(`task DB: refusing unsafe task ID ${JSON.stringify(id)}`);
  return id;
}
