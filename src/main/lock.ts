// One swarmd per state directory. Node has no flock(), so the lock is a file
// created with O_EXCL holding the owner's pid. A lock whose pid is no longer
// alive was left by a crash and is taken over.
import { open, readFile, rename, stat, unlink } from "node:fs/promises";
import { SwarmError, errorCode } from "../shared/errors.js";

/** An empty lock file younger than this may belong to a swarmd starting right now. */
const FRESH_LOCK_MS = 2000;

export interface StateLock {
  readonly path: string;
  release(): Promise<void>;
}

export async function acquireStateLock(path: string, stateDir: string): Promise<StateLock> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, "wx", 0o600);
      try {
        await fh.writeFile(`${process.pid}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      return lockHandle(path);
    } catch (err) {
      if (errorCode(err) !== "EEXIST") {
        throw new SwarmError("FAILED_PRECONDITION", `cannot lock state dir ${stateDir}: ${String(err)}`);
      }
    }
    const holder = await readHolder(path);
    if (holder === undefined && (await youngerThan(path, FRESH_LOCK_MS))) {
      // Another swarmd created it a moment ago and has not written its pid yet.
      throw new SwarmError("FAILED_PRECONDITION", `state dir ${stateDir} is being locked by another swarmd`);
    }
    if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
      throw new SwarmError(
        "FAILED_PRECONDITION",
        `state dir ${stateDir} is in use by another swarmd (pid ${holder}); stop it or use another --state-dir`,
      );
    }
    // Stale (crashed owner, or empty from a crash mid-write): move it aside
    // under a unique name so two contenders cannot both delete a fresh lock.
    const aside = `${path}.stale.${process.pid}`;
    try {
      await rename(path, aside);
      await unlink(aside);
    } catch (err) {
      if (errorCode(err) !== "ENOENT") throw err;
    }
  }
  throw new SwarmError("FAILED_PRECONDITION", `cannot lock state dir ${stateDir}: lock file ${path} keeps changing`);
}

function lockHandle(path: string): StateLock {
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      // Only remove it if it is still ours.
      if ((await readHolder(path)) === process.pid) await unlink(path).catch(() => undefined);
    },
  };
}

async function readHolder(path: string): Promise<number | undefined> {
  try {
    const text = (await readFile(path, "utf8")).trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else — still alive.
    return errorCode(err) === "EPERM";
  }
}

async function youngerThan(path: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs < ms;
  } catch {
    return false;
  }
}
