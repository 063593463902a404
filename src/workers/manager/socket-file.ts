// Unix socket paths: a socket file left by a crashed swarmd is removed; one
// that still accepts connections belongs to a live process and is an error,
// as is any other kind of file at that path.
import { lstat, unlink } from "node:fs/promises";
import { connect } from "node:net";
import { SwarmError, errorCode, errorMessage } from "../../shared/errors.js";
import { getLogger } from "../../shared/logging.js";

const log = getLogger("socket-file");

export async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if (errorCode(err) === "ENOENT") return;
    throw new SwarmError("FAILED_PRECONDITION", `control socket ${path}: ${errorMessage(err)}`);
  }
  if (!isSocket) {
    throw new SwarmError("FAILED_PRECONDITION", `control socket path ${path} is taken by a file that is not a socket`);
  }
  if (await acceptsConnections(path)) {
    throw new SwarmError("FAILED_PRECONDITION", `control socket ${path} is in use by another process`);
  }
  log.info({ path }, "removing stale control socket");
  await unlink(path);
}

function acceptsConnections(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}
