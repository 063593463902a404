// Small filesystem helpers for crash-safe file management.

import { mkdir } from "node:fs/promises";

export { fsyncDir } from "../../../../shared/atomic-file.js";

/** Creates dir (and parents) with mode 0700; returns true if it did not exist. */
export async function ensurePrivateDir(dir: string): Promise<boolean> {
  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  return created !== undefined;
}
