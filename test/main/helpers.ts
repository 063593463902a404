// Shared helpers for the swarmd tests: temp state dirs, socket/port probes,
// and a handle on dist/main.js run as a child process.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import type { IdentityData } from "../../src/shared/contracts/index.js";
import { identityData, loadOrCreateIdentity } from "../../src/main/identity/index.js";
import { MANAGER_ROLE } from "../../src/shared/pki/index.js";

export const SWARMD = fileURLToPath(new URL("../../../dist/main.js", import.meta.url));

export async function tempDir(prefix = "swarmd-test-"): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Whether something accepts connections on a unix socket path or TCP port. */
export function canConnect(target: string | { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = typeof target === "string" ? connect(target) : connect(target.port, target.host);
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

export interface SwarmdProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stderr matches, rejects if the process exits first or after timeoutMs. */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number }>;
  /** Kill it if still running (test clean-up). */
  kill(): void;
}

/** `wrap` is an argv prefix the daemon runs under (e.g. `ip netns exec <ns>`, which execs in place: same PID). */
export function startSwarmd(args: string[], env: Record<string, string> = {}, wrap: string[] = []): SwarmdProcess {
  const argv = [...wrap, process.execPath, SWARMD, ...args];
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const watchers = new Set<() => void>();
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
    for (const w of watchers) w();
  });
  let signalledAt = 0;
  const origKill = child.kill.bind(child);
  child.kill = (sig?: NodeJS.Signals | number) => {
    signalledAt = Date.now();
    return origKill(sig);
  };
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal, afterMs: signalledAt ? Date.now() - signalledAt : -1 })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForLog(re, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (re.test(err)) {
            done();
            resolve();
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out waiting for ${re} in swarmd's stderr:\n${err}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          watchers.delete(check);
        };
        watchers.add(check);
        void exited.then((e) => {
          if (!re.test(err)) {
            done();
            reject(new Error(`swarmd exited (${e.code ?? e.signal}) before logging ${re}:\n${err}`));
          }
        });
        check();
      });
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) origKill("SIGKILL");
    },
  };
}

/** Args for a swarmd on a temp state dir with an ephemeral remote API port. */
export function testArgs(stateDir: string, ...extra: string[]): string[] {
  return ["-d", stateDir, "--listen-remote-api", "127.0.0.1:0", "--log-level", "info", ...extra];
}

/** A bootstrapped identity in `stateDir`, as main hands it to the workers. */
export async function testIdentity(stateDir: string): Promise<IdentityData> {
  return identityData(await loadOrCreateIdentity(stateDir, { role: MANAGER_ROLE }));
}
