// SwarmKit's own Go swarmctl against our swarmd: grpc-go dials the socket
// path and sends it as :authority (and TLS server name), which Node's HTTP/2
// server refuses unless the control socket's :authority rewriter is in the
// way. The smallest end-to-end proof; test/cluster/go-swarmctl.test.ts covers
// the commands themselves.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { startSwarmd, tempDir, testArgs, type SwarmdProcess } from "../main/helpers.js";
import { waitForControl } from "../helpers/control.js";
import { goSwarmctl } from "../helpers/swarmkit-go.js";

const run = promisify(execFile);

describe("SwarmKit's Go swarmctl on our control socket", () => {
  let dir: { path: string; remove(): Promise<void> };
  let proc: SwarmdProcess;
  let socket = "";
  let goCtl = "";

  before(async () => {
    goCtl = await goSwarmctl();
    dir = await tempDir("go-swarmctl-authority-");
    const stateDir = join(dir.path, "state");
    proc = startSwarmd(testArgs(stateDir, "--tick-interval", "50ms", "--hostname", "go-ctl-host"));
    socket = join(stateDir, "swarmd.sock");
    (await waitForControl(socket)).close();
  });

  after(async () => {
    proc.child.kill("SIGTERM");
    await proc.exited;
    await dir.remove();
  });

  const swarmctl = async (...args: string[]): Promise<string[]> => {
    const { stdout } = await run(goCtl, ["-s", socket, ...args], { timeout: 30_000 });
    return stdout.trimEnd().split("\n");
  };

  test("node ls", async () => {
    const lines = await swarmctl("node", "ls");
    assert.equal(lines.length, 3, lines.join("\n"));
    assert.match(lines[0]!, /^ID\s+Name\s+Membership\s+Status\s+Availability\s+Manager Status$/);
    assert.match(lines[1]!, /^--\s+----\s+----------\s+------\s+------------\s+--------------$/);
    assert.match(lines[2]!, /^[0-9a-z]{25}\s+go-ctl-host\s+ACCEPTED\s+(UNKNOWN|READY)\s+ACTIVE\s+REACHABLE \*$/);
  });

  test("cluster ls", async () => {
    const lines = await swarmctl("cluster", "ls");
    assert.equal(lines.length, 3, lines.join("\n"));
    assert.match(lines[0]!, /^ID\s+Name$/);
    assert.match(lines[1]!, /^--\s+----$/);
    assert.match(lines[2]!, /^[0-9a-z]{25}\s+default$/);
  });
});
