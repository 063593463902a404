// The state directory: created 0700 with the layout of ARCHITECTURE.md,
// refused when its permissions are too open or it cannot be written.
import { constants } from "node:fs";
import { access, lstat, mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { SwarmError, errorCode } from "../shared/errors.js";
import { writeFileAtomic } from "../shared/atomic-file.js";

export interface StateDirLayout {
  root: string;
  certificates: string;
  /** Created by the manager when it first runs (workers have none). */
  raft: string;
  worker: string;
  stateFile: string;
  lockFile: string;
}

export function stateDirLayout(root: string): StateDirLayout {
  return {
    root,
    certificates: join(root, "certificates"),
    raft: join(root, "raft"),
    worker: join(root, "worker"),
    stateFile: join(root, "state.json"),
    lockFile: join(root, "swarmd.lock"),
  };
}

const PRIVATE_DIR = 0o700;
const PRIVATE_FILE = 0o600;

/** Create (or check) the state directory and its fixed layout. */
export async function prepareStateDir(root: string): Promise<StateDirLayout> {
  const layout = stateDirLayout(root);
  await ensurePrivateDir(root, "state dir");
  await ensurePrivateDir(layout.certificates, "certificates dir");
  await ensurePrivateDir(layout.worker, "worker dir");
  try {
    await access(root, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new SwarmError("PERMISSION_DENIED", `state dir ${root} is not writable (${errorCode(err) ?? String(err)})`);
  }
  await ensureStateFile(layout.stateFile);
  return layout;
}

async function ensurePrivateDir(path: string, what: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true, mode: PRIVATE_DIR });
  } catch (err) {
    throw new SwarmError("FAILED_PRECONDITION", `cannot create ${what} ${path}: ${describeFsError(err)}`);
  }
  const st = await lstat(path);
  if (!st.isDirectory()) throw new SwarmError("FAILED_PRECONDITION", `${what} ${path} is not a directory`);
  checkPrivate(path, st.mode, what, PRIVATE_DIR);
}

function checkPrivate(path: string, mode: number, what: string, want: number): void {
  if ((mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, "0");
    throw new SwarmError(
      "PERMISSION_DENIED",
      `${what} ${path} has mode ${octal}, which lets other users read it; ` +
        `it must be ${want.toString(8).padStart(4, "0")} (chmod ${want.toString(8)} ${path})`,
    );
  }
}

/** state.json holds the known managers ([{"node_id","addr"}]); a fresh node knows none. */
async function ensureStateFile(path: string): Promise<void> {
  let existing: string;
  try {
    const st = await stat(path);
    checkPrivate(path, st.mode, "state file", PRIVATE_FILE);
    existing = await readFile(path, "utf8");
  } catch (err) {
    if (errorCode(err) !== "ENOENT") throw err;
    await writeStateFile(path, []);
    return;
  }
  try {
    const parsed: unknown = JSON.parse(existing);
    if (!Array.isArray(parsed)) throw new Error("not a JSON array");
  } catch (err) {
    throw new SwarmError("DATA_LOSS", `state file ${path} is corrupt: ${describeFsError(err)}`);
  }
}

export interface KnownManager {
  node_id: string;
  addr: string;
}

/** Replace state.json atomically, sorted by node ID as SwarmKit writes it. */
export async function writeStateFile(path: string, managers: readonly KnownManager[]): Promise<void> {
  const sorted = [...managers].sort((a, b) => (a.node_id < b.node_id ? -1 : a.node_id > b.node_id ? 1 : 0));
  await writeFileAtomic(path, JSON.stringify(sorted), PRIVATE_FILE);
}

function describeFsError(err: unknown): string {
  const code = errorCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  return code === "EACCES" || code === "EPERM"
    ? "permission denied"
    : code === "ENOTDIR"
      ? "a parent path is not a directory"
      : code === "EROFS"
        ? "read-only file system"
        : msg;
}
