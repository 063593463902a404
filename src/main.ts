#!/usr/bin/env node
// swarmd: the SwarmKit node daemon. See src/main/run.ts.
import { runSwarmd } from "./main/run.js";

const code = await runSwarmd(process.argv.slice(2));
process.exitCode = code;
// Everything is stopped by now; do not let a stray handle keep us alive.
setTimeout(() => process.exit(code), 1000).unref();
