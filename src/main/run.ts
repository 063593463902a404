// swarmd's process lifecycle: flags → logging → state dir + lock → node →
// wait for a signal or a worker crash → ordered stop → exit code.
// Exit codes: 0 clean stop, 1 start-up failure or worker crash, 2 usage error.
import { isIP } from "node:net";
import { formatHostPort, type NodeConfig } from "../shared/config.js";
import * as Comlink from "comlink";
import type { AgentNodeEventSink, IdentityData } from "../shared/contracts/index.js";
import { SwarmError, errorCode, errorMessage } from "../shared/errors.js";
import { fetchRootCA, identityData, loadIdentity, loadOrCreateIdentity, requestJoin, saveJoinedIdentity, startNodeRenewer, type JoinResult } from "./identity/index.js";
import { MANAGER_ROLE, parseJoinToken, rootDigest } from "../shared/pki/index.js";
import { getLogger, initLogging } from "../shared/logging.js";
import { parseFlags } from "./flags.js";
import { acquireStateLock, type StateLock } from "./lock.js";
import { SwarmNode } from "./node.js";
import { RoleSync } from "./role-sync.js";
import { prepareStateDir, writeStateFile, type StateDirLayout } from "./state-dir.js";
import { productVersion } from "./version.js";

const log = getLogger("swarmd");

/** SIGINT/SIGTERM must end the process within 10 s; past this, give up waiting. */
export const SHUTDOWN_DEADLINE_MS = 9500;

export interface Output {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processOutput: Output = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

export async function runSwarmd(argv: readonly string[], out: Output = processOutput): Promise<number> {
  const parsed = await parseFlags(argv);
  if (parsed.action === "exit") {
    if (parsed.stdout) out.stdout(parsed.stdout);
    if (parsed.stderr) out.stderr(parsed.stderr);
    return parsed.code;
  }
  const config = parsed.config;
  initLogging(config.logLevel, "main");
  warnAboutRemoteAddress(config, out);

  // Signals that arrive during start-up are honoured once start-up is done.
  let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const signalled = new Promise<NodeJS.Signals>((resolve) => (onSignal = resolve));
  const handler = (signal: NodeJS.Signals) => onSignal(signal);
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);

  let lock: StateLock | undefined;
  try {
    // A first join talks to the cluster before anything is written: a refused
    // join leaves the state dir untouched.
    const joined = await joinIfNeeded(config);
    const layout = await prepareStateDir(config.stateDir);
    lock = await acquireStateLock(layout.lockFile, config.stateDir);
    log.info(
      {
        version: productVersion(),
        stateDir: config.stateDir,
        controlSocket: config.listenControlApi,
        remoteApi: formatHostPort(config.listenRemoteApi),
        hostname: config.hostname,
      },
      "starting swarmd",
    );
    const identity = await establishIdentity(config, joined, layout);
    const node = await SwarmNode.start({ config, initialRole: identity.role, identity });
    log.info({ role: node.role }, "node is ready");
    const renewer = startNodeRenewer(config.stateDir, identity.tls, node);
    const roleSync = new RoleSync(node, renewer);
    roleSync.start();
    const removed = watchAgent(node, roleSync);

    const outcome = await Promise.race([
      node.done.then((exit) => ({ kind: "exit" as const, exit })),
      signalled.then((signal) => ({ kind: "signal" as const, signal })),
      removed.then((message) => ({ kind: "removed" as const, message })),
    ]);
    await roleSync.stop();
    if (outcome.kind === "removed") {
      // The cluster refuses this certificate for good: retrying forever would hide that. Exit 1, saying what to do.
      log.fatal({ reason: outcome.message }, `this node was removed from the swarm and its certificate is refused; to join again, empty the state dir ${config.stateDir} and join with a token`);
      await renewer.stop();
      await node.stop();
      out.stderr(`swarmd: this node was removed from the swarm (${outcome.message}); to join again, empty the state dir ${config.stateDir} and join with --join-token\n`);
      return 1;
    }
    if (outcome.kind === "signal") {
      log.info({ signal: outcome.signal }, `received ${outcome.signal}, stopping`);
      process.on(outcome.signal, () => log.warn("already stopping"));
      const deadline = setTimeout(() => {
        log.fatal(`could not stop within ${SHUTDOWN_DEADLINE_MS} ms; exiting`);
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS);
      deadline.unref();
      await renewer.stop();
      await node.stop();
      clearTimeout(deadline);
      log.info("swarmd stopped");
      return 0;
    }
    await renewer.stop();
    const exit = await node.done;
    if (exit.reason === "crashed") {
      log.fatal({ worker: exit.worker }, `swarmd stopped: the ${exit.worker} worker died: ${exit.error.message}`);
      return 1;
    }
    return 0;
  } catch (err) {
    // A start-up failure: one clear line, no stack.
    out.stderr(`swarmd: ${errorMessage(err)}\n`);
    return 1;
  } finally {
    await lock?.release();
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  }
}

/** Feeds the agent's role events to RoleSync; resolves when the cluster says this node was removed. */
function watchAgent(node: SwarmNode, roleSync: RoleSync): Promise<string> {
  return new Promise<string>((resolve) => {
    const sink: AgentNodeEventSink = {
      event: (e) => {
        if (e.kind === "removed") resolve(e.message);
        else roleSync.observe(e);
      },
    };
    node.agent.watchNode(Comlink.proxy(sink)).catch((err: unknown) => log.warn({ err: errorMessage(err) }, "cannot watch the agent's node events"));
  });
}

/**
 * The network half of a first join (--join-addr with no identity on disk
 * yet): certificate issued and verified, kept in memory.
 */
async function joinIfNeeded(config: NodeConfig): Promise<JoinResult | undefined> {
  if (config.joinAddr === undefined) return undefined;
  const existing = await loadIdentity(config.stateDir, { allowExpired: config.forceNewCluster });
  if (existing) {
    await checkSameCluster(config, existing.tls.caPem);
    return undefined;
  }
  if (config.joinToken === undefined) {
    throw new SwarmError("INVALID_ARGUMENT", "--join-addr needs --join-token for this node's first join (it has no certificate yet)");
  }
  return requestJoin({ joinAddr: formatHostPort(config.joinAddr), token: config.joinToken });
}

/**
 * A node that already has certificates and is given --join-addr must belong
 * to that cluster: certificates from another root CA fail start-up at once
 * (SwarmKit's nodes fail fast here too) instead of retrying forever. The
 * token's digest decides when there is one; else the root the manager
 * presents. An unreachable manager is not an error (it may come back).
 */
async function checkSameCluster(config: NodeConfig, localRootPem: string): Promise<void> {
  const local = rootDigest(localRootPem);
  const addr = formatHostPort(config.joinAddr!);
  const mismatch = (detail: string) =>
    new SwarmError(
      "FAILED_PRECONDITION",
      `the certificates in ${config.stateDir}/certificates belong to another cluster than ${addr} (${detail}); ` +
        "to join this cluster, empty the state dir and join with a token",
    );
  if (config.joinToken !== undefined) {
    const token = parseJoinToken(config.joinToken);
    if (token.digestHex !== local) throw mismatch(`the join token's root CA digest is ${token.digestHex}, the local root CA's is ${local}`);
    return;
  }
  // A manager that is still starting may not serve the CA yet: a few tries.
  for (let attempt = 1; ; attempt++) {
    try {
      await fetchRootCA(addr, local, 3000);
      return;
    } catch (err) {
      if (errorCode(err) === "PERMISSION_DENIED") throw mismatch(errorMessage(err));
      if (attempt >= ROOT_CHECK_ATTEMPTS) {
        log.warn({ joinAddr: addr, err: errorMessage(err) }, "could not check the local root CA against the join address; continuing");
        return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

const ROOT_CHECK_ATTEMPTS = 5;

/**
 * The node's identity: the one in the state dir if there is one (its
 * certificate says the role), else the one a join just obtained (saved now,
 * with the join address as the first known manager in state.json), else a
 * new cluster's (this node is its first manager).
 */
async function establishIdentity(config: NodeConfig, joined: JoinResult | undefined, layout: StateDirLayout): Promise<IdentityData> {
  const allowExpired = config.forceNewCluster;
  const existing = await loadIdentity(config.stateDir, { allowExpired });
  if (existing) return identityData(existing);
  if (joined) {
    const id = await saveJoinedIdentity(config.stateDir, joined);
    await writeStateFile(layout.stateFile, [{ node_id: "", addr: joined.joinAddr }]);
    return identityData(id);
  }
  if (config.joinAddr !== undefined) throw new SwarmError("FAILED_PRECONDITION", "no certificate after joining; cannot start");
  return identityData(await loadOrCreateIdentity(config.stateDir, { role: MANAGER_ROLE, allowExpired }));
}

/** SwarmKit prints this on stdout when the remote API address cannot be reached from other hosts. */
function warnAboutRemoteAddress(config: NodeConfig, out: Output): void {
  const host = config.listenRemoteApi.host;
  const unspecified = host === "0.0.0.0" || host === "::";
  const loopback = host === "localhost" || (isIP(host) === 4 && host.startsWith("127.")) || host === "::1";
  if (unspecified || loopback) {
    out.stdout("Warning: Specifying a valid address with --listen-remote-api may be necessary for other managers to reach this one.\n");
  }
}
