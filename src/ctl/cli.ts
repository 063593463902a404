// swarmctl's command tree (SwarmKit's swarmd/cmd/swarmctl) on yargs.
// runCtl() parses argv, runs one command against the control socket and
// returns the exit code: 0 ok, 1 failed, 2 usage error, 130 interrupted wait.
import { readFile } from "node:fs/promises";
import yargs, { type Argv } from "yargs";
import {
  Cluster,
  Config,
  Node,
  NodeRole,
  NodeSpec,
  NodeSpec_Availability,
  Secret,
  Service,
  ServiceSpec,
  Task,
  durationFromMillis,
} from "../shared/api/index.js";
import { versionLine } from "../main/version.js";
import { dialControl, type ControlApi } from "./client.js";
import { waitForConvergence } from "./converge.js";
import { CtlError, UsageError } from "./errors.js";
import * as fmt from "./format.js";
import { FlagError, parseGoDuration, parseInt64, parseKeyValues, splitSlice } from "./parse.js";
import {
  apiResolver,
  findCluster,
  findConfig,
  findNode,
  findSecret,
  findService,
  findTask,
  identityResolver,
  type NameResolver,
} from "./resolve.js";
import {
  CREATE_FLAGS,
  SERVICE_FLAGS,
  UPDATE_FLAGS,
  argvFlags,
  mergeServiceFlags,
  newServiceSpec,
  specsEqual,
  type FlagDef,
  type SpecLookups,
} from "./service-flags.js";

/** The default control socket: $SWARM_SOCKET, else our swarmd's default (./swarmkitstate/swarmd.sock). */
export const DEFAULT_SOCKET = "./swarmkitstate/swarmd.sock";

export interface CtlIO {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<Buffer>;
  /** Whether progress output (stderr) goes to a terminal. */
  progressIsTTY: boolean;
  env: Readonly<Record<string, string | undefined>>;
  now(): Date;
  /** Aborted on Ctrl-C: stops a convergence wait without touching the service. */
  signal: AbortSignal;
  /** Test hook: how to reach the manager (default: gRPC over the unix socket). */
  dial?: (socket: string) => ControlApi;
  /** Poll interval of the convergence wait. */
  pollMs?: number;
}

type Args = Readonly<Record<string, unknown>>;

/** Per-command context: a lazily opened client and the ID→name resolver. */
class Ctx {
  private client: ControlApi | undefined;
  private resolver: NameResolver | undefined;
  constructor(
    readonly io: CtlIO,
    private readonly argv: Args,
  ) {}
  get api(): ControlApi {
    this.client ??= (this.io.dial ?? ((s: string) => dialControl(s)))(String(this.argv["socket"]));
    return this.client;
  }
  get res(): NameResolver {
    this.resolver ??= this.argv["no-resolve"] === true ? identityResolver() : apiResolver(this.api);
    return this.resolver;
  }
  get json(): boolean {
    return this.argv["format"] === "json";
  }
  out(text: string): void {
    this.io.stdout(text);
  }
  close(): void {
    this.client?.close();
  }
}

/** Exit code requested by a handler that did not throw (the convergence wait). */
class ExitRequest {
  constructor(readonly code: number) {}
}

function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

const quietOpt = { alias: "q", type: "boolean", describe: "Only display IDs" } as const;
const allOpt = { alias: "a", type: "boolean", describe: "Show all tasks (default shows just running)" } as const;
const formatOpt = { type: "string", choices: ["text", "json"], describe: "Output format (json: the API objects)" } as const;

function addFlagDefs(y: Argv, defs: Readonly<Record<string, FlagDef>>): Argv {
  for (const [name, def] of Object.entries(defs)) {
    if (def.kind === "boolean") y = y.option(name, { type: "boolean", describe: def.describe });
    else if (def.kind === "slice") y = y.option(name, { type: "string", array: true, nargs: 1, requiresArg: true, describe: def.describe });
    else y = y.option(name, { type: "string", requiresArg: true, describe: def.describe });
  }
  return y;
}

function specLookups(api: ControlApi): SpecLookups {
  return {
    secretIds: async (names) => {
      const r = await api.listSecrets({ filters: { names: [...names] } });
      return new Map(r.secrets.filter((s) => names.includes(s.spec?.annotations?.name ?? "")).map((s) => [s.spec!.annotations!.name, s.id]));
    },
    configIds: async (names) => {
      const r = await api.listConfigs({ filters: { names: [...names] } });
      return new Map(r.configs.filter((c) => names.includes(c.spec?.annotations?.name ?? "")).map((c) => [c.spec!.annotations!.name, c.id]));
    },
    networkId: async (input) => {
      const r = await api.listNetworks({});
      const hit = r.networks.find((n) => n.id === input) ?? r.networks.find((n) => n.spec?.annotations?.name === input);
      if (!hit) throw new CtlError(`network ${input} not found`);
      return hit.id;
    },
  };
}

/** Runs swarmctl with `args` (argv without node and script); returns the exit code. */
export async function runCtl(args: readonly string[], io: CtlIO): Promise<number> {
  // The usage object yargs hands to fail(): it can print the failing command's own help.
  let failedUsage: { showHelp(print: (text: string) => void): void } | undefined;
  const contexts: Ctx[] = [];
  const act =
    (fn: (ctx: Ctx, argv: Args) => Promise<void>) =>
    async (argv: Args): Promise<void> => {
      const ctx = new Ctx(io, argv);
      contexts.push(ctx);
      await fn(ctx, argv);
    };

  const socketDefault = io.env["SWARM_SOCKET"] || DEFAULT_SOCKET;

  const cli = yargs([...args])
    .scriptName("swarmctl")
    .usage("$0 <command>\n\nControl a swarm cluster through a manager's control socket")
    .parserConfiguration({ "boolean-negation": false })
    .option("socket", { alias: "s", type: "string", default: socketDefault, requiresArg: true, describe: "Socket to connect to the Swarm manager ($SWARM_SOCKET)" })
    .option("no-resolve", { alias: "n", type: "boolean", describe: "Do not try to map IDs to Names when displaying them" })
    .command("node", "Node management", (y) => nodeCommands(y, act).demandCommand(1, "node: specify a subcommand"))
    .command(["service", "svc"], "Service management", (y) => serviceCommands(y, act, io).demandCommand(1, "service: specify a subcommand"))
    .command("task", "Task management", (y) => taskCommands(y, act).demandCommand(1, "task: specify a subcommand"))
    .command("cluster", "Cluster management", (y) => clusterCommands(y, act).demandCommand(1, "cluster: specify a subcommand"))
    .command("secret", "Secrets management", (y) => secretCommands(y, act, io).demandCommand(1, "secret: specify a subcommand"))
    .command("config", "Configs management", (y) => configCommands(y, act, io).demandCommand(1, "config: specify a subcommand"))
    .command("version", "Print version information", {}, () => io.stdout(`${versionLine("swarmctl")}\n`))
    .demandCommand(1, "specify a command")
    .strict()
    .recommendCommands()
    .version(false)
    .help()
    .alias("h", "help")
    .exitProcess(false)
    .fail((msg, err, y) => {
      failedUsage = y as unknown as typeof failedUsage;
      throw err ?? new UsageError(msg);
    })
    .wrap(Math.min(110, process.stdout.columns || 110));

  let helpShown = "";
  try {
    await cli.parseAsync([...args], {}, (_err, _argv, output) => {
      helpShown = output;
    });
    // --help prints through the parse callback; yargs does not exit with exitProcess(false).
    if (helpShown !== "") io.stdout(`${helpShown}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ExitRequest) return err.code;
    const message = err instanceof Error ? err.message : String(err);
    io.stderr(`Error: ${message}\n`);
    if (err instanceof UsageError || err instanceof FlagError) {
      if (err instanceof UsageError && failedUsage) {
        let help = "";
        failedUsage.showHelp((text) => (help = text));
        if (help) io.stderr(`\n${help}\n`);
      }
      return 2;
    }
    return 1;
  } finally {
    for (const c of contexts) c.close();
  }
}

type Act = (fn: (ctx: Ctx, argv: Args) => Promise<void>) => (argv: Args) => Promise<void>;

// ---------- node ----------

function nodeCommands(y: Argv, act: Act): Argv {
  const changeAvailability = (a: NodeSpec_Availability) =>
    act(async (ctx, argv) => {
      const node = await findNode(ctx.api, String(argv["node"]));
      const spec = NodeSpec.fromPartial(node.spec ?? {});
      if (spec.availability === a) throw new CtlError("node attribute was already set to the requested value");
      spec.availability = a;
      await ctx.api.updateNode({ nodeId: node.id, nodeVersion: node.meta?.version, spec });
    });
  const changeRole = (role: NodeRole) =>
    act(async (ctx, argv) => {
      const node = await findNode(ctx.api, String(argv["node"]));
      const spec = NodeSpec.fromPartial(node.spec ?? {});
      if (spec.desiredRole === role) throw new CtlError("node attribute was already set to the requested value");
      spec.desiredRole = role;
      await ctx.api.updateNode({ nodeId: node.id, nodeVersion: node.meta?.version, spec });
    });
  const nodeArg = (yy: Argv) => yy.positional("node", { type: "string", describe: "node ID or name (or a unique prefix)" });
  return y
    .command("ls", "List nodes", (yy) => yy.option("quiet", quietOpt).option("format", formatOpt), act(async (ctx, argv) => {
      const nodes = (await ctx.api.listNodes({})).nodes;
      if (argv["quiet"]) ctx.out(fmt.idLines(nodes));
      else if (ctx.json) ctx.out(jsonText(nodes.map((n) => Node.toJSON(n))));
      else ctx.out(fmt.nodeTable(nodes));
    }))
    .command("inspect <node>", "Inspect a node", (yy) => nodeArg(yy).option("all", allOpt).option("format", formatOpt), act(async (ctx, argv) => {
      const node = await findNode(ctx.api, String(argv["node"]));
      if (ctx.json) return ctx.out(jsonText(Node.toJSON(node)));
      const tasks = (await ctx.api.listTasks({ filters: { nodeIds: [node.id] } })).tasks.filter((t) => t.nodeId === node.id);
      ctx.out(await fmt.nodeInspect(node, tasks, argv["all"] === true, ctx.res, ctx.io.now()));
    }))
    .command("activate <node>", "Activate a node", nodeArg, changeAvailability(NodeSpec_Availability.ACTIVE))
    .command("pause <node>", "Pause a node", nodeArg, changeAvailability(NodeSpec_Availability.PAUSE))
    .command("drain <node>", "Drain a node", nodeArg, changeAvailability(NodeSpec_Availability.DRAIN))
    .command("promote <node>", "Promote a node to a manager", nodeArg, changeRole(NodeRole.MANAGER))
    .command("demote <node>", "Demote a node from a manager to a worker", nodeArg, changeRole(NodeRole.WORKER))
    .command("update <node>", "Update a node", (yy) => nodeArg(yy).option("label", { type: "string", array: true, nargs: 1, requiresArg: true, describe: "node label (key=value)" }), act(async (ctx, argv) => {
      const node = await findNode(ctx.api, String(argv["node"]));
      const spec = NodeSpec.fromPartial(node.spec ?? {});
      const flags = argvFlags(argv);
      if (flags.changed("label")) {
        spec.annotations ??= { name: "", labels: {}, indices: [] };
        spec.annotations.labels = parseKeyValues(flags.slice("label"), (l) => `malformed label for node ${l}`);
      }
      if (node.spec && Buffer.from(NodeSpec.encode(spec).finish()).equals(Buffer.from(NodeSpec.encode(node.spec).finish()))) {
        throw new CtlError("node attribute was already set to the requested value");
      }
      await ctx.api.updateNode({ nodeId: node.id, nodeVersion: node.meta?.version, spec });
    }))
    .command(["remove <node>", "rm <node>"], "Remove a node", (yy) => nodeArg(yy).option("force", { alias: "f", type: "boolean", describe: "Force the removal of this node" }), act(async (ctx, argv) => {
      const node = await findNode(ctx.api, String(argv["node"]));
      await ctx.api.removeNode({ nodeId: node.id, force: argv["force"] === true });
      ctx.out(`${String(argv["node"])}\n`);
    }));
}

// ---------- service ----------

async function convergeAfterWrite(ctx: Ctx, argv: Args, service: Service): Promise<void> {
  if (argv["detach"] === true) return;
  let timeoutMs: number;
  try {
    timeoutMs = parseGoDuration(String(argv["timeout"] ?? "3m")) / 1e6;
  } catch (err) {
    throw new FlagError(`invalid argument "${String(argv["timeout"])}" for "--timeout" flag: ${(err as Error).message}`);
  }
  const result = await waitForConvergence(ctx.api, service, {
    pollMs: ctx.io.pollMs ?? 200,
    timeoutMs,
    signal: ctx.io.signal,
    tty: ctx.io.progressIsTTY,
    write: (t) => ctx.io.stderr(t),
    resolver: ctx.res,
  });
  switch (result.outcome) {
    case "converged":
      ctx.io.stderr(`${result.message}\n`);
      return;
    case "interrupted":
      ctx.io.stderr(`${result.message}\n`);
      throw new ExitRequest(130);
    default:
      throw new CtlError(result.message);
  }
}

function waitOptions(y: Argv): Argv {
  return y
    .option("detach", { alias: "d", type: "boolean", describe: "Return right after the request instead of waiting for the service to converge" })
    .option("timeout", { type: "string", requiresArg: true, default: "3m", describe: "How long to wait for convergence" });
}

function serviceCommands(y: Argv, act: Act, io: CtlIO): Argv {
  void io;
  const svcArg = (yy: Argv) => yy.positional("service", { type: "string", describe: "service ID or name (or a unique prefix)" });
  return y
    .command("create", "Create a service", (yy) => waitOptions(addFlagDefs(addFlagDefs(yy, SERVICE_FLAGS), CREATE_FLAGS)), act(async (ctx, argv) => {
      const flags = argvFlags(argv);
      if (!flags.changed("name") || !flags.changed("image")) throw new FlagError("--name and --image are mandatory");
      const spec = await mergeServiceFlags(newServiceSpec(), flags, specLookups(ctx.api));
      const r = await ctx.api.createService({ spec });
      const service = r.service!;
      ctx.out(`${service.id}\n`);
      await convergeAfterWrite(ctx, argv, service);
    }))
    .command("update <service>", "Update a service", (yy) => waitOptions(addFlagDefs(addFlagDefs(svcArg(yy), SERVICE_FLAGS), UPDATE_FLAGS)), act(async (ctx, argv) => {
      const service = await findService(ctx.api, String(argv["service"]));
      const before = service.spec ?? ServiceSpec.fromPartial({});
      const spec = ServiceSpec.decode(ServiceSpec.encode(before).finish());
      await mergeServiceFlags(spec, argvFlags(argv), specLookups(ctx.api));
      if (specsEqual(spec, before)) throw new CtlError("no changes detected");
      const r = await ctx.api.updateService({ serviceId: service.id, serviceVersion: service.meta?.version, spec });
      const updated = r.service!;
      ctx.out(`${updated.id}\n`);
      await convergeAfterWrite(ctx, argv, updated);
    }))
    .command("ls", "List services", (yy) => yy.option("quiet", quietOpt).option("format", formatOpt), act(async (ctx, argv) => {
      const services = (await ctx.api.listServices({})).services;
      if (argv["quiet"]) return ctx.out(fmt.idLines(services));
      if (ctx.json) return ctx.out(jsonText(services.map((s) => Service.toJSON(s))));
      const [nodes, tasks] = await Promise.all([ctx.api.listNodes({}), ctx.api.listTasks({})]);
      ctx.out(fmt.serviceTable(services, fmt.runningByService(tasks.tasks, nodes.nodes)));
    }))
    .command("inspect <service>", "Inspect a service", (yy) => svcArg(yy).option("all", allOpt).option("format", formatOpt), act(async (ctx, argv) => {
      const service = await findService(ctx.api, String(argv["service"]));
      if (ctx.json) return ctx.out(jsonText(Service.toJSON(service)));
      const tasks = (await ctx.api.listTasks({ filters: { serviceIds: [service.id] } })).tasks.filter((t) => t.serviceId === service.id);
      ctx.out(await fmt.serviceInspect(service, tasks, argv["all"] === true, ctx.res, ctx.io.now()));
    }))
    .command(["remove <service>", "rm <service>"], "Remove a service", svcArg, act(async (ctx, argv) => {
      const service = await findService(ctx.api, String(argv["service"]));
      await ctx.api.removeService({ serviceId: service.id });
      ctx.out(`${String(argv["service"])}\n`);
    }));
}

// ---------- task ----------

function taskCommands(y: Argv, act: Act): Argv {
  const taskArg = (yy: Argv) => yy.positional("task", { type: "string", describe: "task ID (or a unique prefix)" });
  return y
    .command("ls", "List tasks", (yy) => yy.option("all", allOpt).option("quiet", quietOpt).option("format", formatOpt), act(async (ctx, argv) => {
      const tasks = fmt.visibleTasks((await ctx.api.listTasks({})).tasks, argv["all"] === true);
      if (argv["quiet"]) return ctx.out(fmt.idLines(tasks));
      if (ctx.json) return ctx.out(jsonText(tasks.map((t) => Task.toJSON(t))));
      ctx.out(await fmt.taskTable(tasks, ctx.res, ctx.io.now()));
    }))
    .command("inspect <task>", "Inspect a task", (yy) => taskArg(yy).option("format", formatOpt), act(async (ctx, argv) => {
      const task = await findTask(ctx.api, String(argv["task"]));
      if (ctx.json) return ctx.out(jsonText(Task.toJSON(task)));
      const same = (await ctx.api.listTasks({ filters: { serviceIds: [task.serviceId] } })).tasks.filter((t) => t.serviceId === task.serviceId);
      ctx.out(await fmt.taskInspect(task, same, ctx.res, ctx.io.now()));
    }))
    .command(["remove <task>", "rm <task>"], "Remove a task", taskArg, act(async (ctx, argv) => {
      const task = await findTask(ctx.api, String(argv["task"]));
      await ctx.api.removeTask({ taskId: task.id });
      ctx.out(`${String(argv["task"])}\n`);
    }));
}

// ---------- cluster ----------

function durationArg(name: string, raw: unknown) {
  try {
    return durationFromMillis(parseGoDuration(String(raw)) / 1e6);
  } catch (err) {
    throw new FlagError(`invalid argument "${String(raw)}" for "--${name}" flag: ${(err as Error).message}`);
  }
}

function clusterCommands(y: Argv, act: Act): Argv {
  const clusterArg = (yy: Argv) => yy.positional("cluster", { type: "string", describe: "cluster name or ID" });
  return y
    .command("ls", "List clusters", (yy) => yy.option("quiet", quietOpt).option("format", formatOpt), act(async (ctx, argv) => {
      const clusters = (await ctx.api.listClusters({})).clusters;
      if (argv["quiet"]) return ctx.out(fmt.idLines(clusters));
      if (ctx.json) return ctx.out(jsonText(clusters.map((c) => Cluster.toJSON(c))));
      ctx.out(fmt.clusterTable(clusters));
    }))
    .command("inspect <cluster>", "Inspect a cluster", (yy) => clusterArg(yy).option("format", formatOpt), act(async (ctx, argv) => {
      const cluster = await findCluster(ctx.api, String(argv["cluster"]));
      ctx.out(ctx.json ? jsonText(Cluster.toJSON(cluster)) : fmt.clusterInspect(cluster));
    }))
    .command(
      "update <cluster>",
      "Update a cluster",
      (yy) =>
        clusterArg(yy)
          .option("taskhistory", { type: "string", requiresArg: true, describe: "Number of historic task entries to retain per slot or node" })
          .option("certexpiry", { type: "string", requiresArg: true, describe: "Duration node certificates will be valid for (e.g. 2160h)" })
          .option("heartbeatperiod", { type: "string", requiresArg: true, describe: "Period when heartbeat is expected to receive from agent (e.g. 5s)" })
          .option("log-driver", { type: "string", requiresArg: true, describe: "Set default log driver for cluster" })
          .option("log-opt", { type: "string", array: true, nargs: 1, requiresArg: true, describe: "Set options for default log driver" })
          .option("rotate-join-token", { type: "string", requiresArg: true, describe: "Rotate join token for worker or manager" })
          .option("rotate-unlock-key", { type: "boolean", describe: "Rotate manager unlock key" })
          .option("autolock", { type: "boolean", describe: "Enable or disable manager autolocking" }),
      act(async (ctx, argv) => {
        const flags = argvFlags(argv);
        const rotation = { workerJoinToken: false, managerJoinToken: false, managerUnlockKey: flags.bool("rotate-unlock-key") };
        if (flags.changed("rotate-join-token")) {
          const which = flags.string("rotate-join-token").toLowerCase();
          if (which === "worker") rotation.workerJoinToken = true;
          else if (which === "manager") rotation.managerJoinToken = true;
          else throw new FlagError("--rotate-join-token flag must be followed by 'worker' or 'manager'");
        }
        const cluster = await findCluster(ctx.api, String(argv["cluster"]));
        const spec = Cluster.fromPartial(cluster).spec ?? Cluster.fromPartial({ spec: {} }).spec!;
        spec.orchestration ??= { taskHistoryRetentionLimit: 0 };
        spec.dispatcher ??= { heartbeatPeriod: undefined };
        spec.caConfig ??= Cluster.fromPartial({ spec: { caConfig: {} } }).spec!.caConfig!;
        spec.taskDefaults ??= { logDriver: undefined };
        spec.encryptionConfig ??= { autoLockManagers: false };
        if (flags.changed("taskhistory")) spec.orchestration.taskHistoryRetentionLimit = parseInt64("taskhistory", flags.string("taskhistory"));
        if (flags.changed("certexpiry")) spec.caConfig.nodeCertExpiry = durationArg("certexpiry", flags.string("certexpiry"));
        if (flags.changed("heartbeatperiod")) spec.dispatcher.heartbeatPeriod = durationArg("heartbeatperiod", flags.string("heartbeatperiod"));
        if (flags.changed("autolock")) spec.encryptionConfig.autoLockManagers = flags.bool("autolock");
        if (flags.changed("log-driver")) {
          const options: Record<string, string> = {};
          for (const raw of flags.slice("log-opt")) {
            const i = raw.indexOf("=");
            options[i < 0 ? raw : raw.slice(0, i)] = i < 0 ? "" : raw.slice(i + 1);
          }
          spec.taskDefaults.logDriver = { name: flags.string("log-driver"), options };
        }
        const r = await ctx.api.updateCluster({ clusterId: cluster.id, clusterVersion: cluster.meta?.version, spec, rotation });
        ctx.out(`${r.cluster?.id ?? cluster.id}\n`);
      }),
    );
}

// ---------- secret / config ----------

async function readPayload(io: CtlIO, file: unknown, what: string): Promise<Buffer> {
  if (typeof file === "string" && file !== "") {
    try {
      return await readFile(file);
    } catch (err) {
      throw new CtlError(`Error reading from file '${file}': ${(err as Error).message}`);
    }
  }
  try {
    return await io.readStdin();
  } catch (err) {
    throw new CtlError(`Error reading ${what} from STDIN: ${(err as Error).message}`);
  }
}

function secretCommands(y: Argv, act: Act, io: CtlIO): Argv {
  const arg = (yy: Argv) => yy.positional("secret", { type: "string", describe: "secret ID or name" });
  return y
    .command("create <name>", "Create a secret", (yy) =>
      yy
        .positional("name", { type: "string", describe: "secret name" })
        .option("file", { alias: "f", type: "string", requiresArg: true, describe: "Rather than read the secret from STDIN, read from the given file" })
        .option("driver", { alias: "d", type: "string", requiresArg: true, describe: "Read the value from an external secret driver instead" }),
      act(async (ctx, argv) => {
        const driver = typeof argv["driver"] === "string" ? argv["driver"] : "";
        const data = argv["file"] !== undefined || driver === "" ? await readPayload(io, argv["file"], "secret") : Buffer.alloc(0);
        const r = await ctx.api.createSecret({
          spec: { annotations: { name: String(argv["name"]) }, data, ...(driver ? { driver: { name: driver } } : {}) },
        });
        ctx.out(`${r.secret?.id ?? ""}\n`);
      }),
    )
    .command("ls", "List secrets", (yy) => yy.option("quiet", quietOpt).option("format", formatOpt), act(async (ctx, argv) => {
      const secrets = fmt.sortNewestFirst((await ctx.api.listSecrets({})).secrets);
      if (argv["quiet"]) return ctx.out(fmt.idLines(secrets));
      if (ctx.json) return ctx.out(jsonText(secrets.map((s) => Secret.toJSON(s))));
      ctx.out(fmt.secretTable(secrets, ctx.io.now()));
    }))
    .command("inspect <secret>", "Inspect a secret", (yy) => arg(yy).option("format", formatOpt), act(async (ctx, argv) => {
      const secret = await findSecret(ctx.api, String(argv["secret"]));
      ctx.out(ctx.json ? jsonText(Secret.toJSON(secret)) : fmt.secretInspect(secret));
    }))
    .command(["remove <secret>", "rm <secret>"], "Remove a secret", arg, act(async (ctx, argv) => {
      const secret = await findSecret(ctx.api, String(argv["secret"]));
      await ctx.api.removeSecret({ secretId: secret.id });
      ctx.out(`${String(argv["secret"])}\n`);
    }));
}

function configCommands(y: Argv, act: Act, io: CtlIO): Argv {
  const arg = (yy: Argv) => yy.positional("config", { type: "string", describe: "config ID or name" });
  return y
    .command("create <name>", "Create a config", (yy) =>
      yy
        .positional("name", { type: "string", describe: "config name" })
        .option("file", { alias: "f", type: "string", requiresArg: true, describe: "Rather than read the config from STDIN, read from the given file" }),
      act(async (ctx, argv) => {
        const data = await readPayload(io, argv["file"], "config");
        const r = await ctx.api.createConfig({ spec: { annotations: { name: String(argv["name"]) }, data } });
        ctx.out(`${r.config?.id ?? ""}\n`);
      }),
    )
    .command("ls", "List configs", (yy) => yy.option("quiet", quietOpt).option("format", formatOpt), act(async (ctx, argv) => {
      const configs = fmt.sortNewestFirst((await ctx.api.listConfigs({})).configs);
      if (argv["quiet"]) return ctx.out(fmt.idLines(configs));
      if (ctx.json) return ctx.out(jsonText(configs.map((c) => Config.toJSON(c))));
      ctx.out(fmt.configTable(configs, ctx.io.now()));
    }))
    .command("inspect <config>", "Inspect a config", (yy) => arg(yy).option("format", formatOpt), act(async (ctx, argv) => {
      const config = await findConfig(ctx.api, String(argv["config"]));
      ctx.out(ctx.json ? jsonText(Config.toJSON(config)) : fmt.configInspect(config));
    }))
    .command(["remove <config>", "rm <config>"], "Remove a config", arg, act(async (ctx, argv) => {
      const config = await findConfig(ctx.api, String(argv["config"]));
      await ctx.api.removeConfig({ configId: config.id });
      ctx.out(`${String(argv["config"])}\n`);
    }));
}

// Re-exported for the entry point and tests.
export { splitSlice };
