// SwarmKit's own Go swarmd as a benchmark baseline: find the binaries, start
// N of them as one cluster of managers on loopback (the first bootstraps, the
// others join with the manager token from ListClusters), find the leader, stop
// them. Driven through our own grpc-js control client, so both systems see the
// same client. Go swarmd's raft tick is fixed at 1 s; only the tick counts
// (--heartbeat-tick, --election-tick) can be set.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { accessSync, constants } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ControlClient, ListClustersResponse } from "../../src/shared/api/index.js";
import { connectControl } from "../../src/shared/control-client.js";
import { unary, waitForControl } from "../../test/helpers/control.js";
import { freePorts } from "./cluster.js";
import { retryUntil, sleep } from "./retry.js";

const run = promisify(execFile);

/** Where scripts/swarmkit-go.sh builds them (its SWARMKIT_GO_DIR), then a hand-built pair. */
const CANDIDATE_DIRS = [join(process.env.SWARMKIT_GO_DIR || "/var/cache/swarmkit-ts/swarmkit-go", "bin")];

export interface SwarmkitGoBinaries {
  swarmd: string;
  swarmctl: string;
  /** What `swarmd --version` prints after the program name, e.g. "github.com/docker/swarmkit cba102b+unknown". */
  version: string;
}

/** Whether `path` is a file this process may execute. */
export function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Go swarmd and swarmctl: $SWARMKIT_SWARMD / $SWARMKIT_SWARMCTL (as
 * `scripts/swarmkit-go.sh env` exports them), else that script's cache dir
 * (the script itself is not run: it may wait on another build's lock). Returns the reason instead when either
 * is missing or swarmd does not run.
 */
export async function findSwarmkitGo(): Promise<SwarmkitGoBinaries | { missing: string }> {
  const found = CANDIDATE_DIRS.find((d) => executable(join(d, "swarmd")) && executable(join(d, "swarmctl"))) ?? CANDIDATE_DIRS[0]!;
  const swarmd = process.env.SWARMKIT_SWARMD || join(found, "swarmd");
  const swarmctl = process.env.SWARMKIT_SWARMCTL || join(found, "swarmctl");
  for (const [what, path] of [["swarmd", swarmd], ["swarmctl", swarmctl]] as const) {
    if (!executable(path)) return { missing: `no executable Go ${what} at ${path} (run scripts/swarmkit-go.sh build, or set SWARMKIT_${what.toUpperCase()})` };
  }
  try {
    const { stdout } = await run(swarmd, ["--version"], { timeout: 10_000 });
    // "<argv0> github.com/docker/swarmkit <commit>"
    const version = stdout.trim().split(/\s+/).slice(1).join(" ") || stdout.trim();
    return { swarmd, swarmctl, version };
  } catch (err) {
    return { missing: `${swarmd} --version failed: ${String(err)}` };
  }
}

export interface GoMember {
  index: number;
  stateDir: string;
  socket: string;
  remoteAddr: string;
  child: ChildProcess;
  /** The last 64 KiB of its stderr. */
  stderr(): string;
}

export interface GoCluster {
  dir: string;
  members: GoMember[];
  /** The member swarmctl on the first member marks as raft leader. */
  leader(timeoutMs?: number): Promise<GoMember>;
  connect(member: GoMember): ControlClient;
  /** SIGTERM every member, SIGKILL after 5 s, delete the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

export interface GoClusterOptions {
  binaries: SwarmkitGoBinaries;
  managers?: number;
  heartbeatTick?: number;
  electionTick?: number;
  stepTimeoutMs?: number;
  parentDir?: string;
  /** Called with stop() before the first process starts, so a signal handler can clean up a cluster still forming. */
  onStop?: (stop: () => Promise<void>) => void;
}


/** Manager rows of `swarmctl -n node ls`: node ID, reachable, leader ("REACHABLE *"). */
async function managerRows(swarmctl: string, socket: string): Promise<{ id: string; reachable: boolean; leader: boolean }[]> {
  // swarmctl rather than ListNodes through our client: Go's raft IDs are full
  // 64-bit values, which our generated uint64-as-number decoding rejects.
  const { stdout } = await run(swarmctl, ["-s", socket, "-n", "node", "ls"], { timeout: 5000 });
  return stdout
    .split("\n")
    .slice(2)
    .map((line) => line.trim())
    .filter((line) => /REACHABLE/.test(line))
    .map((line) => ({ id: line.split(/\s+/)[0]!, reachable: / REACHABLE( \*)?$/.test(line), leader: line.endsWith("*") }));
}

/** A member's node ID: the CN of its node certificate. */
async function nodeId(m: GoMember): Promise<string> {
  const pem = await readFile(join(m.stateDir, "certificates", "swarm-node.crt"), "utf8");
  const cn = /CN=([^\n,]+)/.exec(new X509Certificate(pem).subject)?.[1];
  if (!cn) throw new Error(`no CN in ${m.stateDir}/certificates/swarm-node.crt`);
  return cn;
}

export async function startSwarmkitGoCluster(options: GoClusterOptions): Promise<GoCluster> {
  const { swarmd, swarmctl } = options.binaries;
  const count = options.managers ?? 3;
  const stepTimeoutMs = options.stepTimeoutMs ?? 60_000;
  const dir = await mkdtemp(join(options.parentDir ?? tmpdir(), "swarmkit-go-"));
  const members: GoMember[] = [];
  let stopped: Promise<void> | undefined;

  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await Promise.all(
        members.map(async ({ child }) => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((r) => child.once("exit", r));
          child.kill("SIGTERM");
          const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
          await exited;
          clearTimeout(timer);
        }),
      );
      await rm(dir, { recursive: true, force: true });
    })());

  const cluster: GoCluster = {
    dir,
    members,
    connect: (m) => connectControl(m.socket),
    async leader(timeoutMs = stepTimeoutMs) {
      const id = await retryUntil("swarmkit: no leader reported", timeoutMs, async () => (await managerRows(swarmctl, members[0]!.socket)).find((r) => r.leader)?.id);
      for (const m of members) if ((await nodeId(m)) === id) return m;
      throw new Error(`swarmkit: leader ${id} is none of this cluster's members`);
    },
    stop,
  };

  options.onStop?.(stop);
  try {
    const ports = await freePorts(count);
    const engine = `unix://${join(dir, "no-engine.sock")}`; // managers only: the agents must not touch a Docker engine
    let token = "";
    for (let i = 0; i < count; i++) {
      const stateDir = join(dir, `g${i + 1}`);
      const remoteAddr = `127.0.0.1:${ports[i]}`;
      const socket = join(stateDir, "swarmd.sock");
      const args = ["-d", stateDir, "--listen-control-api", socket, "--listen-remote-api", remoteAddr, "--engine-addr", engine];
      args.push("--hostname", `g${i + 1}`, "--log-level", "error");
      args.push("--heartbeat-tick", String(options.heartbeatTick ?? 1), "--election-tick", String(options.electionTick ?? 10));
      if (i > 0) args.push("--join-addr", members[0]!.remoteAddr, "--join-token", token);
      const child = spawn(swarmd, args, { stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      child.stderr!.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-65536)));
      const member: GoMember = { index: i, stateDir, socket, remoteAddr, child, stderr: () => err };
      members.push(member);
      const died = new Promise<never>((_, reject) =>
        child.once("exit", (code, signal) => reject(new Error(`Go swarmd g${i + 1} exited (${code ?? signal}) while forming the cluster:\n${err}`))),
      );
      void died.catch(() => undefined);
      const client = await Promise.race([waitForControl(socket, stepTimeoutMs), died]);
      try {
        if (i === 0) {
          const res = await unary<"listClusters", object, ListClustersResponse>(client, "listClusters", { filters: undefined });
          token = res.clusters[0]?.rootCa?.joinTokens?.manager ?? "";
          if (!token.startsWith("SWMTKN-1-")) throw new Error(`swarmkit: no manager join token in the default cluster (got "${token}")`);
        }
      } finally {
        client.close();
      }
      // Joined = the first manager lists every member so far as a reachable manager.
      await Promise.race([
        retryUntil(`swarmkit: g${i + 1} did not show up as a reachable manager`, stepTimeoutMs, async () => {
          const rows = await managerRows(swarmctl, members[0]!.socket);
          const id = await nodeId(member);
          return rows.filter((r) => r.reachable).length >= i + 1 && rows.some((r) => r.id === id) ? true : undefined;
        }),
        died,
      ]);
    }
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}
