// The two kinds of failure the CLI reports: bad usage (exit 2, with help) and
// everything else (exit 1). Both print "Error: <message>".

/** A command line that cannot be run as given: unknown flags, bad flag values, missing arguments. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A command that ran and failed (not found, ambiguous, rejected by the manager…). */
export class CtlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CtlError";
  }
}
