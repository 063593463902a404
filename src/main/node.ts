// A running swarmd node inside this process: the manager and agent worker
// threads, the three channels between the threads, and the role flag. Main
// owns the flag; setRole() flips it and waits until the manager worker has
// applied it. If a worker dies, the other one is stopped and `done` resolves
// with which worker died and why.
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import { existsSync, lstatSync, unlinkSync } from "node:fs";
import { connectApi, type Client, type Connection } from "../shared/channel/index.js";
import type { NodeConfig } from "../shared/config.js";
import type {
  IdentityData,
  AgentApi,
  AgentBootData,
  ManagerApi,
  ManagerBootData,
  ManagerStatus,
} from "../shared/contracts/index.js";
import { SwarmError, errorMessage } from "../shared/errors.js";
import { getLogger } from "../shared/logging.js";
import { RoleFlag, type NodeRole } from "../shared/role-flag.js";

const log = getLogger("node");

export type WorkerName = "manager" | "agent";

/** Each worker gets this long to stop before it is terminated. Two in a row stay under SIGTERM's 10 s. */
export const WORKER_STOP_TIMEOUT_MS = 4000;
/** Bound on a role change; binding listeners is fast, later raft joins are not. */
export const ROLE_CHANGE_TIMEOUT_MS = 16_000;

export type NodeExit = { reason: "stopped" } | { reason: "crashed"; worker: WorkerName; error: Error };

export interface SwarmNodeOptions {
  config: NodeConfig;
  /** Role to start with. A fresh state dir without --join-addr bootstraps a cluster: manager. */
  initialRole: NodeRole;
  /** The node's certificate, key and root CA (and the root CA key on a bootstrapping node). */
  identity: IdentityData;
}

interface Thread<T extends object> {
  name: WorkerName;
  worker: Worker;
  connection: Connection<T>;
  exited: Promise<number>;
  hasExited(): boolean;
}

const WORKER_URLS: Record<WorkerName, URL> = {
  manager: new URL("../workers/manager/index.js", import.meta.url),
  agent: new URL("../workers/agent/index.js", import.meta.url),
};

export class SwarmNode {
  readonly config: NodeConfig;
  /** Resolves once both workers are gone: stopped on request, or after a crash. */
  readonly done: Promise<NodeExit>;
  private readonly flag: RoleFlag;
  private readonly managerThread: Thread<ManagerApi>;
  private readonly agentThread: Thread<AgentApi>;
  private stopping: Promise<void> | undefined;
  private resolveDone!: (exit: NodeExit) => void;
  private crash: { worker: WorkerName; error: Error } | undefined;
  /** Set while the manager worker has the control socket bound, for clean-up if it is killed. */
  private boundControlSocket: string | undefined;

  private constructor(options: SwarmNodeOptions) {
    this.config = options.config;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.flag = RoleFlag.create(options.initialRole);

    const toManager = new MessageChannel();
    const toAgent = new MessageChannel();
    const agentToManager = new MessageChannel();
    const managerData: ManagerBootData = {
      config: this.config,
      identity: options.identity,
      roleBuffer: this.flag.buffer,
      mainPort: toManager.port2,
      agentPort: agentToManager.port1,
    };
    const agentData: AgentBootData = {
      config: this.config,
      identity: withoutRootKey(options.identity),
      roleBuffer: this.flag.buffer,
      mainPort: toAgent.port2,
      managerPort: agentToManager.port2,
    };
    this.managerThread = this.spawn<ManagerApi>("manager", managerData, [toManager.port2, agentToManager.port1], toManager.port1);
    this.agentThread = this.spawn<AgentApi>("agent", agentData, [toAgent.port2, agentToManager.port2], toAgent.port1);
  }

  /**
   * Spawn both workers and wait until the manager worker has applied the
   * initial role. A start-up failure (port in use, socket taken) stops
   * everything and rejects with that error.
   */
  static async start(options: SwarmNodeOptions): Promise<SwarmNode> {
    const node = new SwarmNode(options);
    try {
      await node.awaitApplied(0);
    } catch (err) {
      await node.stop();
      throw err;
    }
    return node;
  }

  get manager(): Client<ManagerApi> {
    return this.managerThread.connection.api;
  }

  get agent(): Client<AgentApi> {
    return this.agentThread.connection.api;
  }

  get role(): NodeRole {
    return this.flag.role;
  }

  /** Flip the role flag and wait until the manager worker has applied it. */
  async setRole(role: NodeRole): Promise<ManagerStatus> {
    if (this.stopping) throw new SwarmError("FAILED_PRECONDITION", "node is stopping");
    const generation = this.flag.set(role);
    log.info({ role, generation }, "role changed");
    return this.awaitApplied(generation);
  }

  /** Stop the agent, then the manager (it serves the agent's session), then release what is left. */
  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async awaitApplied(generation: number): Promise<ManagerStatus> {
    const crashed = this.done.then((exit) => {
      throw exit.reason === "crashed"
        ? new SwarmError("UNAVAILABLE", `${exit.worker} worker died: ${exit.error.message}`)
        : new SwarmError("CANCELLED", "node stopped");
    });
    const status = await Promise.race([this.manager.awaitRole(generation), crashed]);
    this.boundControlSocket = status.services?.controlSocket;
    return status;
  }

  private spawn<T extends object>(
    name: WorkerName,
    workerData: ManagerBootData | AgentBootData,
    transferList: MessagePort[],
    mainPort: MessagePort,
  ): Thread<T> {
    const worker = new Worker(WORKER_URLS[name], { workerData, transferList, name: `swarmd-${name}` });
    const connection = connectApi<T>(mainPort, {
      peer: name,
      methodTimeoutsMs: { stop: WORKER_STOP_TIMEOUT_MS, awaitRole: ROLE_CHANGE_TIMEOUT_MS },
    });
    let lastError: Error | undefined;
    let exitedYet = false;
    worker.on("error", (err) => {
      lastError = err instanceof Error ? err : new Error(errorMessage(err));
    });
    const exited = new Promise<number>((resolve) => {
      worker.once("exit", (code) => {
        exitedYet = true;
        resolve(code);
        if (!this.stopping) {
          this.onCrash(name, lastError ?? new Error(`exited unexpectedly with code ${code}`));
        }
      });
    });
    return { name, worker, connection, exited, hasExited: () => exitedYet };
  }

  private onCrash(name: WorkerName, error: Error): void {
    if (this.crash) return;
    this.crash = { worker: name, error };
    const other: WorkerName = name === "manager" ? "agent" : "manager";
    log.error({ worker: name, err: error }, `${name} worker died (${error.message}); stopping the ${other} worker`);
    void this.stop();
  }

  private async stopAll(): Promise<void> {
    await this.stopThread(this.agentThread);
    await this.stopThread(this.managerThread);
    this.removeLeftoverSocket();
    this.resolveDone(this.crash ? { reason: "crashed", ...this.crash } : { reason: "stopped" });
  }

  private async stopThread<T extends { stop(): Promise<void> }>(thread: Thread<T>): Promise<void> {
    if (!thread.hasExited() && !thread.connection.isClosed()) {
      try {
        await thread.connection.api.stop();
      } catch (err) {
        log.warn({ worker: thread.name, err }, `${thread.name} worker did not stop cleanly; terminating it`);
      }
    }
    thread.connection.close();
    await thread.worker.terminate();
    await thread.exited;
    log.debug({ worker: thread.name }, `${thread.name} worker exited`);
  }

  /** If the manager worker was killed while serving, its socket file is ours to remove. */
  private removeLeftoverSocket(): void {
    const path = this.boundControlSocket;
    if (!path || !existsSync(path)) return;
    try {
      if (lstatSync(path).isSocket()) unlinkSync(path);
    } catch (err) {
      log.warn({ path, err }, "could not remove the control socket");
    }
  }
}

/** The agent never needs the root CA key. */
function withoutRootKey(identity: IdentityData): IdentityData {
  const { rootCaKeyPem: _dropped, ...rest } = identity;
  return rest;
}
