// Controls the container of one task, in the shape of SwarmKit's
// exec.Controller: prepare, start, wait, shutdown, terminate, remove.
// Every operation addresses the container by its task name, so a restarted
// agent can pick up a container it created before.
import { getLogger } from "../../../shared/logging.js";
import { errorMessage } from "../../../shared/errors.js";
import type { DockerClient, ContainerDetails } from "./docker-client.js";
import { EngineError, isEngineError } from "./engine-errors.js";
import { containerCreateOptions, stopTimeoutSeconds, taskName } from "./container-spec.js";
import type { TaskFiles } from "./task-files.js";
import type { ContainerTask, ExitResult } from "./types.js";

const log = getLogger("agent/executor/container-controller");

/** prepare(): "created" a new container, or found the task's container "existing" (SwarmKit's ErrTaskPrepared). */
export type PrepareResult = "created" | "existing";
/** start(): "started" it now, or it had "already-started" before (SwarmKit's ErrTaskStarted). */
export type StartResult = "started" | "already-started";

/** SwarmKit's exit error text, e.g. "task: non-zero exit (3)". */
export function exitErrorMessage(r: Pick<ExitResult, "exitCode" | "error">): string {
  return r.error ? `task: non-zero exit (${r.exitCode}): ${r.error}` : `task: non-zero exit (${r.exitCode})`;
}

export class ContainerController {
  readonly task: ContainerTask;
  /** The container (and task) name, `<service>.<slot>.<task id>`. */
  readonly name: string;
  private readonly client: DockerClient;
  private readonly closing = new AbortController();
  private pull: Promise<void> | undefined;

  constructor(
    client: DockerClient,
    task: ContainerTask,
    private readonly files?: TaskFiles,
  ) {
    if (!task.image) throw new EngineError("INVALID_ARGUMENT", "ENGINE_ERROR", `task ${task.taskId}: no image specified`, client.addr);
    this.client = client;
    this.task = task;
    this.name = taskName(task);
  }

  get engineAddr(): string {
    return this.client.addr;
  }

  /** Makes sure the image is there (pulling through the engine if needed) and creates the container. */
  async prepare(): Promise<PrepareResult> {
    this.checkOpen();
    // A container left from an earlier run of this task: adopt it.
    const existing = await this.inspect();
    if (existing) return "existing";
    await this.ensureImage();
    const create = containerCreateOptions(await this.withFiles());
    try {
      await this.client.createContainer(create);
    } catch (err) {
      if (isEngineError(err, "NAME_CONFLICT")) {
        await this.client.inspectContainer(this.name);
        return "existing";
      }
      if (isEngineError(err, "IMAGE_NOT_FOUND")) {
        throw new EngineError("NOT_FOUND", "IMAGE_NOT_FOUND", `image ${this.task.image} not found on docker engine at ${this.client.addr}`, this.client.addr, { cause: err });
      }
      throw err;
    }
    return "created";
  }

  /** The task with its secret/config files written and bind-mounted. */
  private async withFiles(): Promise<ContainerTask> {
    const files = this.task.resolveFiles?.() ?? [];
    if (files.length === 0) return this.task;
    if (!this.files) throw new EngineError("FAILED_PRECONDITION", "ENGINE_ERROR", `task ${this.task.taskId}: this executor has no directory for secret and config files`, this.client.addr);
    const mounts = await this.files.write(this.task.taskId, files);
    return { ...this.task, mounts: [...(this.task.mounts ?? []), ...mounts] };
  }

  private ensureImage(): Promise<void> {
    // One pull per controller, shared by repeated prepare calls (as in SwarmKit).
    this.pull ??= this.pullIfNeeded().finally(() => {
      // Allow a later prepare to retry after a failure.
      this.pull = undefined;
    });
    return this.pull;
  }

  private async pullIfNeeded(): Promise<void> {
    const image = this.task.image;
    const policy = this.task.pullPolicy ?? "missing";
    if (policy === "missing" && (await this.client.hasImage(image))) return;
    try {
      log.debug({ image, task: this.task.taskId }, "pulling image");
      await this.client.pullImage(image, this.closing.signal);
      return;
    } catch (err) {
      if (isEngineError(err, "ENGINE_UNREACHABLE") || isEngineError(err, "CANCELLED")) throw err;
      // A registry may be down while a usable local copy exists.
      log.error({ image, task: this.task.taskId, err: errorMessage(err) }, "pulling image failed");
      if (policy === "always" && (await this.client.hasImage(image))) return;
      throw new EngineError(
        "NOT_FOUND",
        "IMAGE_NOT_FOUND",
        `image ${image} is not present on docker engine at ${this.client.addr} and pulling it failed: ${errorMessage(err)}`,
        this.client.addr,
        { cause: err },
      );
    }
  }

  /** Starts the container unless it was ever started before. */
  async start(): Promise<StartResult> {
    this.checkOpen();
    const c = await this.client.inspectContainer(this.name);
    if (c.state !== "created") return "already-started";
    await this.client.startContainer(this.name);
    return "started";
  }

  /**
   * Waits for the container to exit and returns its exit code (also for a
   * non-zero exit: the caller decides). Aborting `signal` (or close()) ends
   * the wait with a CANCELLED error; the container keeps running.
   */
  async wait(signal?: AbortSignal): Promise<ExitResult> {
    this.checkOpen();
    const sig = signal ? AbortSignal.any([signal, this.closing.signal]) : this.closing.signal;
    const before = await this.client.inspectContainer(this.name, sig);
    if (before.state !== "exited" && before.state !== "dead") {
      try {
        await this.client.waitContainer(this.name, { condition: "not-running", signal: sig });
      } catch (err) {
        if (isEngineError(err, "NO_SUCH_CONTAINER")) {
          throw new EngineError("NOT_FOUND", "NO_SUCH_CONTAINER", `container ${this.name} was removed while the task was running`, this.client.addr, { cause: err });
        }
        throw err;
      }
    }
    const after = await this.client.inspectContainer(this.name, sig);
    // Docker's wait returns at once for a never-started container; that is no exit.
    if (after.state === "created") {
      throw new EngineError("FAILED_PRECONDITION", "ENGINE_ERROR", `container ${this.name} was never started`, this.client.addr);
    }
    return { exitCode: after.exitCode, ...(after.error ? { error: after.error } : {}), status: stripDetails(after) };
  }

  /** Stops with the task's grace period (default 10 s), then the engine kills it. */
  async shutdown(): Promise<void> {
    this.checkOpen();
    try {
      await this.client.stopContainer(this.name, stopTimeoutSeconds(this.task));
    } catch (err) {
      if (isEngineError(err, "NO_SUCH_CONTAINER")) return;
      throw err;
    }
  }

  /** Kills the container at once. */
  async terminate(): Promise<void> {
    this.checkOpen();
    try {
      await this.client.killContainer(this.name);
    } catch (err) {
      if (isEngineError(err, "NO_SUCH_CONTAINER")) return;
      throw err;
    }
  }

  /** Shuts the container down (best effort) and removes it with its anonymous volumes. */
  async remove(): Promise<void> {
    this.checkOpen();
    try {
      await this.shutdown();
    } catch (err) {
      if (isEngineError(err, "ENGINE_UNREACHABLE")) throw err;
      log.debug({ task: this.task.taskId, err: errorMessage(err) }, "shutdown failed on removal");
    }
    await this.client.removeContainer(this.name);
    await this.files?.remove(this.task.taskId);
  }

  /** The container's current status, or undefined when it does not exist. */
  async inspect(): Promise<ContainerDetails | undefined> {
    try {
      return await this.client.inspectContainer(this.name);
    } catch (err) {
      if (isEngineError(err, "NO_SUCH_CONTAINER")) return undefined;
      throw err;
    }
  }

  /** Ends in-flight waits and pulls; later calls fail. The container is left alone. */
  close(): void {
    this.closing.abort();
  }

  get closed(): boolean {
    return this.closing.signal.aborted;
  }

  private checkOpen(): void {
    if (this.closing.signal.aborted) {
      throw new EngineError("FAILED_PRECONDITION", "CANCELLED", `controller for task ${this.task.taskId} is closed`, this.client.addr);
    }
  }
}

function stripDetails(d: ContainerDetails): ExitResult["status"] {
  const { name: _n, image: _i, labels: _l, ...status } = d;
  return status;
}
