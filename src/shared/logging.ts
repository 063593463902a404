// One structured logger for all three threads. Each thread builds its root
// logger from the same level; every line names its thread and module.
import { pino, type Logger } from "pino";
import { isMainThread, threadId } from "node:worker_threads";

export type { Logger };
export const LOG_LEVELS = ["debug", "info", "warn", "error", "fatal", "panic"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

// pino has no "panic"; SwarmKit's logrus does. panic logs only fatal-and-above.
function pinoLevel(level: LogLevel): string {
  return level === "panic" ? "fatal" : level;
}

let root: Logger | undefined;

export function initLogging(level: LogLevel, thread: string): Logger {
  root = pino(
    {
      level: pinoLevel(level),
      base: { thread },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    // Synchronous writes to stderr: works the same from worker threads and
    // loses nothing when a thread dies right after logging.
    pino.destination({ fd: 2, sync: true }),
  );
  return root;
}

const silent: Logger = pino({ level: "silent" });

/**
 * A logger for one module. Modules take theirs at import time, before the
 * thread has called initLogging, so the child is bound on first use.
 */
export function getLogger(module: string, bindings: Record<string, unknown> = {}): Logger {
  let bound: Logger | undefined;
  const target = (): Logger => {
    if (bound) return bound;
    if (!root) return silent;
    bound = root.child({ module, ...bindings });
    return bound;
  };
  return new Proxy(silent, {
    get(_t, prop) {
      const l = target();
      const v = Reflect.get(l, prop, l) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(l) : v;
    },
  });
}

export function threadName(): string {
  return isMainThread ? "main" : `worker-${threadId}`;
}
