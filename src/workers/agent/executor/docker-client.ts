// Typed wrapper over dockerode: every call returns our own types and every
// failure an EngineError that names the engine address and the object.
import Docker from "dockerode";
import type Dockerode from "dockerode";
import { getLogger } from "../../../shared/logging.js";
import { parseEngineAddr } from "./engine-address.js";
import { EngineError, mapEngineError } from "./engine-errors.js";
import { ndjsonSplitter, readNdjson } from "./ndjson.js";
import {
  LABEL_NODE_ID,
  LABEL_SERVICE_ID,
  LABEL_SERVICE_NAME,
  LABEL_TASK_ID,
  LABEL_TASK_NAME,
} from "./container-spec.js";
import type { ContainerStatus, EngineDescription, TaskContainer, TaskContainerEvent } from "./types.js";

const log = getLogger("agent/executor/docker-client");

export interface DockerClientOptions {
  /** Deadline of each short API call (not of wait, pull or events); default 30 s. */
  requestTimeoutMs?: number;
}

/** Container details: the status plus what identifies the container. */
export interface ContainerDetails extends ContainerStatus {
  name: string;
  image: string;
  labels: Record<string, string>;
}

export interface EventSubscription {
  /** Resolves when the stream ends (engine gone, or closed by us). */
  readonly done: Promise<void>;
  close(): void;
}

interface RawInfo {
  Name?: string;
  NCPU?: number;
  MemTotal?: number;
  OSType?: string;
  Architecture?: string;
  ServerVersion?: string;
  Labels?: string[] | null;
  Plugins?: { Volume?: string[] | null; Network?: string[] | null; Authorization?: string[] | null } | null;
}

interface RawWait {
  StatusCode?: number;
  Error?: { Message?: string } | null;
}

interface RawEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  timeNano?: number;
  time?: number;
}

function asStatus(info: Dockerode.ContainerInspectInfo): ContainerDetails {
  const s = info.State;
  return {
    containerId: info.Id,
    name: info.Name.replace(/^\//, ""),
    image: (info.Config as { Image?: string } | undefined)?.Image ?? info.Image,
    labels: { ...((info.Config as { Labels?: Record<string, string> | null } | undefined)?.Labels ?? {}) },
    pid: s.Pid,
    exitCode: s.ExitCode,
    state: s.Status,
    running: s.Running,
    error: s.Error ?? "",
    oomKilled: s.OOMKilled,
    ...(s.StartedAt && !s.StartedAt.startsWith("0001-") ? { startedAt: s.StartedAt } : {}),
    ...(s.FinishedAt && !s.FinishedAt.startsWith("0001-") ? { finishedAt: s.FinishedAt } : {}),
  };
}

/** The dockerode calls whose `abortSignal` option @types/dockerode leaves out (the runtime supports it). */
interface AbortableCalls {
  ping(opts: { abortSignal: AbortSignal }): Promise<unknown>;
  info(opts: { abortSignal: AbortSignal }): Promise<RawInfo>;
  version(opts: { abortSignal: AbortSignal }): Promise<Dockerode.DockerVersion>;
}

export class DockerClient {
  readonly addr: string;
  private readonly docker: Docker;
  private readonly abortable: AbortableCalls;
  private readonly requestTimeoutMs: number;

  constructor(addr: string, opts: DockerClientOptions = {}) {
    this.addr = addr;
    const ep = parseEngineAddr(addr);
    this.docker =
      ep.kind === "unix"
        ? new Docker({ socketPath: ep.socketPath })
        : new Docker({ host: ep.host, port: ep.port, protocol: ep.protocol });
    this.abortable = this.docker as unknown as AbortableCalls;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
  }

  /**
   * Runs one engine call under a deadline; maps every failure. The call is
   * also raced against the signal because a few dockerode calls (image
   * inspect) do not forward it to the HTTP request.
   */
  private async call<T>(what: string, fn: (signal: AbortSignal) => Promise<T>, opts: { signal?: AbortSignal; timeoutMs?: number | null } = {}): Promise<T> {
    const timeoutMs = opts.timeoutMs === undefined ? this.requestTimeoutMs : opts.timeoutMs;
    const timer = timeoutMs === null ? undefined : AbortSignal.timeout(timeoutMs);
    const signals = [opts.signal, timer].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length === 1 ? signals[0]! : AbortSignal.any(signals.length ? signals : [new AbortController().signal]);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(Object.assign(new Error(`${what} aborted`), { name: "AbortError" }));
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
    aborted.catch(() => undefined);
    try {
      return await Promise.race([fn(signal), aborted]);
    } catch (err) {
      if (timer?.aborted && !opts.signal?.aborted) {
        throw new EngineError("DEADLINE_EXCEEDED", "TIMEOUT", `docker engine at ${this.addr} did not answer within ${timeoutMs} ms (${what})`, this.addr, { cause: err });
      }
      throw mapEngineError(err, this.addr, what);
    } finally {
      if (onAbort) signal.removeEventListener("abort", onAbort);
    }
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.call("ping", (s) => this.abortable.ping({ abortSignal: s }), signal ? { signal } : {});
  }

  async describe(): Promise<EngineDescription> {
    const [info, version] = await Promise.all([
      this.call("info", (s) => this.abortable.info({ abortSignal: s })),
      this.call("version", (s) => this.abortable.version({ abortSignal: s })),
    ]);
    const labels: Record<string, string> = {};
    for (const l of info.Labels ?? []) {
      const i = l.indexOf("=");
      if (i > 0) labels[l.slice(0, i)] = l.slice(i + 1);
    }
    // Like SwarmKit: v1 volume/network/authorization plugins, plus the builtin overlay driver.
    const plugins = new Map<string, { type: string; name: string }>();
    const add = (type: string, names: string[] | null | undefined): void => {
      for (const name of names ?? []) plugins.set(`${type}\0${name}`, { type, name });
    };
    add("Volume", info.Plugins?.Volume);
    add("Network", ["overlay", ...(info.Plugins?.Network ?? [])]);
    add("Authorization", info.Plugins?.Authorization);
    const sorted = [...plugins.values()].sort((a, b) => (a.type === b.type ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.type < b.type ? -1 : 1));
    return {
      hostname: info.Name ?? "",
      platform: { architecture: info.Architecture ?? "", os: info.OSType ?? "" },
      engineVersion: info.ServerVersion ?? version.Version,
      apiVersion: version.ApiVersion,
      labels,
      plugins: sorted,
      nanoCpus: (info.NCPU ?? 0) * 1e9,
      memoryBytes: info.MemTotal ?? 0,
    };
  }

  async hasImage(ref: string): Promise<boolean> {
    try {
      await this.call(`inspect image ${ref}`, () => this.docker.getImage(ref).inspect());
      return true;
    } catch (err) {
      if (err instanceof EngineError && err.statusCode === 404) return false;
      throw err;
    }
  }

  /** Pulls through the engine; the engine reports failures inside the progress stream too. */
  async pullImage(ref: string, signal?: AbortSignal): Promise<void> {
    const what = `pull image ${ref}`;
    await this.call(
      what,
      async (s) => {
        const stream = await this.docker.pull(ref, { abortSignal: s });
        const progress = await readNdjson(stream, s);
        const last = progress[progress.length - 1] as { error?: unknown; errorDetail?: { message?: unknown } } | undefined;
        if (last && last.error !== undefined) {
          throw new EngineError("UNKNOWN", "ENGINE_ERROR", `${what}: ${String(last.errorDetail?.message ?? last.error)}`, this.addr);
        }
      },
      { ...(signal ? { signal } : {}), timeoutMs: null },
    );
  }

  async createContainer(opts: Dockerode.ContainerCreateOptions): Promise<string> {
    const c = await this.call(`create container ${opts.name ?? ""}`.trim(), (s) => this.docker.createContainer({ ...opts, abortSignal: s }));
    return c.id;
  }

  async inspectContainer(nameOrId: string, signal?: AbortSignal): Promise<ContainerDetails> {
    const info = await this.call(`inspect container ${nameOrId}`, (s) => this.docker.getContainer(nameOrId).inspect({ abortSignal: s }), signal ? { signal } : {});
    return asStatus(info);
  }

  /** Starts a container; one that already runs is fine (304). */
  async startContainer(nameOrId: string): Promise<void> {
    try {
      await this.call(`start container ${nameOrId}`, (s) => this.docker.getContainer(nameOrId).start({ abortSignal: s }));
    } catch (err) {
      if (err instanceof EngineError && err.statusCode === 304) return;
      throw err;
    }
  }

  /**
   * Blocks until the container is not running (or, with "next-exit", until its
   * next exit — register that before start to never miss a fast exit).
   */
  async waitContainer(nameOrId: string, opts: { condition?: "not-running" | "next-exit" | "removed"; signal?: AbortSignal } = {}): Promise<{ exitCode: number; error?: string }> {
    const raw = await this.call(
      `wait for container ${nameOrId}`,
      (s) => this.docker.getContainer(nameOrId).wait({ condition: opts.condition ?? "not-running", abortSignal: s }) as Promise<RawWait>,
      { ...(opts.signal ? { signal: opts.signal } : {}), timeoutMs: null },
    );
    const error = raw.Error?.Message;
    return { exitCode: raw.StatusCode ?? -1, ...(error ? { error } : {}) };
  }

  /** Sends the stop signal, then SIGKILL after timeoutSeconds. A stopped container is fine (304). */
  async stopContainer(nameOrId: string, timeoutSeconds: number): Promise<void> {
    try {
      await this.call(`stop container ${nameOrId}`, (s) => this.docker.getContainer(nameOrId).stop({ t: timeoutSeconds, abortSignal: s }), {
        timeoutMs: timeoutSeconds * 1000 + this.requestTimeoutMs,
      });
    } catch (err) {
      if (err instanceof EngineError && err.statusCode === 304) return;
      throw err;
    }
  }

  /** Kills (default SIGKILL); a container that does not run is fine (409). */
  async killContainer(nameOrId: string, signal?: string): Promise<void> {
    try {
      await this.call(`kill container ${nameOrId}`, (s) => this.docker.getContainer(nameOrId).kill({ ...(signal ? { signal } : {}), abortSignal: s }));
    } catch (err) {
      if (err instanceof EngineError && err.statusCode === 409) return;
      throw err;
    }
  }

  /** Removes with force and anonymous volumes; a missing container is fine. */
  async removeContainer(nameOrId: string): Promise<void> {
    try {
      await this.call(`remove container ${nameOrId}`, (s) => this.docker.getContainer(nameOrId).remove({ force: true, v: true, abortSignal: s }));
    } catch (err) {
      if (err instanceof EngineError && err.reason === "NO_SUCH_CONTAINER") return;
      // Removal already under way: the engine finishes it.
      if (err instanceof EngineError && err.statusCode === 409 && /already in progress/i.test(err.message)) return;
      throw err;
    }
  }

  /** Containers (running or not) carrying SwarmKit's task labels, optionally for one node. */
  async listTaskContainers(filter: { nodeId?: string; serviceId?: string; extraLabels?: string[] } = {}): Promise<TaskContainer[]> {
    const label = [LABEL_TASK_ID];
    if (filter.nodeId) label.push(`${LABEL_NODE_ID}=${filter.nodeId}`);
    if (filter.serviceId) label.push(`${LABEL_SERVICE_ID}=${filter.serviceId}`);
    label.push(...(filter.extraLabels ?? []));
    const list = await this.call("list task containers", (s) =>
      this.docker.listContainers({ all: true, filters: JSON.stringify({ label }), abortSignal: s } as Dockerode.ContainerListOptions),
    );
    return list.map((c) => {
      const l = c.Labels ?? {};
      return {
        containerId: c.Id,
        name: (c.Names[0] ?? "").replace(/^\//, ""),
        taskId: l[LABEL_TASK_ID] ?? "",
        taskName: l[LABEL_TASK_NAME] ?? "",
        serviceId: l[LABEL_SERVICE_ID] ?? "",
        serviceName: l[LABEL_SERVICE_NAME] ?? "",
        nodeId: l[LABEL_NODE_ID] ?? "",
        image: c.Image,
        state: c.State,
        labels: { ...l },
      };
    });
  }

  /**
   * Streams container events carrying SwarmKit's task labels (optionally
   * narrowed by extra label filters such as `com.docker.swarm.node.id=<id>`).
   */
  async subscribeTaskEvents(onEvent: (e: TaskContainerEvent) => void, opts: { labels?: string[]; since?: number } = {}): Promise<EventSubscription> {
    const ac = new AbortController();
    const filters = { type: ["container"], label: [LABEL_TASK_ID, ...(opts.labels ?? [])] };
    const stream = await this.call(
      "subscribe to events",
      (s) => this.docker.getEvents({ filters: JSON.stringify(filters), ...(opts.since !== undefined ? { since: opts.since } : {}), abortSignal: s } as Dockerode.GetEventsOptions),
      { signal: ac.signal, timeoutMs: null },
    );
    const push = ndjsonSplitter(
      (v) => {
        const e = v as RawEvent;
        const attrs = e.Actor?.Attributes ?? {};
        const exit = attrs["exitCode"];
        onEvent({
          action: e.Action ?? e.status ?? "",
          containerId: e.Actor?.ID ?? e.id ?? "",
          name: attrs["name"] ?? "",
          taskId: attrs[LABEL_TASK_ID] ?? "",
          ...(exit !== undefined ? { exitCode: Number(exit) } : {}),
          timeNano: String(e.timeNano ?? (e.time ?? 0) * 1e9),
        });
      },
      (line) => log.warn({ line }, "unparsable engine event"),
    );
    const done = new Promise<void>((resolve) => {
      stream.on("data", push);
      stream.on("end", () => resolve());
      stream.on("close", () => resolve());
      stream.on("error", (err: Error) => {
        if (!ac.signal.aborted) log.warn({ err: err.message, engine: this.addr }, "engine event stream failed");
        resolve();
      });
    });
    return {
      done,
      close: () => {
        ac.abort();
        (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      },
    };
  }
}

