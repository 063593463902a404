// Small filesystem helpers for crash-safe file management.

import { mkdir, open } from "node:fs/promises";

/** fsync a directory so that creations, renames and deletions in it are durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Creates dir (and parents) with mode 0700; returns true if it did not exist. */
export async function ensurePrivateDir(dir: string): Promise<boolean> {
  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  return created !== undefined;
}
