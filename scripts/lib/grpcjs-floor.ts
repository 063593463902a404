// Starts grpcjs-noop-server.js as a process of its own (as swarmd is one), so
// that its CPU per call can be read apart from the client's.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SERVER = fileURLToPath(new URL("./grpcjs-noop-server.js", import.meta.url));

export interface NoopServer {
  socket: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startGrpcjsNoopServer(readyTimeoutMs = 30_000): Promise<NoopServer> {
  const dir = await mkdtemp(join(tmpdir(), "grpcjs-floor-"));
  const socket = join(dir, "noop.sock");
  const child = spawn(process.execPath, [SERVER, socket], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the grpc-js no-op server did not listen within ${readyTimeoutMs} ms: ${stderr}`)), readyTimeoutMs);
      child.stdout.on("data", (d: Buffer) => {
        if (d.toString().includes("ready")) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`the grpc-js no-op server exited (${child.exitCode ?? child.signalCode}): ${stderr}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { socket, pid: child.pid!, stop };
}
