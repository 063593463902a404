// The agent's executor on a Docker engine (--engine-addr): describes the
// node, hands out one controller per task, and finds the task containers a
// previous run left behind so a restarted agent can adopt them.
import { DockerClient, type DockerClientOptions, type EventSubscription } from "./docker-client.js";
import { ContainerController } from "./container-controller.js";
import { LABEL_NODE_ID } from "./container-spec.js";
import { TaskFiles } from "./task-files.js";
import type { ContainerTask, EngineDescription, TaskContainer, TaskContainerEvent } from "./types.js";

export class DockerExecutor {
  readonly client: DockerClient;
  /** Per-task secret/config files (absent: tasks that reference any are rejected). */
  readonly files: TaskFiles | undefined;

  constructor(engineAddr: string, opts: DockerClientOptions & { filesRoot?: string } = {}) {
    this.client = new DockerClient(engineAddr, opts);
    this.files = opts.filesRoot ? new TaskFiles(opts.filesRoot) : undefined;
  }

  get engineAddr(): string {
    return this.client.addr;
  }

  /** Resolves when the engine answers; an EngineError (UNAVAILABLE) names the address otherwise. */
  ping(signal?: AbortSignal): Promise<void> {
    return this.client.ping(signal);
  }

  /** Engine version, labels, hostname, CPUs, memory, os/arch (SwarmKit's executor Describe). */
  describeEngine(): Promise<EngineDescription> {
    return this.client.describe();
  }

  /** A controller for one task; cheap, does not talk to the engine. */
  controller(task: ContainerTask): ContainerController {
    return new ContainerController(this.client, task, this.files);
  }

  /** Task containers on this engine, running or not, optionally only those of one node. */
  listTaskContainers(nodeId?: string): Promise<TaskContainer[]> {
    return this.client.listTaskContainers(nodeId ? { nodeId } : {});
  }

  /** Lifecycle events (create/start/die/destroy/oom/…) of task containers, optionally of one node. */
  subscribeEvents(onEvent: (e: TaskContainerEvent) => void, nodeId?: string): Promise<EventSubscription> {
    return this.client.subscribeTaskEvents(onEvent, nodeId ? { labels: [`${LABEL_NODE_ID}=${nodeId}`] } : {});
  }
}
