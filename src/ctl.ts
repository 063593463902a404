#!/usr/bin/env node
// swarmctl: the control CLI for swarmd (the command tree lives in src/ctl/).
import { main } from "./ctl/main.js";

await main();
