// The node's configuration: validated once from the flags by the main thread,
// frozen, and handed to every subsystem (workers get a structured clone and
// freeze it again). Subsystems read it; nobody mutates it.
import type { LogLevel } from "./logging.js";

/** A TCP address. `host` is a hostname or IP literal without brackets. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** One `--external-ca` entry: `protocol=cfssl,url=https://...[,key=value...]`. */
export interface ExternalCa {
  readonly protocol: "cfssl";
  readonly url: string;
  readonly options: Readonly<Record<string, string>>;
}

/** One `--generic-node-resources` entry: `kind=count` or `kind=id`. */
export type GenericResource =
  | { readonly kind: string; readonly type: "discrete"; readonly value: number }
  | { readonly kind: string; readonly type: "named"; readonly value: string };

export interface NodeConfig {
  readonly logLevel: LogLevel;
  /** Absolute path of the state directory. */
  readonly stateDir: string;
  readonly joinToken?: string;
  readonly joinAddr?: HostPort;
  /** Docker Engine API endpoint, as given (`unix:///...`, `tcp://host:port`, ...). */
  readonly engineAddr: string;
  /** Hostname reported for this node (the flag, else the OS hostname). */
  readonly hostname: string;
  readonly listenRemoteApi: HostPort;
  readonly advertiseRemoteApi?: HostPort;
  /** Absolute path of the control API unix socket. */
  readonly listenControlApi: string;
  readonly listenDebug?: HostPort;
  readonly listenMetrics?: HostPort;
  readonly forceNewCluster: boolean;
  /** Raft heartbeat interval, in ticks. */
  readonly heartbeatTick: number;
  /** Raft election timeout, in ticks (> heartbeatTick). */
  readonly electionTick: number;
  /** Length of one raft tick in milliseconds (our --tick-interval). */
  readonly tickIntervalMs: number;
  readonly externalCas: readonly ExternalCa[];
  readonly autolock: boolean;
  readonly unlockKey?: string;
  readonly genericNodeResources: readonly GenericResource[];
}

/** Format a HostPort the way it is written on the command line. */
export function formatHostPort(addr: HostPort): string {
  return addr.host.includes(":") ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}

/** Deep-freeze a config (and return it), so no subsystem can change it. */
export function freezeConfig(config: NodeConfig): NodeConfig {
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}
