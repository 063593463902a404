// Runs the built dist/ctl.js against a small in-test Control server: grpc-js
// over TLS on a unix socket (the way swarmd serves it), answering from fixed data.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import {
  ControlService,
  Service,
  Task,
  TaskState,
  type ServiceSpec,
} from "../../src/shared/api/index.js";
import { MANAGER_ROLE, createKeyAndCsr, createRootCA, signNodeCsr } from "../../src/shared/pki/index.js";
import { cluster, node, runningTask, service, worker } from "./fixtures.js";

const CTL = fileURLToPath(new URL("../../../dist/ctl.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "swarmctl-e2e-"));
const sock = join(dir, "swarmd.sock");
let server: grpc.Server;

const services: Service[] = [service];
const tasks: Task[] = [];
const created: ServiceSpec[] = [];

type Cb<T> = (err: Partial<grpc.StatusObject> | null, res?: T) => void;
type Call<Q> = { request: Q };
const notFound = (what: string): Partial<grpc.StatusObject> => ({ code: grpc.status.NOT_FOUND, details: `${what} not found` });
const fresh = (t: Task): Task => ({ ...t, status: { ...t.status!, timestamp: new Date(Date.now() - 2000) } });

before(async () => {
  const ca = await createRootCA();
  const { keyPem, csrPem } = await createKeyAndCsr();
  const certPem = signNodeCsr({ csrPem, caCertPem: ca.certPem, caKeyPem: ca.keyPem, nodeId: node.id, role: MANAGER_ROLE, clusterId: cluster.id });
  tasks.push(runningTask);
  server = new grpc.Server();
  const handlers = {
    listNodes: (_c: Call<unknown>, cb: Cb<unknown>) => cb(null, { nodes: [node, worker] }),
    getNode: (c: Call<{ nodeId: string }>, cb: Cb<unknown>) => {
      const n = [node, worker].find((x) => x.id === c.request.nodeId);
      return n ? cb(null, { node: n }) : cb(notFound(`node ${c.request.nodeId}`));
    },
    listServices: (_c: Call<unknown>, cb: Cb<unknown>) => cb(null, { services }),
    getService: (c: Call<{ serviceId: string }>, cb: Cb<unknown>) => {
      const s = services.find((x) => x.id === c.request.serviceId);
      return s ? cb(null, { service: s }) : cb(notFound(`service ${c.request.serviceId}`));
    },
    listTasks: (c: Call<{ filters?: { serviceIds: string[] } }>, cb: Cb<unknown>) => {
      const ids = c.request.filters?.serviceIds ?? [];
      cb(null, { tasks: tasks.filter((t) => ids.length === 0 || ids.includes(t.serviceId)).map(fresh) });
    },
    getTask: (c: Call<{ taskId: string }>, cb: Cb<unknown>) => {
      const t = tasks.find((x) => x.id === c.request.taskId);
      return t ? cb(null, { task: fresh(t) }) : cb(notFound(`task ${c.request.taskId}`));
    },
    createService: (c: Call<{ spec: ServiceSpec }>, cb: Cb<unknown>) => {
      const spec = c.request.spec;
      if (services.some((s) => s.spec?.annotations?.name === spec.annotations?.name)) {
        return cb({ code: grpc.status.ALREADY_EXISTS, details: `name conflicts with an existing object: service ${spec.annotations?.name} already exists` });
      }
      created.push(spec);
      const id = `newservice${String(created.length).padStart(15, "0")}`;
      const s = Service.fromPartial({ id, spec, specVersion: { index: 40 }, meta: { version: { index: 40 } } });
      services.push(s);
      // The "orchestrator": one running task per replica, right away.
      const replicas = spec.mode?.$case === "replicated" ? spec.mode.value.replicas : 1;
      for (let slot = 1; slot <= replicas; slot++) {
        tasks.push(Task.fromPartial({
          id: `${id.slice(0, 20)}task${slot}`, serviceId: id, slot, nodeId: node.id, desiredState: TaskState.RUNNING,
          specVersion: { index: 40 }, serviceAnnotations: spec.annotations, spec: spec.task,
          status: { state: TaskState.RUNNING, timestamp: new Date() },
        }));
      }
      cb(null, { service: s });
    },
    listClusters: (_c: Call<unknown>, cb: Cb<unknown>) => cb(null, { clusters: [cluster] }),
    getCluster: (c: Call<{ clusterId: string }>, cb: Cb<unknown>) =>
      c.request.clusterId === cluster.id ? cb(null, { cluster }) : cb(notFound(`cluster ${c.request.clusterId}`)),
  };
  server.addService(ControlService, handlers as unknown as grpc.UntypedServiceImplementation);
  const creds = grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(keyPem), cert_chain: Buffer.from(certPem) }], false);
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${sock}`, creds, (err) => (err ? reject(err) : resolve())));
});

after(() => {
  server.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function ctl(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CTL, ...args], {
      env: { ...process.env, SWARM_SOCKET: sock, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

test("node ls over TLS on the unix socket ($SWARM_SOCKET), leader starred", { timeout: 30_000 }, async () => {
  const r = await ctl(["node", "ls"]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.equal(
    r.stdout,
    "ID                          Name  Membership  Status  Availability  Manager Status\n" +
      "--                          ----  ----------  ------  ------------  --------------\n" +
      "k21bnxolk3eqaqjqcafql2kje   n1    ACCEPTED    READY   ACTIVE        REACHABLE *\n" +
      "w0rker00000000000000000001  w1    ACCEPTED    DOWN    DRAIN         \n",
  );
});

test("service ls, task ls (-q, resolved names), inspect by prefix, --format json", { timeout: 30_000 }, async () => {
  const [svcLs, taskLs, quiet, inspect, json, noResolve] = await Promise.all([
    ctl(["service", "ls"]),
    ctl(["task", "ls"]),
    ctl(["task", "ls", "-q"]),
    ctl(["svc", "inspect", "we"]),
    ctl(["node", "inspect", "k21b", "--format", "json"]),
    ctl(["-s", sock, "-n", "task", "ls"]),
  ]);
  assert.match(svcLs.stdout, /^ID +Name +Image +Replicas\n-- +---- +----- +--------\n5emrytxwpilmyb87mkixu8ad2  web   busybox:local  1\/1\n/);
  assert.match(taskLs.stdout, /\n17o8w8g9p95zhq6ydt2w5c1dh  web\.1 +RUNNING +RUNNING \d+ seconds ago  n1\n$/);
  assert.equal(quiet.stdout, "17o8w8g9p95zhq6ydt2w5c1dh\n");
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.match(inspect.stdout, /^ID {16}: 5emrytxwpilmyb87mkixu8ad2\nName {14}: web\nReplicas {10}: 1\/1\n/);
  assert.match(inspect.stdout, /\nTask ID {22}Service {4}Slot/);
  const parsed = JSON.parse(json.stdout) as { id: string; description: { hostname: string } };
  assert.equal(parsed.id, node.id);
  assert.equal(parsed.description.hostname, "n1");
  assert.match(noResolve.stdout, /5emrytxwpilmyb87mkixu8ad2\.1 +RUNNING .* k21bnxolk3eqaqjqcafql2kje\n$/);
});

test("errors: Error: <message> on stderr with non-zero exit codes", { timeout: 30_000 }, async () => {
  const [notFound, usage, unknownFlag, noSocket, dup, ambiguous] = await Promise.all([
    ctl(["service", "inspect", "nosuch"]),
    ctl(["service", "create", "--name", "x"]),
    ctl(["service", "update", "web", "--mode", "global"]),
    ctl(["-s", join(dir, "nonexistent.sock"), "node", "ls"]),
    ctl(["service", "create", "--name", "web", "--image", "busybox:local", "--detach"]),
    ctl(["node", "inspect", "", "--format", "json"]),
  ]);
  assert.equal(notFound.stderr, "Error: service nosuch not found\n");
  assert.equal(notFound.code, 1);
  assert.equal(notFound.stdout, "");
  assert.equal(usage.stderr, "Error: --name and --image are mandatory\n");
  assert.equal(usage.code, 2);
  assert.match(unknownFlag.stderr, /^Error: Unknown argument: mode\n/);
  assert.equal(unknownFlag.code, 2);
  assert.match(noSocket.stderr, /^Error: connection error: .*nonexistent\.sock/);
  assert.equal(noSocket.code, 1);
  assert.equal(dup.stderr, "Error: name conflicts with an existing object: service web already exists\n");
  assert.equal(dup.code, 1);
  assert.equal(ambiguous.code, 1);
  assert.equal(ambiguous.stderr, "Error: node  not found\n");
});

test("service create waits for convergence (plain progress lines off a TTY); --detach does not", { timeout: 30_000 }, async () => {
  const r = await ctl(["service", "create", "--name", "api", "--image", "busybox:local", "--replicas", "2", "--env", "A=1,B=2"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "newservice000000000000001\n");
  assert.match(r.stderr, /^api\.1 newservice0000000000task1: RUNNING on n1\napi\.2 newservice0000000000task2: RUNNING on n1\napi: 2\/2 tasks running, service converged\n$/);
  const spec = created.at(-1)!;
  assert.deepEqual(spec.mode, { $case: "replicated", value: { replicas: 2 } });
  assert.deepEqual(spec.task?.runtime?.$case === "container" ? spec.task.runtime.value.env : [], ["A=1", "B=2"]);

  const d = await ctl(["service", "create", "--name", "bg", "--image", "busybox:local", "--detach"]);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(d.stdout, "newservice000000000000002\n");
  assert.equal(d.stderr, "");
});

test("cluster ls/inspect and version", { timeout: 30_000 }, async () => {
  const [ls, inspect, version] = await Promise.all([ctl(["cluster", "ls"]), ctl(["cluster", "inspect", "default"]), ctl(["version"])]);
  assert.equal(ls.stdout, "ID                         Name\n--                         ----\nua489p1yan3rkr3gb4xbj7tal  default\n");
  assert.match(inspect.stdout, /^ID {10}: ua489p1yan3rkr3gb4xbj7tal\nName {8}: default\n.*Worker: SWMTKN-1-abc-worker\n/s);
  assert.match(version.stdout, /^swarmctl swarmkit-ts \S+ \(node v\d+/);
});
