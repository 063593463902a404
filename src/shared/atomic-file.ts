// Crash-safe file writes for every thread (identity files, state.json, the
// agent's task DB, raft snapshots): a reader sees the old file or the new one,
// never a torn mix (temp file + fsync + rename + fsync of the directory).
import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes data to a new file with exactly `mode` and syncs it (no rename). */
export async function writeFileSynced(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const fh = await open(path, "wx", mode);
  try {
    await fh.chmod(mode); // the umask may have narrowed the mode we asked for
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Replaces `path` with `data` (file mode `mode`, 0600 by default) crash-safely. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${randomBytes(6).toString("hex")}`);
  try {
    await writeFileSynced(tmp, data, mode);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}
