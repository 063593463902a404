// Secret and config files for task containers. Each task gets a directory
// <root>/<task id>/ (0700, root preferably on a tmpfs such as /dev/shm so
// secret data never reaches a disk) holding one file per reference with the
// requested owner and mode; the container sees each one through a read-only
// bind mount at its target. The directory goes when the task is removed.
// Data is only ever written to those files: never logged.
import { mkdir, readdir, rm, writeFile, chmod, chown } from "node:fs/promises";
import { join, posix } from "node:path";
import { getLogger } from "../../../shared/logging.js";
import type { TaskMount } from "./types.js";

const log = getLogger("agent/executor/task-files");

/** Where a secret with a relative target lands in the container (SwarmKit/Docker). */
export const SECRETS_DIR = "/run/secrets";
/** Configs with a relative target are relative to the container's root. */
export const CONFIGS_DIR = "/";

/** One file to place in a container. `data` is secret for kind "secret". */
export interface TaskFile {
  kind: "secret" | "config";
  /** The secret's or config's ID (names the file on the host). */
  id: string;
  /** Absolute path in the container. */
  target: string;
  uid: number;
  gid: number;
  mode: number;
  data: Uint8Array;
}

/** The container path for a reference's file name. */
export function fileTarget(kind: TaskFile["kind"], name: string): string {
  if (posix.isAbsolute(name)) return posix.normalize(name);
  return posix.join(kind === "secret" ? SECRETS_DIR : CONFIGS_DIR, name);
}

/** A numeric uid/gid from SwarmKit's string form; "" means 0 (root). */
export function parseId(s: string, what: string): number {
  if (s === "") return 0;
  if (!/^\d+$/.test(s)) throw new Error(`${what} "${s}" must be numeric`);
  return Number(s);
}

export class TaskFiles {
  constructor(readonly root: string) {}

  private dirOf(taskId: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(taskId)) throw new Error(`invalid task ID "${taskId}"`);
    return join(this.root, taskId);
  }

  /** Writes the task's files (replacing earlier ones) and returns their read-only bind mounts. */
  async write(taskId: string, files: readonly TaskFile[]): Promise<TaskMount[]> {
    if (files.length === 0) return [];
    const dir = this.dirOf(taskId);
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const mounts: TaskMount[] = [];
    const seen = new Set<string>();
    for (const f of files) {
      if (seen.has(f.target)) throw new Error(`two ${f.kind}s target ${f.target} in one container`);
      seen.add(f.target);
      const path = join(dir, `${f.kind}-${f.id}-${mounts.length}`);
      // Created owner-only first, so the data is never readable by others before chmod.
      await writeFile(path, f.data, { mode: 0o600 });
      await this.own(path, f);
      await chmod(path, f.mode & 0o7777);
      mounts.push({ type: "bind", source: path, target: f.target, readOnly: true });
    }
    return mounts;
  }

  /** Removes a task's directory; nothing happens when there is none. */
  async remove(taskId: string): Promise<void> {
    await rm(this.dirOf(taskId), { recursive: true, force: true });
  }

  /** Removes the directories of tasks not in `keep` (left by an earlier run). */
  async sweep(keep: ReadonlySet<string>): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch {
      return;
    }
    for (const n of names) if (!keep.has(n)) await rm(join(this.root, n), { recursive: true, force: true });
  }

  private async own(path: string, f: TaskFile): Promise<void> {
    const uid = process.getuid?.();
    const gid = process.getgid?.();
    if (uid === f.uid && gid === f.gid) return;
    try {
      await chown(path, f.uid, f.gid);
    } catch (err) {
      // Not root: the file keeps this process's owner.
      log.warn({ kind: f.kind, id: f.id, uid: f.uid, gid: f.gid, code: (err as NodeJS.ErrnoException).code }, "cannot set the file owner");
    }
  }
}
