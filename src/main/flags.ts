// swarmd's command line: SwarmKit's flags (names, short forms, defaults) plus
// --tick-interval, parsed strictly by yargs and validated into one frozen
// NodeConfig. Nothing here exits the process: parseFlags returns what to do.
import { hostname as osHostname } from "node:os";
import { join, resolve } from "node:path";
import yargs from "yargs";
import { freezeConfig, type NodeConfig } from "../shared/config.js";
import { LOG_LEVELS, type LogLevel } from "../shared/logging.js";
import {
  FlagError,
  parseDurationMs,
  parseEngineAddr,
  parseExternalCa,
  parseGenericResources,
  parseHostPort,
  parseHostname,
  parseJoinToken,
  parseSocketPath,
  parseTicks,
  parseUnlockKey,
} from "./validate.js";
import { versionLine } from "./version.js";

export const DEFAULT_STATE_DIR = "./swarmkitstate";
export const CONTROL_SOCKET_NAME = "swarmd.sock";

/**
 * The flags whose subsystem exists. Any other flag given explicitly is
 * refused with "not supported yet" (exit 2) after its value was validated.
 * Later issues add a flag here when they build what it drives.
 */
export const SUPPORTED: ReadonlySet<string> = new Set([
  "version",
  "help",
  "log-level",
  "state-dir",
  "tick-interval",
  "heartbeat-tick",
  "election-tick",
  "listen-control-api",
  "listen-remote-api",
  "hostname",
  "engine-addr",
  "force-new-cluster",
  "join-addr",
  "join-token",
  "advertise-remote-api",
  "generic-node-resources",
]);

/** Every flag swarmd knows, in --help order. */
const OPTIONS = {
  version: { alias: "v", type: "boolean", describe: "Display the version and exit" },
  "log-level": {
    alias: "l",
    type: "string",
    default: "info",
    describe: `Log level (options ${LOG_LEVELS.map((l) => `"${l}"`).join(", ")})`,
  },
  "state-dir": { alias: "d", type: "string", default: DEFAULT_STATE_DIR, describe: "State directory" },
  "join-token": { type: "string", describe: "Specifies the secret token required to join the cluster" },
  "engine-addr": { type: "string", default: "unix:///var/run/docker.sock", describe: "Address of engine instance of agent." },
  hostname: { type: "string", describe: "Override reported agent hostname" },
  "advertise-remote-api": { type: "string", describe: "Advertise address for remote API" },
  "listen-remote-api": { type: "string", default: "0.0.0.0:4242", describe: "Listen address for remote API" },
  "listen-control-api": {
    type: "string",
    describe: `Listen socket for control API [default: <state-dir>/${CONTROL_SOCKET_NAME}]`,
  },
  "listen-debug": { type: "string", describe: "Bind the debug server on the provided address" },
  "listen-metrics": { type: "string", describe: "Listen address for metrics" },
  "join-addr": { type: "string", describe: "Join cluster with a node at this address" },
  "generic-node-resources": {
    type: "string",
    describe: "user defined resources (e.g. fpga=2,gpu=UUID1,gpu=UUID2,gpu=UUID3)",
  },
  "force-new-cluster": { type: "boolean", describe: "Force the creation of a new cluster from data directory" },
  "heartbeat-tick": {
    type: "string",
    default: "1",
    describe: "Defines the heartbeat interval (in ticks) for raft member health-check",
  },
  "election-tick": {
    type: "string",
    default: "3",
    describe: "Defines the amount of ticks needed without a Leader to trigger a new election",
  },
  "tick-interval": { type: "string", default: "1s", describe: "Length of one raft tick (e.g. 100ms, 1s)" },
  "external-ca": { type: "string", describe: "Specifications of one or more certificate signing endpoints (repeatable)" },
  autolock: { type: "boolean", describe: "Require an unlock key in order to start a manager once it's been stopped" },
  "unlock-key": { type: "string", describe: "Unlock this manager using this key" },
  help: { alias: "h", type: "boolean", describe: "Show help" },
} as const;

type FlagName = keyof typeof OPTIONS;

export type ParseOutcome =
  | { action: "run"; config: NodeConfig }
  | { action: "exit"; code: 0 | 2; stdout?: string; stderr?: string };

class UsageError extends Error {}

function buildParser(argv: readonly string[]) {
  return yargs([...argv])
    .scriptName("swarmd")
    .usage("swarmd [flags]\n\nRun a swarm control process")
    // Before .options(): our own -v/--version and -h/--help replace yargs'.
    .version(false)
    .help(false)
    .options(OPTIONS)
    .parserConfiguration({
      // "-v5" must not mean "-v 5"; numbers stay strings so we validate them.
      "parse-numbers": false,
      "parse-positional-numbers": false,
      "boolean-negation": false,
    })
    .strict()
    .strictOptions()
    .exitProcess(false)
    // Must throw: a .fail() that returns lets yargs carry on with bad input.
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    })
    .wrap(110);
}

/** Parse and validate swarmd's argv (without node and script). */
export async function parseFlags(argv: readonly string[], env: { cwd?: string } = {}): Promise<ParseOutcome> {
  const parser = buildParser(argv);
  const usage = async () => parser.getHelp();
  let args: Record<string, unknown>;
  try {
    checkRawValues(argv);
    args = (await parser.parseAsync()) as Record<string, unknown>;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { action: "exit", code: 2, stderr: `swarmd: ${reason}\n\n${await usage()}\n` };
  }
  if (args.help === true) return { action: "exit", code: 0, stdout: `${await usage()}\n` };
  if (args.version === true) return { action: "exit", code: 0, stdout: `${versionLine("swarmd")}\n` };
  try {
    const config = buildConfig(args, explicitFlags(argv), env.cwd ?? process.cwd());
    return { action: "run", config };
  } catch (err) {
    if (!(err instanceof FlagError) && !(err instanceof UsageError)) throw err;
    return { action: "exit", code: 2, stderr: `swarmd: ${err.message}\n\n${await usage()}\n` };
  }
}

const BOOLEAN_VALUES = new Set(["true", "false", "1", "0", "t", "f", "TRUE", "FALSE", "True", "False", "T", "F"]);

/**
 * What yargs lets through silently: a value flag with no value (yargs uses
 * the default) and `--bool=junk` (yargs reads false). pflag refuses both.
 */
function checkRawValues(argv: readonly string[]): void {
  const shortToLong = new Map<string, FlagName>();
  for (const [name, spec] of Object.entries(OPTIONS)) if ("alias" in spec) shortToLong.set(spec.alias, name as FlagName);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") break;
    const m = /^--([^=]+)(=(.*))?$/.exec(arg) ?? /^-([^-])(=(.*))?$/.exec(arg);
    if (!m) continue;
    const name = m[1]!.length === 1 ? shortToLong.get(m[1]!) : (m[1] as FlagName);
    if (name === undefined || !(name in OPTIONS)) continue;
    const spec = OPTIONS[name];
    if (spec.type === "boolean") {
      if (m[2] !== undefined && !BOOLEAN_VALUES.has(m[3]!)) throw new FlagError(name, m[3]!, "expected true or false");
    } else if (m[2] === undefined) {
      const next = argv[i + 1];
      if (next === undefined || /^-/.test(next)) throw new UsageError(`--${name} needs a value`);
    }
  }
}

/** The long names of the flags present on the command line. */
function explicitFlags(argv: readonly string[]): Set<FlagName> {
  const shortToLong = new Map<string, FlagName>();
  for (const [name, spec] of Object.entries(OPTIONS)) {
    if ("alias" in spec) shortToLong.set(spec.alias, name as FlagName);
  }
  const out = new Set<FlagName>();
  for (const arg of argv) {
    if (arg === "--") break;
    const long = /^--([^=]+)/.exec(arg);
    if (long && long[1]! in OPTIONS) out.add(long[1] as FlagName);
    else if (/^-[^-]/.test(arg)) {
      // Short flags can be bundled ("-vl debug" is unusual but legal).
      for (const ch of arg.slice(1).split("=")[0]!) {
        const name = shortToLong.get(ch);
        if (name) out.add(name);
      }
    }
  }
  return out;
}

/** The last value of a string flag (pflag semantics: a repeated flag's last value wins). */
function lastString(args: Record<string, unknown>, flag: FlagName): string | undefined {
  const v = args[flag];
  const last = Array.isArray(v) ? v[v.length - 1] : v;
  if (last === undefined) return undefined;
  if (typeof last !== "string") throw new FlagError(flag, String(last), "expected a value");
  return last;
}

function allStrings(args: Record<string, unknown>, flag: FlagName): string[] {
  const v = args[flag];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => String(x));
}

function lastBoolean(args: Record<string, unknown>, flag: FlagName): boolean {
  const v = args[flag];
  const last = Array.isArray(v) ? v[v.length - 1] : v;
  if (last === undefined || typeof last === "boolean") return last === true;
  throw new FlagError(flag, String(last), "expected true or false");
}

function buildConfig(args: Record<string, unknown>, given: Set<FlagName>, cwd: string): NodeConfig {
  // Optional string flags: "" means unset, as with pflag's "" defaults.
  const optional = (flag: FlagName): string | undefined => {
    const v = lastString(args, flag);
    return v === undefined || v === "" ? undefined : v;
  };
  const required = (flag: FlagName): string => {
    const v = lastString(args, flag);
    if (v === undefined || v === "") throw new FlagError(flag, v ?? "", "must not be empty");
    return v;
  };

  const logLevel = required("log-level");
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new FlagError("log-level", logLevel, `expected one of ${LOG_LEVELS.join(", ")}`);
  }
  const stateDir = resolve(cwd, required("state-dir"));
  const heartbeatTick = parseTicks("heartbeat-tick", required("heartbeat-tick"));
  const electionTick = parseTicks("election-tick", required("election-tick"));
  if (electionTick <= heartbeatTick) {
    throw new FlagError(
      "election-tick",
      String(electionTick),
      `must be greater than --heartbeat-tick (${heartbeatTick})`,
    );
  }
  const tickIntervalMs = parseDurationMs("tick-interval", required("tick-interval"));
  const controlFlag = optional("listen-control-api");
  const listenControlApi = parseSocketPath(
    "listen-control-api",
    controlFlag !== undefined ? resolve(cwd, controlFlag) : join(stateDir, CONTROL_SOCKET_NAME),
  );
  const listenRemoteApi = parseHostPort("listen-remote-api", required("listen-remote-api"), { allowZeroPort: true });
  const engineAddr = parseEngineAddr("engine-addr", required("engine-addr"));
  const hostnameFlag = optional("hostname");
  const hostname = hostnameFlag !== undefined ? parseHostname("hostname", hostnameFlag) : osHostname();

  const joinTokenRaw = optional("join-token");
  const joinToken = joinTokenRaw !== undefined ? parseJoinToken("join-token", joinTokenRaw) : undefined;
  const joinAddrRaw = optional("join-addr");
  const joinAddr = joinAddrRaw !== undefined ? parseHostPort("join-addr", joinAddrRaw, { allowZeroPort: false }) : undefined;
  if (joinToken !== undefined && joinAddr === undefined) {
    throw new UsageError("--join-token needs --join-addr (the address of a manager of the cluster to join)");
  }
  const advertiseRaw = optional("advertise-remote-api");
  const advertiseRemoteApi =
    advertiseRaw !== undefined ? parseHostPort("advertise-remote-api", advertiseRaw, { allowZeroPort: false }) : undefined;
  const debugRaw = optional("listen-debug");
  const listenDebug = debugRaw !== undefined ? parseHostPort("listen-debug", debugRaw, { allowZeroPort: true }) : undefined;
  const metricsRaw = optional("listen-metrics");
  const listenMetrics =
    metricsRaw !== undefined ? parseHostPort("listen-metrics", metricsRaw, { allowZeroPort: true }) : undefined;
  const externalCas = allStrings(args, "external-ca").map((v) => parseExternalCa("external-ca", v));
  const unlockRaw = optional("unlock-key");
  const unlockKey = unlockRaw !== undefined ? parseUnlockKey("unlock-key", unlockRaw) : undefined;
  const resourcesRaw = optional("generic-node-resources");
  const genericNodeResources =
    resourcesRaw !== undefined ? parseGenericResources("generic-node-resources", resourcesRaw) : [];
  const forceNewCluster = lastBoolean(args, "force-new-cluster");
  const autolock = lastBoolean(args, "autolock");

  // All values are valid; now refuse what is not built yet.
  for (const flag of given) {
    const isEmptyString = OPTIONS[flag].type === "string" && optional(flag) === undefined && flag !== "external-ca";
    if (!SUPPORTED.has(flag) && !isEmptyString) {
      throw new UsageError(`--${flag} is not supported yet (this swarmd does not implement what it drives)`);
    }
  }

  return freezeConfig({
    logLevel: logLevel as LogLevel,
    stateDir,
    ...(joinToken !== undefined ? { joinToken } : {}),
    ...(joinAddr !== undefined ? { joinAddr } : {}),
    engineAddr,
    hostname,
    listenRemoteApi,
    ...(advertiseRemoteApi !== undefined ? { advertiseRemoteApi } : {}),
    listenControlApi,
    ...(listenDebug !== undefined ? { listenDebug } : {}),
    ...(listenMetrics !== undefined ? { listenMetrics } : {}),
    forceNewCluster,
    heartbeatTick,
    electionTick,
    tickIntervalMs,
    externalCas,
    autolock,
    ...(unlockKey !== undefined ? { unlockKey } : {}),
    genericNodeResources,
  });
}
