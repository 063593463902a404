// SwarmKit's service flags (swarmctl service/flagparser) and how they merge
// into a ServiceSpec. Only flags given on the command line change the spec,
// as cobra's flags.Changed does; values are checked here and bad ones raise
// FlagError (a usage error).
import {
  ConfigReference,
  ContainerSpec,
  Mount,
  Mount_Type,
  PortConfig,
  PortConfig_Protocol,
  PortConfig_PublishMode,
  RestartPolicy_RestartCondition,
  SecretReference,
  ServiceSpec,
  UpdateConfig,
  UpdateConfig_FailureAction,
  UpdateConfig_UpdateOrder,
  durationFromMillis,
  type Duration,
  type GenericResource,
  type Resources,
  type TaskSpec,
} from "../shared/api/index.js";
import {
  FlagError,
  parseGoDuration,
  parseInt64,
  parseKeyValues,
  parseNanoCpus,
  parseRamBytes,
  parseUint,
  parseUlimit,
  splitSlice,
} from "./parse.js";

/** Read access to parsed flags; `changed` is true only for flags given on the command line. */
export interface FlagReader {
  changed(name: string): boolean;
  /** A single-valued flag; when repeated the last one wins (pflag). */
  string(name: string): string;
  /** A StringSlice flag: comma-separated, accumulating over repeats. */
  slice(name: string): string[];
  /** A repeatable flag whose values are not comma-split (values may contain commas). */
  repeated(name: string): string[];
  bool(name: string): boolean;
}

/** Builds a FlagReader over yargs' parsed argv. */
export function argvFlags(argv: Readonly<Record<string, unknown>>): FlagReader {
  const raw = (name: string): unknown => argv[name];
  const list = (name: string): string[] => {
    const v = raw(name);
    if (v === undefined) return [];
    return (Array.isArray(v) ? v : [v]).map((x) => String(x));
  };
  return {
    changed: (name) => raw(name) !== undefined,
    string: (name) => list(name).at(-1) ?? "",
    slice: (name) => splitSlice(list(name)),
    repeated: (name) => list(name).filter((v) => v !== ""),
    bool: (name) => {
      const v = raw(name);
      return Array.isArray(v) ? Boolean(v.at(-1)) : Boolean(v);
    },
  };
}

export type FlagKind = "string" | "slice" | "boolean";

export interface FlagDef {
  kind: FlagKind;
  describe: string;
}

/** The flags shared by service create and update (flagparser.AddServiceFlags). */
export const SERVICE_FLAGS: Readonly<Record<string, FlagDef>> = {
  name: { kind: "string", describe: "service name" },
  label: { kind: "slice", describe: "service label (key=value)" },
  replicas: { kind: "string", describe: "number of replicas for the service (only works in replicated service mode) (default 1)" },
  "replicas-max-per-node": { kind: "string", describe: "maximum number of replicas per node (replicated mode only; 0 = unlimited)" },
  image: { kind: "string", describe: "container image" },
  hostname: { kind: "string", describe: "container hostname" },
  command: { kind: "slice", describe: "override entrypoint" },
  args: { kind: "slice", describe: "container args" },
  env: { kind: "slice", describe: "container env" },
  tty: { kind: "boolean", describe: "open a tty on standard streams" },
  "open-stdin": { kind: "boolean", describe: "open standard input" },
  ports: { kind: "slice", describe: "ports (name:target[/proto][:published[/proto]])" },
  network: { kind: "string", describe: "network name" },
  "memory-reservation": { kind: "string", describe: "amount of reserved memory (e.g. 512m)" },
  "memory-limit": { kind: "string", describe: "memory limit (e.g. 512m)" },
  "cpu-reservation": { kind: "string", describe: "number of CPU cores reserved (e.g. 0.5)" },
  "cpu-limit": { kind: "string", describe: "CPU cores limit (e.g. 0.5)" },
  "generic-resources": { kind: "string", describe: "user defined resources request (e.g. gpu=3,fpga=1)" },
  ulimit: { kind: "slice", describe: "ulimit options (name=soft[:hard])" },
  "update-parallelism": { kind: "string", describe: "task update parallelism (0 = all at once)" },
  "update-delay": { kind: "string", describe: "delay between task updates (0s = none)" },
  "update-on-failure": { kind: "string", describe: "action on failure during update (pause|continue|rollback)" },
  "update-order": { kind: "string", describe: "order of shutting down old task and starting updated task (stop-first|start-first)" },
  "rollback-parallelism": { kind: "string", describe: "task update parallelism during rollback (0 = all at once)" },
  "rollback-delay": { kind: "string", describe: "delay between task updates during rollback (0s = none)" },
  "rollback-on-failure": { kind: "string", describe: "action on failure during rollback (pause|continue)" },
  "rollback-order": { kind: "string", describe: "order during rollback (stop-first|start-first)" },
  "restart-condition": { kind: "string", describe: "condition to restart the task (any, failure, none) (default any)" },
  "restart-delay": { kind: "string", describe: "delay between task restarts (default 5s)" },
  "restart-max-attempts": { kind: "string", describe: "maximum number of restart attempts (0 = unlimited)" },
  "restart-window": { kind: "string", describe: "time window to evaluate restart attempts (0 = unbound)" },
  "oom-score-adj": { kind: "string", describe: "oom score adjustment (-1000 to 1000)" },
  constraint: { kind: "slice", describe: "placement constraint (e.g. node.labels.key==value)" },
  bind: { kind: "slice", describe: "define a bind mount (source:target)" },
  volume: { kind: "slice", describe: "define an anonymous volume mount (target)" },
  // Not comma-split (unlike SwarmKit, whose StringSlice breaks the option list): repeat the flag instead.
  tmpfs: { kind: "slice", describe: "define a tmpfs mount (target[:size=64m,mode=1777,ro|rw,exec|noexec]), repeatable" },
  "log-driver": { kind: "string", describe: "specify a log driver" },
  "log-opt": { kind: "slice", describe: "log driver options, as key=value pairs" },
  init: { kind: "boolean", describe: "run an init inside the container that forwards signals and reaps processes" },
};

/** create-only flags. */
export const CREATE_FLAGS: Readonly<Record<string, FlagDef>> = {
  mode: { kind: "string", describe: "one of replicated, global (default replicated)" },
  secret: { kind: "slice", describe: "add a secret from swarm (NAME[:TARGET])" },
  config: { kind: "slice", describe: "add a config from swarm (NAME[:TARGET])" },
};

/** update-only flags. */
export const UPDATE_FLAGS: Readonly<Record<string, FlagDef>> = {
  "add-secret": { kind: "slice", describe: "add a new secret to the service" },
  "rm-secret": { kind: "slice", describe: "remove a secret from the service" },
  "add-config": { kind: "slice", describe: "add a new config to the service" },
  "rm-config": { kind: "slice", describe: "remove a config from the service" },
  "add-capability": { kind: "slice", describe: "add a new capability to the service" },
  "rm-capability": { kind: "slice", describe: "remove a capability from the service" },
  force: { kind: "boolean", describe: "force tasks to restart even if nothing has changed" },
};

/** Name → ID lookups the merge needs from the manager. */
export interface SpecLookups {
  secretIds(names: readonly string[]): Promise<Map<string, string>>;
  configIds(names: readonly string[]): Promise<Map<string, string>>;
  networkId(input: string): Promise<string>;
}

/** A fresh spec as swarmctl's create starts from: replicated ×1, an empty container. */
export function newServiceSpec(): ServiceSpec {
  return ServiceSpec.fromPartial({
    annotations: { name: "" },
    mode: { $case: "replicated", value: { replicas: 1 } },
    task: { runtime: { $case: "container", value: {} } },
  });
}

function durationFlag(flags: FlagReader, name: string): Duration {
  const raw = flags.string(name);
  try {
    return durationFromMillis(parseGoDuration(raw) / 1e6);
  } catch (err) {
    throw new FlagError(`invalid argument "${raw}" for "--${name}" flag: ${(err as Error).message}`);
  }
}

function container(task: TaskSpec): ContainerSpec {
  if (task.runtime?.$case !== "container") task.runtime = { $case: "container", value: ContainerSpec.fromPartial({}) };
  return task.runtime.value;
}

function taskOf(spec: ServiceSpec): TaskSpec {
  if (!spec.task) spec.task = ServiceSpec.fromPartial({ task: {} }).task!;
  return spec.task;
}

function reservations(task: TaskSpec): Resources {
  task.resources ??= { limits: undefined, reservations: undefined, swapBytes: undefined, memorySwappiness: undefined };
  task.resources.reservations ??= { nanoCpus: 0, memoryBytes: 0, generic: [] };
  return task.resources.reservations;
}

function limits(task: TaskSpec): Resources {
  task.resources ??= { limits: undefined, reservations: undefined, swapBytes: undefined, memorySwappiness: undefined };
  task.resources.limits ??= { nanoCpus: 0, memoryBytes: 0, generic: [] };
  return task.resources.limits;
}

function choice<T>(flag: string, value: string, options: Record<string, T>, message?: string): T {
  const v = options[value];
  if (v === undefined) throw new FlagError(message ?? `invalid value "${value}" for --${flag}: must be one of ${Object.keys(options).join(", ")}`);
  return v;
}

/** "gpu=3,fpga=1" (discrete) or "gpu=UUID1" (named), as genericresource.ParseCmd. */
export function parseGenericResources(s: string): GenericResource[] {
  const out: GenericResource[] = [];
  for (const part of s.split(",")) {
    const [kind, value, extra] = part.split("=");
    if (!kind || value === undefined || value === "" || extra !== undefined) {
      throw new FlagError(`invalid generic resource specification: ${part}`);
    }
    if (/^\d+$/.test(value)) {
      out.push({ resource: { $case: "discreteResourceSpec", value: { kind: kind.trim(), value: Number(value) } } });
    } else {
      out.push({ resource: { $case: "namedResourceSpec", value: { kind: kind.trim(), value } } });
    }
  }
  return out;
}

/** name:target[/proto][:published[/proto]] with host publish mode (swarmctl's only mode). */
export function parsePortFlag(s: string): PortConfig {
  const parts = s.split(":");
  if (parts.length < 2) throw new FlagError("insufficient parameters in port configuration");
  const spec = (p: string, what: string): [PortConfig_Protocol, number] => {
    const [num, proto] = p.split("/");
    if (!/^\d+$/.test(num ?? "") || Number(num) > 0xffffffff) throw new FlagError(`failed to parse ${what}: invalid port "${num ?? ""}"`);
    if (proto === undefined) return [PortConfig_Protocol.TCP, Number(num)];
    const protos: Record<string, PortConfig_Protocol> = { TCP: PortConfig_Protocol.TCP, UDP: PortConfig_Protocol.UDP, SCTP: PortConfig_Protocol.SCTP };
    const pr = protos[proto.toUpperCase()];
    if (pr === undefined) throw new FlagError(`failed to parse ${what}: invalid protocol string: ${proto}`);
    return [pr, Number(num)];
  };
  const [protocol, target] = spec(parts[1]!, "port");
  let published = 0;
  if (parts.length > 2) {
    const [nodeProto, p] = spec(parts[2]!, "node port");
    if (nodeProto !== protocol) throw new FlagError("protocol mismatch");
    published = p;
  }
  return PortConfig.fromPartial({ name: parts[0]!, protocol, targetPort: target, publishedPort: published, publishMode: PortConfig_PublishMode.HOST });
}

export function parseTmpfsFlag(s: string): Mount {
  const i = s.indexOf(":");
  const target = i < 0 ? s : s.slice(0, i);
  if (target === "" || !target.startsWith("/")) throw new FlagError(`invalid mount spec: ${s}`);
  const m = Mount.fromPartial({ type: Mount_Type.TMPFS, target });
  if (i >= 0) {
    const rest = s.slice(i + 1);
    if (rest.includes(":")) throw new FlagError(`invalid mount spec: ${s}`);
    const opts = { sizeBytes: 0, mode: 0, options: "" };
    for (const f of rest.split(",")) {
      if (f.startsWith("size=")) {
        const v = f.slice(5);
        const mm = /^(\d+)([kmg])?$/.exec(v);
        if (!mm) throw new FlagError(`invalid size format: ${f}`);
        opts.sizeBytes = Number(mm[1]) * (mm[2] === "g" ? 1 << 30 : mm[2] === "m" ? 1 << 20 : mm[2] === "k" ? 1 << 10 : 1);
      } else if (f.startsWith("mode=")) {
        if (!/^[0-7]+$/.test(f.slice(5))) throw new FlagError(`invalid tmpfs mode: ${f}`);
        opts.mode = parseInt(f.slice(5), 8);
      } else if (f === "ro") m.readonly = true;
      else if (f === "rw") m.readonly = false;
      else if (f === "exec" || f === "noexec") opts.options = f;
      else throw new FlagError(`unsupported tmpfs flag: ${f}`);
    }
    m.tmpfsOptions = opts;
  }
  return m;
}

/** NAME[:TARGET] for --secret/--config. */
export function parseRefFlag(kind: string, s: string): { name: string; target: string } {
  const tokens = s.split(":");
  const name = tokens[0]!.trim();
  if (name === "") throw new FlagError(`invalid ${kind} name provided`);
  let target = name;
  if (tokens.length > 1) {
    target = tokens[1]!.trim();
    if (target === "") throw new FlagError("invalid presentation name provided");
  }
  return { name, target };
}

/**
 * Applies the given flags to `spec` in place (flagparser.Merge, then the
 * secret/config/capability flags). `mode` is only honoured when present.
 */
export async function mergeServiceFlags(spec: ServiceSpec, flags: FlagReader, lookups: SpecLookups): Promise<ServiceSpec> {
  const task = taskOf(spec);
  spec.annotations ??= { name: "", labels: {}, indices: [] };

  if (flags.changed("force") && flags.bool("force")) task.forceUpdate++;
  if (flags.changed("name")) spec.annotations.name = flags.string("name");
  if (flags.changed("label")) spec.annotations.labels = parseKeyValues(flags.slice("label"), (l) => `malformed label: ${l}`);

  // mode
  if (flags.changed("mode")) {
    const mode = flags.string("mode");
    if (mode === "global") {
      if (spec.mode?.$case !== "global") spec.mode = { $case: "global", value: {} };
    } else if (mode === "replicated") {
      if (spec.mode?.$case !== "replicated") spec.mode = { $case: "replicated", value: { replicas: 0 } };
    } else throw new FlagError(`invalid argument "${mode}" for "--mode" flag: must be replicated or global`);
  }
  if (flags.changed("replicas")) {
    if (spec.mode?.$case !== "replicated") throw new FlagError("--replicas can only be specified in --mode replicated");
    spec.mode.value.replicas = parseUint("replicas", flags.string("replicas"));
  }

  // container
  const ctr = (): ContainerSpec => container(task);
  if (flags.changed("image")) ctr().image = flags.string("image");
  if (flags.changed("hostname")) ctr().hostname = flags.string("hostname");
  if (flags.changed("command")) ctr().command = flags.slice("command");
  if (flags.changed("args")) ctr().args = flags.slice("args");
  if (flags.changed("env")) ctr().env = flags.slice("env");
  if (flags.changed("tty")) ctr().tty = flags.bool("tty");
  if (flags.changed("open-stdin")) ctr().openStdin = flags.bool("open-stdin");
  if (flags.changed("init")) ctr().init = flags.bool("init");
  if (flags.changed("oom-score-adj")) {
    const v = parseInt64("oom-score-adj", flags.string("oom-score-adj"));
    if (v < -1000 || v > 1000) throw new FlagError(`invalid argument "${v}" for "--oom-score-adj" flag: must be between -1000 and 1000`);
    ctr().oomScoreAdj = v;
  }

  // resources
  if (flags.changed("memory-reservation")) reservations(task).memoryBytes = parseRamBytes(flags.string("memory-reservation"));
  if (flags.changed("memory-limit")) limits(task).memoryBytes = parseRamBytes(flags.string("memory-limit"));
  if (flags.changed("cpu-reservation")) reservations(task).nanoCpus = parseNanoCpus(flags.string("cpu-reservation"));
  if (flags.changed("cpu-limit")) limits(task).nanoCpus = parseNanoCpus(flags.string("cpu-limit"));
  if (flags.changed("generic-resources")) reservations(task).generic = parseGenericResources(flags.string("generic-resources"));
  if (flags.changed("ulimit")) ctr().ulimits = flags.slice("ulimit").map(parseUlimit);

  // ports and networks
  if (flags.changed("ports")) {
    spec.endpoint = { mode: 0, ports: flags.slice("ports").map(parsePortFlag) };
  }
  if (flags.changed("network")) {
    task.networks = [{ target: await lookups.networkId(flags.string("network")), aliases: [], addresses: [], driverAttachmentOpts: {} }];
  }

  // restart: a new spec always gets condition ANY (swarmctl's parseRestart)
  task.restart ??= { condition: RestartPolicy_RestartCondition.ANY, delay: undefined, maxAttempts: 0, window: undefined };
  if (flags.changed("restart-condition")) {
    const c = flags.string("restart-condition");
    task.restart.condition = choice("restart-condition", c, {
      none: RestartPolicy_RestartCondition.NONE,
      failure: RestartPolicy_RestartCondition.ON_FAILURE,
      any: RestartPolicy_RestartCondition.ANY,
    }, `invalid restart condition: ${c}`);
  }
  if (flags.changed("restart-delay")) task.restart.delay = durationFlag(flags, "restart-delay");
  if (flags.changed("restart-max-attempts")) task.restart.maxAttempts = parseUint("restart-max-attempts", flags.string("restart-max-attempts"));
  if (flags.changed("restart-window")) task.restart.window = durationFlag(flags, "restart-window");

  // update / rollback
  const order = { "stop-first": UpdateConfig_UpdateOrder.STOP_FIRST, "start-first": UpdateConfig_UpdateOrder.START_FIRST };
  const upd = (): UpdateConfig => (spec.update ??= UpdateConfig.fromPartial({}));
  const rb = (): UpdateConfig => (spec.rollback ??= UpdateConfig.fromPartial({}));
  if (flags.changed("update-parallelism")) upd().parallelism = parseUint("update-parallelism", flags.string("update-parallelism"));
  if (flags.changed("update-delay")) upd().delay = durationFlag(flags, "update-delay");
  if (flags.changed("update-on-failure")) {
    upd().failureAction = choice("update-on-failure", flags.string("update-on-failure"), {
      pause: UpdateConfig_FailureAction.PAUSE,
      continue: UpdateConfig_FailureAction.CONTINUE,
      rollback: UpdateConfig_FailureAction.ROLLBACK,
    }, "--update-on-failure value must be pause, continue or rollback");
  }
  if (flags.changed("update-order")) {
    upd().order = choice("update-order", flags.string("update-order"), order, "--update-order value must be stop-first or start-first");
  }
  if (flags.changed("rollback-parallelism")) rb().parallelism = parseUint("rollback-parallelism", flags.string("rollback-parallelism"));
  if (flags.changed("rollback-delay")) rb().delay = durationFlag(flags, "rollback-delay");
  if (flags.changed("rollback-on-failure")) {
    rb().failureAction = choice("rollback-on-failure", flags.string("rollback-on-failure"), {
      pause: UpdateConfig_FailureAction.PAUSE,
      continue: UpdateConfig_FailureAction.CONTINUE,
    }, "--rollback-on-failure value must be pause or continue");
  }
  if (flags.changed("rollback-order")) {
    rb().order = choice("rollback-order", flags.string("rollback-order"), order, "--rollback-order value must be stop-first or start-first");
  }

  // placement
  if (flags.changed("constraint")) {
    task.placement ??= { constraints: [], preferences: [], platforms: [], maxReplicas: 0 };
    task.placement.constraints = flags.slice("constraint");
  }
  if (flags.changed("replicas-max-per-node")) {
    if (spec.mode?.$case !== "replicated") throw new FlagError("--replicas-max-per-node can only be specified in --mode replicated");
    task.placement ??= { constraints: [], preferences: [], platforms: [], maxReplicas: 0 };
    task.placement.maxReplicas = parseUint("replicas-max-per-node", flags.string("replicas-max-per-node"));
  }

  // mounts
  for (const b of flags.changed("bind") ? flags.slice("bind") : []) {
    const i = b.indexOf(":");
    if (i < 0) throw new FlagError(`bind format ${JSON.stringify(b)} not supported`);
    ctr().mounts.push(Mount.fromPartial({ type: Mount_Type.BIND, source: b.slice(0, i), target: b.slice(i + 1) }));
  }
  for (const v of flags.changed("volume") ? flags.slice("volume") : []) {
    if (v.includes(":")) throw new FlagError(`volume format ${JSON.stringify(v)} not supported`);
    ctr().mounts.push(Mount.fromPartial({ type: Mount_Type.VOLUME, target: v }));
  }
  for (const t of flags.changed("tmpfs") ? flags.repeated("tmpfs") : []) ctr().mounts.push(parseTmpfsFlag(t));

  // log driver (SwarmKit clears it when the flag is absent; we leave it alone)
  if (flags.changed("log-driver")) {
    const options: Record<string, string> = {};
    for (const raw of flags.slice("log-opt")) {
      const i = raw.indexOf("=");
      if (i < 0) options[raw] = "";
      else options[raw.slice(0, i)] = raw.slice(i + 1);
    }
    task.logDriver = { name: flags.string("log-driver"), options };
  } else if (flags.changed("log-opt")) {
    throw new FlagError("--log-opt requires --log-driver");
  }

  // secrets and configs (create: --secret/--config; update: --add-*/--rm-*)
  for (const flag of ["secret", "add-secret"]) {
    if (!flags.changed(flag)) continue;
    const refs = flags.slice(flag).map((s) => parseRefFlag("secret", s));
    const ids = await lookups.secretIds(refs.map((r) => r.name));
    for (const r of refs) {
      const id = ids.get(r.name);
      if (id === undefined) throw new FlagError(`secret not found: ${r.name}`);
      ctr().secrets.push(SecretReference.fromPartial({ secretId: id, secretName: r.name, target: { $case: "file", value: { name: r.target, uid: "", gid: "", mode: 0o444 } } }));
    }
  }
  if (flags.changed("rm-secret")) {
    const drop = new Set(flags.slice("rm-secret").map((s) => parseRefFlag("secret", s).name));
    ctr().secrets = ctr().secrets.filter((r) => !drop.has(r.secretName));
  }
  for (const flag of ["config", "add-config"]) {
    if (!flags.changed(flag)) continue;
    const refs = flags.slice(flag).map((s) => parseRefFlag("config", s));
    const ids = await lookups.configIds(refs.map((r) => r.name));
    for (const r of refs) {
      const id = ids.get(r.name);
      if (id === undefined) throw new FlagError(`config not found: ${r.name}`);
      ctr().configs.push(ConfigReference.fromPartial({ configId: id, configName: r.name, target: { $case: "file", value: { name: r.target, uid: "", gid: "", mode: 0o444 } } }));
    }
  }
  if (flags.changed("rm-config")) {
    const drop = new Set(flags.slice("rm-config").map((s) => parseRefFlag("config", s).name));
    ctr().configs = ctr().configs.filter((r) => !drop.has(r.configName));
  }
  if (flags.changed("add-capability")) {
    const add = flags.slice("add-capability");
    const c = ctr();
    c.capabilityAdd = [...new Set([...c.capabilityAdd, ...add])];
    c.capabilityDrop = c.capabilityDrop.filter((x) => !add.includes(x));
  }
  if (flags.changed("rm-capability")) {
    const rm = flags.slice("rm-capability");
    const c = ctr();
    c.capabilityDrop = [...new Set([...c.capabilityDrop, ...rm])];
    c.capabilityAdd = c.capabilityAdd.filter((x) => !rm.includes(x));
  }
  return spec;
}

/** Wire-level equality of two specs ("no changes detected"). */
export function specsEqual(a: ServiceSpec, b: ServiceSpec): boolean {
  return Buffer.from(ServiceSpec.encode(a).finish()).equals(Buffer.from(ServiceSpec.encode(b).finish()));
}
