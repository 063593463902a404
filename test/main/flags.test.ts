// swarmd flag parsing and validation: defaults, every flag, every class of
// bad value, and the "not supported yet" refusal.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { parseFlags, SUPPORTED, type ParseOutcome } from "../../src/main/flags.js";
import type { NodeConfig } from "../../src/shared/config.js";

const CWD = "/srv/swarm";
const TOKEN = `SWMTKN-1-${"a".repeat(50)}-${"b".repeat(25)}`;

async function config(...argv: string[]): Promise<NodeConfig> {
  const out = await parseFlags(argv, { cwd: CWD });
  if (out.action !== "run") assert.fail(`expected a config, got exit ${out.code}: ${out.stderr ?? out.stdout}`);
  return out.config;
}

async function usageError(...argv: string[]): Promise<string> {
  const out: ParseOutcome = await parseFlags(argv, { cwd: CWD });
  assert.equal(out.action, "exit", `expected ${argv.join(" ")} to be refused`);
  if (out.action !== "exit") throw new Error("unreachable");
  assert.equal(out.code, 2);
  assert.ok(out.stderr, "reason goes to stderr");
  assert.match(out.stderr, /^swarmd: /);
  assert.match(out.stderr, /Options:/, "usage follows the reason");
  return out.stderr.split("\n")[0]!;
}

describe("defaults", () => {
  test("match SwarmKit's swarmd except election-tick 3 and the state dir", async () => {
    const c = await config();
    assert.equal(c.logLevel, "info");
    assert.equal(c.stateDir, "/srv/swarm/swarmkitstate");
    assert.equal(c.listenControlApi, "/srv/swarm/swarmkitstate/swarmd.sock");
    assert.deepEqual(c.listenRemoteApi, { host: "0.0.0.0", port: 4242 });
    assert.equal(c.engineAddr, "unix:///var/run/docker.sock");
    assert.equal(c.hostname, hostname());
    assert.equal(c.heartbeatTick, 1);
    assert.equal(c.electionTick, 3);
    assert.equal(c.tickIntervalMs, 1000);
    assert.equal(c.forceNewCluster, false);
    assert.equal(c.autolock, false);
    assert.deepEqual(c.externalCas, []);
    assert.deepEqual(c.genericNodeResources, []);
    assert.equal(c.joinAddr, undefined);
    assert.equal(c.joinToken, undefined);
  });

  test("the config is deeply frozen", async () => {
    const c = await config();
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.listenRemoteApi));
    assert.throws(() => {
      (c as { logLevel: string }).logLevel = "debug";
    }, TypeError);
  });

  test("the control socket follows --state-dir unless given", async () => {
    assert.equal((await config("-d", "/var/lib/x")).listenControlApi, "/var/lib/x/swarmd.sock");
    assert.equal((await config("-d", "/var/lib/x", "--listen-control-api", "ctl.sock")).listenControlApi, "/srv/swarm/ctl.sock");
  });
});

describe("supported flags", () => {
  test("long and short forms", async () => {
    const c = await config(
      "-l", "debug", "-d", "state", "--hostname", "node-1.example", "--engine-addr", "tcp://127.0.0.1:2375",
      "--listen-remote-api", "127.0.0.1:0", "--listen-control-api", "/tmp/x.sock",
      "--heartbeat-tick", "2", "--election-tick", "20", "--tick-interval", "100ms",
    );
    assert.equal(c.logLevel, "debug");
    assert.equal(c.stateDir, "/srv/swarm/state");
    assert.equal(c.hostname, "node-1.example");
    assert.equal(c.engineAddr, "tcp://127.0.0.1:2375");
    assert.deepEqual(c.listenRemoteApi, { host: "127.0.0.1", port: 0 });
    assert.equal(c.listenControlApi, "/tmp/x.sock");
    assert.equal(c.heartbeatTick, 2);
    assert.equal(c.electionTick, 20);
    assert.equal(c.tickIntervalMs, 100);
    assert.equal((await config("--log-level=warn", "--state-dir=/a")).stateDir, "/a");
  });

  test("every log level", async () => {
    for (const level of ["debug", "info", "warn", "error", "fatal", "panic"]) {
      assert.equal((await config("-l", level)).logLevel, level);
    }
  });

  test("tick intervals in Go duration syntax", async () => {
    const cases: Array<[string, number]> = [["1ms", 1], ["250ms", 250], ["1s", 1000], ["1.5s", 1500], ["1m30s", 90_000], ["1h", 3_600_000]];
    for (const [text, ms] of cases) assert.equal((await config("--tick-interval", text)).tickIntervalMs, ms, text);
  });

  test("remote API address forms", async () => {
    assert.deepEqual((await config("--listen-remote-api", "[::1]:4242")).listenRemoteApi, { host: "::1", port: 4242 });
    assert.deepEqual((await config("--listen-remote-api", ":4243")).listenRemoteApi, { host: "0.0.0.0", port: 4243 });
    assert.deepEqual((await config("--listen-remote-api", "localhost:1")).listenRemoteApi, { host: "localhost", port: 1 });
  });

  test("a repeated flag keeps its last value, as pflag does", async () => {
    assert.equal((await config("-l", "debug", "-l", "error")).logLevel, "error");
  });

  test("the SUPPORTED set is what the issue allows today", () => {
    for (const flag of ["log-level", "state-dir", "tick-interval", "heartbeat-tick", "election-tick",
      "listen-control-api", "listen-remote-api", "hostname", "engine-addr", "version", "help"]) {
      assert.ok(SUPPORTED.has(flag), flag);
    }
    for (const flag of ["join-addr", "join-token", "advertise-remote-api"]) assert.ok(SUPPORTED.has(flag), flag);
  });
});

describe("version and help", () => {
  test("-v and --version print the version and exit 0", async () => {
    for (const flag of ["-v", "--version"]) {
      const out = await parseFlags([flag]);
      assert.equal(out.action, "exit");
      if (out.action !== "exit") return;
      assert.equal(out.code, 0);
      assert.match(out.stdout ?? "", /^swarmd swarmkit-ts \d+\.\d+\.\d+/);
    }
  });

  test("-h lists every flag with its default", async () => {
    const out = await parseFlags(["-h"]);
    assert.equal(out.action, "exit");
    if (out.action !== "exit") return;
    assert.equal(out.code, 0);
    for (const flag of ["--version", "--log-level", "--state-dir", "--join-token", "--engine-addr", "--hostname",
      "--advertise-remote-api", "--listen-remote-api", "--listen-control-api", "--listen-debug", "--listen-metrics",
      "--join-addr", "--force-new-cluster", "--heartbeat-tick", "--election-tick", "--external-ca", "--autolock",
      "--unlock-key", "--generic-node-resources", "--tick-interval"]) {
      assert.ok(out.stdout?.includes(flag), `help mentions ${flag}`);
    }
    assert.match(out.stdout ?? "", /-l, --log-level/);
    assert.match(out.stdout ?? "", /-d, --state-dir/);
  });
});

describe("bad values name the flag and the value", () => {
  const cases: Array<[string[], RegExp]> = [
    [["--bogus"], /Unknown argument: bogus/],
    [["stray"], /Unknown argument: stray/],
    [["-l", "loud"], /--log-level.*"loud"|"loud".*--log-level/],
    [["-l"], /--log-level needs a value/],
    [["-d"], /--state-dir needs a value/],
    [["-d", ""], /--state-dir.*must not be empty/],
    [["--heartbeat-tick", "0"], /"0" for --heartbeat-tick: must be at least 1/],
    [["--heartbeat-tick", "-1"], /--heartbeat-tick needs a value|"-1" for --heartbeat-tick/],
    [["--heartbeat-tick", "1.5"], /"1.5" for --heartbeat-tick/],
    [["--heartbeat-tick", "abc"], /"abc" for --heartbeat-tick/],
    [["--heartbeat-tick", "4294967296", "--election-tick", "4294967297"], /"4294967296" for --heartbeat-tick: must fit in 32 bits/],
    [["--election-tick", "x"], /"x" for --election-tick/],
    [["--election-tick", "1"], /"1" for --election-tick: must be greater than --heartbeat-tick \(1\)/],
    [["--heartbeat-tick", "5", "--election-tick", "5"], /"5" for --election-tick: must be greater than --heartbeat-tick \(5\)/],
    [["--heartbeat-tick"], /--heartbeat-tick needs a value/],
    [["--tick-interval", "0ms"], /"0ms" for --tick-interval: must be at least 1ms/],
    [["--tick-interval", "1"], /"1" for --tick-interval: expected a duration/],
    [["--tick-interval", "fast"], /"fast" for --tick-interval/],
    [["--tick-interval", "1.5ms"], /"1.5ms" for --tick-interval: must be a whole number of milliseconds/],
    [["--listen-remote-api", "4242"], /"4242" for --listen-remote-api: expected host:port/],
    [["--listen-remote-api", "1.2.3.4:65536"], /"1.2.3.4:65536" for --listen-remote-api: port 65536 is out of range/],
    [["--listen-remote-api", "bad host:1"], /"bad host:1" for --listen-remote-api/],
    [["--listen-remote-api", "[nope]:1"], /"\[nope\]:1" for --listen-remote-api: "nope" is not an IPv6 address/],
    [["--listen-control-api", `/tmp/${"x".repeat(120)}.sock`], /--listen-control-api: socket path .* longer than 107 bytes/],
    [["--engine-addr", "docker.sock"], /"docker.sock" for --engine-addr/],
    [["--engine-addr", "unix://"], /"unix:\/\/" for --engine-addr/],
    [["--engine-addr", "tcp://host"], /"tcp:\/\/host" for --engine-addr: expected host:port/],
    [["--hostname", "has space"], /"has space" for --hostname/],
    [["--hostname", "-lead"], /--hostname needs a value/],
    [["--join-token", "SWMTKN-1-abc"], /"SWMTKN-1-abc" for --join-token: not a join token/],
    [["--join-token", `SWMTKN-1-${"A".repeat(50)}-${"b".repeat(25)}`], /for --join-token: not a join token/],
    [["--join-token", TOKEN], /--join-token needs --join-addr/],
    [["--join-addr", "manager"], /"manager" for --join-addr: expected host:port/],
    [["--join-addr", "1.2.3.4:0"], /"1.2.3.4:0" for --join-addr: port 0 is not allowed/],
    [["--advertise-remote-api", "nope"], /"nope" for --advertise-remote-api/],
    [["--listen-debug", "nope"], /"nope" for --listen-debug/],
    [["--listen-metrics", "1.2.3.4:99999"], /"1.2.3.4:99999" for --listen-metrics/],
    [["--external-ca", "url=https://ca"], /for --external-ca: missing protocol=/],
    [["--external-ca", "protocol=acme,url=https://ca"], /for --external-ca: unsupported protocol "acme"/],
    [["--external-ca", "protocol=cfssl"], /for --external-ca: missing url=/],
    [["--external-ca", "protocol=cfssl,url=::"], /for --external-ca: "::" is not a URL/],
    [["--external-ca", "protocol=cfssl,junk"], /for --external-ca: field "junk" is not key=value/],
    [["--unlock-key", "SWMKEY-2-abc"], /"SWMKEY-2-abc" for --unlock-key: not an unlock key/],
    [["--generic-node-resources", "gpu"], /"gpu" for --generic-node-resources/],
    [["--generic-node-resources", "gpu=1,=2"], /for --generic-node-resources: "=2" is not kind=value/],
    [["--autolock=maybe"], /"maybe" for --autolock: expected true or false/],
    [["--force-new-cluster=2"], /"2" for --force-new-cluster: expected true or false/],
  ];
  for (const [argv, reason] of cases) {
    test(argv.join(" ").slice(0, 80), async () => {
      assert.match(await usageError(...argv), reason);
    });
  }
});

test("--generic-node-resources parses discrete and named resources", async () => {
  const out = await parseFlags(["--generic-node-resources", "fpga=2,gpu=UUID1"]);
  assert.equal(out.action, "run");
  if (out.action === "run") assert.equal(out.config.genericNodeResources.length, 2);
});

describe("flags whose subsystem does not exist yet are refused, after validation", () => {
  const valid: Array<[string, string[]]> = [
    ["listen-debug", ["--listen-debug", "127.0.0.1:6060"]],
    ["listen-metrics", ["--listen-metrics", "127.0.0.1:9090"]],
    ["external-ca", ["--external-ca", "protocol=cfssl,url=https://ca.example:8888"]],
    ["autolock", ["--autolock"]],
    ["unlock-key", ["--unlock-key", "SWMKEY-1-aGVsbG8gd29ybGQ="]],
  ];
  for (const [flag, argv] of valid) {
    test(`--${flag}`, async () => {
      const line = await usageError(...argv);
      assert.match(line, new RegExp(`--${flag} is not supported yet`));
    });
  }

  test("even an explicit false boolean is refused, not silently ignored", async () => {
    assert.match(await usageError("--autolock=false"), /--autolock is not supported yet/);
  });

  test("an empty optional value means unset, as in SwarmKit", async () => {
    assert.equal((await config("--join-addr", "")).joinAddr, undefined);
  });
});
