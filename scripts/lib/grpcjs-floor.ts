// Starts the grpc-js floor servers as processes of their own (as swarmd is
// one), so that their CPU per call can be read apart from the client's.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SERVER = fileURLToPath(new URL("./grpcjs-noop-server.js", import.meta.url));

/** A helper process that has printed "ready". */
export interface ReadyProcess {
  pid: number;
  /** Why it exited on its own since it was ready (its exit status and stderr), if it did. */
  failure(): string | undefined;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

/** Runs `node <script> ...args` and resolves once it prints "ready"; rejects (and kills it) if it exits or times out first. */
export async function spawnReady(what: string, script: string, args: string[], readyTimeoutMs = 30_000): Promise<ReadyProcess> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stopping = false;
  const stop = async (): Promise<void> => {
    stopping = true;
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  const failure = (): string | undefined =>
    !stopping && (child.exitCode !== null || child.signalCode !== null) ? `${what} exited (${child.exitCode ?? child.signalCode}): ${stderr.trim()}` : undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what} did not listen within ${readyTimeoutMs} ms: ${stderr}`)), readyTimeoutMs);
      child.stdout.on("data", (d: Buffer) => {
        if (d.toString().includes("ready")) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${what} exited (${child.exitCode ?? child.signalCode}): ${stderr}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { pid: child.pid!, failure, stop };
}

export interface NoopServer {
  socket: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startGrpcjsNoopServer(readyTimeoutMs = 30_000): Promise<NoopServer> {
  const dir = await mkdtemp(join(tmpdir(), "grpcjs-floor-"));
  const socket = join(dir, "noop.sock");
  try {
    const proc = await spawnReady("the grpc-js no-op server", SERVER, [socket], readyTimeoutMs);
    return {
      socket,
      pid: proc.pid,
      stop: async () => {
        await proc.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
