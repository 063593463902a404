// Plain input and output types of the Docker executor. They are independent
// of the generated protobuf types on purpose: the agent maps its api.Task onto
// ContainerTask, and ContainerStatus / TaskStatusUpdate back onto api types.
import type { TaskFile } from "./task-files.js";

/** A mount as in SwarmKit's api.Mount (bind, volume or tmpfs). */
export interface TaskMount {
  type: "bind" | "volume" | "tmpfs";
  /** Host path (bind), volume name (volume); ignored for tmpfs. */
  source?: string;
  target: string;
  readOnly?: boolean;
  /** tmpfs only. */
  tmpfsSizeBytes?: number;
  /** tmpfs only, e.g. 0o1777. */
  tmpfsMode?: number;
}

/** Resource limits (SwarmKit's Resources limits); 0 or absent means none. */
export interface TaskResourceLimits {
  nanoCpus?: number;
  memoryBytes?: number;
  pids?: number;
}

/** Everything the executor needs to run one task as a container. */
export interface ContainerTask {
  taskId: string;
  serviceId: string;
  serviceName: string;
  nodeId: string;
  /** Replica slot, 1-based; 0 for global services (the node ID names the task then). */
  slot: number;
  /**
   * Task annotation name; when set it replaces the derived name, exactly as
   * SwarmKit's naming.Task does. Usually absent.
   */
  annotationsName?: string;
  image: string;
  /** Replaces the image entrypoint (SwarmKit's ContainerSpec.Command). */
  command?: string[];
  /** Arguments (ContainerSpec.Args) → Cmd. */
  args?: string[];
  /** "KEY=value" entries. */
  env?: string[];
  /** Container spec labels; the com.docker.swarm.* system labels override them. */
  labels?: Record<string, string>;
  /** Task annotation labels (set by the orchestrator); override spec labels. */
  taskLabels?: Record<string, string>;
  mounts?: TaskMount[];
  limits?: TaskResourceLimits;
  /** Grace between the stop signal and SIGKILL; default 10 000 ms as in SwarmKit. */
  stopGracePeriodMs?: number;
  stopSignal?: string;
  hostname?: string;
  user?: string;
  dir?: string;
  init?: boolean;
  tty?: boolean;
  openStdin?: boolean;
  groups?: string[];
  capAdd?: string[];
  capDrop?: string[];
  /** "IP host [aliases]" lines as in SwarmKit; converted to Docker's "host:IP". */
  hosts?: string[];
  /** Docker network mode; default "none" (this project runs without bridges). */
  networkMode?: string;
  /**
   * "missing" (default): pull only when the image is not present.
   * "always": pull every time as SwarmKit does; a failed pull is logged and
   * the local image used if present.
   */
  pullPolicy?: "missing" | "always";
  /**
   * The secret and config files the container needs, resolved only when it
   * is created (an adopted container already has them); throws when one is
   * not available on this node.
   */
  resolveFiles?: () => TaskFile[];
}

/** SwarmKit's ContainerStatus plus the Docker state that produced it. */
export interface ContainerStatus {
  containerId: string;
  pid: number;
  exitCode: number;
  /** Docker state: created, running, paused, restarting, removing, exited, dead. */
  state: string;
  running: boolean;
  /** Docker's State.Error (e.g. an OCI runtime error), empty when none. */
  error: string;
  oomKilled: boolean;
  startedAt?: string;
  finishedAt?: string;
}

/** Result of waiting for a container to exit. */
export interface ExitResult {
  exitCode: number;
  /** Error reported by the engine for this exit, if any. */
  error?: string;
  status: ContainerStatus;
}

/** What an engine tells about its node (SwarmKit's NodeDescription parts). */
export interface EngineDescription {
  hostname: string;
  platform: { architecture: string; os: string };
  engineVersion: string;
  apiVersion: string;
  labels: Record<string, string>;
  plugins: Array<{ type: string; name: string }>;
  nanoCpus: number;
  memoryBytes: number;
}

/** A container that carries SwarmKit's task labels (found by listTaskContainers). */
export interface TaskContainer {
  containerId: string;
  name: string;
  taskId: string;
  taskName: string;
  serviceId: string;
  serviceName: string;
  nodeId: string;
  image: string;
  /** Docker state: created, running, exited, … */
  state: string;
  labels: Record<string, string>;
}

/** A container lifecycle event from the engine, for the tasks of this executor. */
export interface TaskContainerEvent {
  /** create, start, die, kill, stop, destroy, oom, health_status: healthy, … */
  action: string;
  containerId: string;
  name: string;
  taskId: string;
  exitCode?: number;
  /** Unix time in nanoseconds, as a bigint-safe string. */
  timeNano: string;
}
