import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Mount_Type,
  PortConfig_Protocol,
  PortConfig_PublishMode,
  RestartPolicy_RestartCondition,
  ServiceSpec,
  UpdateConfig_FailureAction,
  UpdateConfig_UpdateOrder,
} from "../../src/shared/api/index.js";
import { FlagError, parseGoDuration, parseNanoCpus, parseRamBytes } from "../../src/ctl/parse.js";
import { argvFlags, mergeServiceFlags, newServiceSpec, specsEqual, type SpecLookups } from "../../src/ctl/service-flags.js";

const lookups: SpecLookups = {
  secretIds: async (names) => new Map(names.filter((n) => n !== "missing").map((n) => [n, `sec-${n}`])),
  configIds: async (names) => new Map(names.map((n) => [n, `cfg-${n}`])),
  networkId: async (n) => `net-${n}`,
};

async function create(argv: Record<string, unknown>): Promise<ServiceSpec> {
  return mergeServiceFlags(newServiceSpec(), argvFlags(argv), lookups);
}

test("Go-compatible value parsers", () => {
  assert.equal(parseGoDuration("1m30s"), 90e9);
  assert.equal(parseGoDuration("1.5h"), 5400e9);
  assert.equal(parseGoDuration("0"), 0);
  assert.equal(parseGoDuration("250ms"), 250e6);
  assert.throws(() => parseGoDuration("5"), /missing unit in duration "5"/);
  assert.throws(() => parseGoDuration("5x"), /unknown unit "x"/);
  assert.equal(parseRamBytes("512m"), 512 * 1024 ** 2);
  assert.equal(parseRamBytes("1GiB"), 1024 ** 3);
  assert.equal(parseRamBytes("100"), 100);
  assert.throws(() => parseRamBytes("lots"), /invalid size: 'lots'/);
  assert.equal(parseNanoCpus("0.5"), 5e8);
  assert.equal(parseNanoCpus("2"), 2e9);
  assert.equal(parseNanoCpus("0.000000001"), 1);
  assert.throws(() => parseNanoCpus("0.0000000001"), /more than 9 decimal places/);
  assert.throws(() => parseNanoCpus("half"), /invalid cpu: half/);
});

test("service create: the defaults swarmctl sends (replicated x1, restart any, container runtime)", async () => {
  const spec = await create({ name: "web", image: "busybox:local" });
  assert.equal(spec.annotations?.name, "web");
  assert.deepEqual(spec.mode, { $case: "replicated", value: { replicas: 1 } });
  assert.equal(spec.task?.runtime?.$case, "container");
  assert.equal(spec.task?.runtime?.value.image, "busybox:local");
  assert.equal(spec.task?.restart?.condition, RestartPolicy_RestartCondition.ANY);
  assert.equal(spec.update, undefined, "no UpdateConfig unless an update flag is given");
});

test("service create: every flag lands in the ServiceSpec", async () => {
  const spec = await create({
    name: "web",
    image: "busybox:local",
    label: ["a=1", " b = 2 "],
    replicas: "3",
    "replicas-max-per-node": "2",
    hostname: "h1",
    command: ["sleep"],
    args: ["100", "a,b"],
    env: ["X=1", "Y=2"],
    tty: true,
    "open-stdin": true,
    init: true,
    "oom-score-adj": "-500",
    ports: ["http:80/tcp:8080/tcp", "dns:53/udp"],
    network: "ingress",
    "memory-reservation": "64m",
    "memory-limit": "1g",
    "cpu-reservation": "0.25",
    "cpu-limit": "1.5",
    "generic-resources": "gpu=2,ssd=UUID1",
    ulimit: ["nofile=1024:2048"],
    "update-parallelism": "2",
    "update-delay": "10s",
    "update-on-failure": "rollback",
    "update-order": "start-first",
    "rollback-parallelism": "1",
    "rollback-delay": "1s",
    "rollback-on-failure": "continue",
    "rollback-order": "stop-first",
    "restart-condition": "on-failure".replace("on-", ""),
    "restart-delay": "3s",
    "restart-max-attempts": "4",
    "restart-window": "1m",
    constraint: ["node.labels.zone==a", "node.role==manager"],
    bind: ["/src:/dst"],
    volume: ["/data"],
    tmpfs: ["/tmp:size=64m,mode=1777,ro"],
    "log-driver": "json-file",
    "log-opt": ["max-size=10m", "compress"],
    secret: ["s1", "s2:target2"],
    config: ["c1:/etc/c1"],
  });
  assert.deepEqual(spec.annotations?.labels, { a: "1", b: "2" });
  assert.deepEqual(spec.mode, { $case: "replicated", value: { replicas: 3 } });
  const task = spec.task!;
  assert.equal(task.runtime?.$case, "container");
  const c = task.runtime.value;
  assert.equal(c.hostname, "h1");
  assert.deepEqual(c.command, ["sleep"]);
  assert.deepEqual(c.args, ["100", "a", "b"], "StringSlice flags split on commas and accumulate");
  assert.deepEqual(c.env, ["X=1", "Y=2"]);
  assert.equal(c.tty, true);
  assert.equal(c.openStdin, true);
  assert.equal(c.init, true);
  assert.equal(c.oomScoreAdj, -500);
  assert.deepEqual(spec.endpoint?.ports.map((p) => [p.name, p.protocol, p.targetPort, p.publishedPort, p.publishMode]), [
    ["http", PortConfig_Protocol.TCP, 80, 8080, PortConfig_PublishMode.HOST],
    ["dns", PortConfig_Protocol.UDP, 53, 0, PortConfig_PublishMode.HOST],
  ]);
  assert.deepEqual(task.networks.map((n) => n.target), ["net-ingress"]);
  assert.equal(task.resources?.reservations?.memoryBytes, 64 * 1024 ** 2);
  assert.equal(task.resources?.limits?.memoryBytes, 1024 ** 3);
  assert.equal(task.resources?.reservations?.nanoCpus, 2.5e8);
  assert.equal(task.resources?.limits?.nanoCpus, 1.5e9);
  assert.deepEqual(task.resources?.reservations?.generic, [
    { resource: { $case: "discreteResourceSpec", value: { kind: "gpu", value: 2 } } },
    { resource: { $case: "namedResourceSpec", value: { kind: "ssd", value: "UUID1" } } },
  ]);
  assert.deepEqual(c.ulimits, [{ name: "nofile", soft: 1024, hard: 2048 }]);
  assert.equal(spec.update?.parallelism, 2);
  assert.deepEqual(spec.update?.delay, { seconds: 10, nanos: 0 });
  assert.equal(spec.update?.failureAction, UpdateConfig_FailureAction.ROLLBACK);
  assert.equal(spec.update?.order, UpdateConfig_UpdateOrder.START_FIRST);
  assert.equal(spec.rollback?.parallelism, 1);
  assert.deepEqual(spec.rollback?.delay, { seconds: 1, nanos: 0 });
  assert.equal(spec.rollback?.failureAction, UpdateConfig_FailureAction.CONTINUE);
  assert.equal(spec.rollback?.order, UpdateConfig_UpdateOrder.STOP_FIRST);
  assert.equal(task.restart?.condition, RestartPolicy_RestartCondition.ON_FAILURE);
  assert.deepEqual(task.restart?.delay, { seconds: 3, nanos: 0 });
  assert.equal(task.restart?.maxAttempts, 4);
  assert.deepEqual(task.restart?.window, { seconds: 60, nanos: 0 });
  assert.deepEqual(task.placement?.constraints, ["node.labels.zone==a", "node.role==manager"]);
  assert.equal(task.placement?.maxReplicas, 2);
  assert.deepEqual(c.mounts.map((m) => [m.type, m.source, m.target, m.readonly]), [
    [Mount_Type.BIND, "/src", "/dst", false],
    [Mount_Type.VOLUME, "", "/data", false],
    [Mount_Type.TMPFS, "", "/tmp", true],
  ]);
  assert.deepEqual(c.mounts[2]!.tmpfsOptions, { sizeBytes: 64 * 1024 ** 2, mode: 0o1777, options: "" });
  assert.deepEqual(task.logDriver, { name: "json-file", options: { "max-size": "10m", compress: "" } });
  assert.deepEqual(c.secrets.map((s) => [s.secretId, s.secretName, s.target?.value.name, s.target?.value.mode]), [
    ["sec-s1", "s1", "s1", 0o444],
    ["sec-s2", "s2", "target2", 0o444],
  ]);
  assert.deepEqual(c.configs.map((s) => [s.configId, s.configName, s.target?.$case === "file" ? s.target.value.name : ""]), [["cfg-c1", "c1", "/etc/c1"]]);
  // The spec is a valid wire message.
  assert.ok(specsEqual(spec, ServiceSpec.decode(ServiceSpec.encode(spec).finish())));
});

test("--mode global; --replicas then only in replicated mode", async () => {
  const g = await create({ name: "g", image: "i", mode: "global" });
  assert.equal(g.mode?.$case, "global");
  await assert.rejects(create({ name: "g", image: "i", mode: "global", replicas: "2" }), /--replicas can only be specified in --mode replicated/);
  await assert.rejects(create({ name: "g", image: "i", mode: "sideways" }), FlagError);
  const zero = await create({ name: "z", image: "i", replicas: "0" });
  assert.deepEqual(zero.mode, { $case: "replicated", value: { replicas: 0 } });
});

test("bad values are FlagErrors with clear messages", async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ replicas: "-1" }, /invalid argument "-1" for "--replicas" flag/],
    [{ replicas: "three" }, /"--replicas" flag/],
    [{ label: ["novalue"] }, /malformed label: novalue/],
    [{ "memory-limit": "12q" }, /invalid size: '12q'/],
    [{ "cpu-limit": "x" }, /invalid cpu: x/],
    [{ "update-delay": "soon" }, /invalid argument "soon" for "--update-delay" flag: time: invalid duration/],
    [{ "restart-delay": "5" }, /missing unit/],
    [{ "restart-condition": "sometimes" }, /invalid restart condition: sometimes/],
    [{ "update-on-failure": "explode" }, /--update-on-failure value must be/],
    [{ "update-order": "random" }, /--update-order value must be stop-first or start-first/],
    [{ "rollback-on-failure": "rollback" }, /--rollback-on-failure value must be pause or continue/],
    [{ ports: ["80"] }, /insufficient parameters in port configuration/],
    [{ ports: ["http:80/xtp"] }, /invalid protocol string: xtp/],
    [{ ports: ["http:80/tcp:8080/udp"] }, /protocol mismatch/],
    [{ bind: ["/only"] }, /bind format "\/only" not supported/],
    [{ volume: ["a:b"] }, /volume format "a:b" not supported/],
    [{ tmpfs: ["relative"] }, /invalid mount spec: relative/],
    [{ ulimit: ["nofile=10:5"] }, /soft limit must be less than or equal to hard limit/],
    [{ ulimit: ["bogus=1"] }, /invalid ulimit type: bogus/],
    [{ "oom-score-adj": "5000" }, /between -1000 and 1000/],
    [{ secret: ["missing"] }, /secret not found: missing/],
    [{ secret: [":x"] }, /invalid secret name provided/],
    [{ "log-opt": ["a=b"] }, /--log-opt requires --log-driver/],
  ];
  for (const [extra, re] of cases) {
    await assert.rejects(create({ name: "n", image: "i", ...extra }), (err: unknown) => {
      assert.ok(err instanceof FlagError, `${JSON.stringify(extra)} should be a FlagError, got ${String(err)}`);
      assert.match((err as Error).message, re);
      return true;
    });
  }
});

test("service update: only given flags change; --force bumps forceUpdate; no-op is detectable", async () => {
  const base = await create({ name: "web", image: "busybox", replicas: "2", env: ["A=1"] });
  const copy = ServiceSpec.decode(ServiceSpec.encode(base).finish());
  await mergeServiceFlags(copy, argvFlags({}), lookups);
  assert.ok(specsEqual(copy, base), "no flags → no change");
  await mergeServiceFlags(copy, argvFlags({ args: ["200000"], force: true }), lookups);
  assert.ok(!specsEqual(copy, base));
  assert.equal(copy.task?.forceUpdate, 1);
  assert.equal(copy.task?.runtime?.$case === "container" ? copy.task.runtime.value.image : "", "busybox");
  assert.deepEqual(copy.task?.runtime?.$case === "container" ? copy.task.runtime.value.env : [], ["A=1"]);
  assert.deepEqual(copy.mode, { $case: "replicated", value: { replicas: 2 } });
  await mergeServiceFlags(copy, argvFlags({ "add-secret": ["s1"], "add-capability": ["CAP_NET_ADMIN"] }), lookups);
  await mergeServiceFlags(copy, argvFlags({ "rm-secret": ["s1"], "rm-capability": ["CAP_NET_ADMIN"] }), lookups);
  const c = copy.task?.runtime?.$case === "container" ? copy.task.runtime.value : undefined;
  assert.deepEqual(c?.secrets, []);
  assert.deepEqual(c?.capabilityAdd, []);
  assert.deepEqual(c?.capabilityDrop, ["CAP_NET_ADMIN"]);
});
