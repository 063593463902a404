// Secrets and configs reach containers (issue 8 part 5), single node on the
// real engine: a service referencing a secret and a config gets both as
// files with the requested content and mode; the secret's data never shows
// in Get/List/inspect output nor in swarmd's logs, and its host file goes
// when the task is removed.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import {
  CreateConfigRequest,
  CreateSecretRequest,
  CreateServiceRequest,
  ListTasksRequest,
  type ControlClient,
  type CreateConfigResponse,
  type CreateSecretResponse,
  type CreateServiceResponse,
  type GetSecretResponse,
  type ListNodesResponse,
  type ListSecretsResponse,
  type ListTasksResponse,
  type Task,
} from "../../src/shared/api/index.js";
import { startSwarmd, tempDir, testArgs, type SwarmdProcess } from "../main/helpers.js";
import { unary, waitForControl } from "../helpers/control.js";
import { rawDocker, removeContainersByLabel, startEngine, uniqueId } from "../helpers/engine.js";
import { eventually as waitFor } from "../helpers/wait.js";

const RUNNING = 512;

/** Runs a command in a container and returns its stdout. */
async function execOut(docker: Docker, containerId: string, cmd: string[]): Promise<string> {
  const exec = await docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  const err = new PassThrough();
  let text = "";
  out.on("data", (d: Buffer) => (text += d.toString()));
  err.resume();
  docker.modem.demuxStream(stream, out, err);
  await new Promise<void>((resolve, reject) => {
    stream.on("end", () => resolve());
    stream.on("error", reject);
  });
  return text;
}

describe("secrets and configs become files in containers (real engine)", { timeout: 180_000 }, () => {
  let dir: { path: string; remove(): Promise<void> };
  let proc: SwarmdProcess;
  let client: ControlClient;
  let docker: Docker;
  let engine = "";
  let nodeId = "";
  const secretValue = `s3cr3t-${uniqueId("v")}`;
  const configValue = "listen=8080\n";
  const name = uniqueId("sec");

  before(async () => {
    engine = await startEngine();
    docker = rawDocker(engine);
    dir = await tempDir("swarmd-secrets-");
    const stateDir = join(dir.path, "state");
    proc = startSwarmd(testArgs(stateDir, "--tick-interval", "50ms", "--engine-addr", engine, "--log-level", "debug"));
    client = await waitForControl(join(stateDir, "swarmd.sock"));
    nodeId = await waitFor("the node to be READY", async () => {
      const res = await unary<"listNodes", object, ListNodesResponse>(client, "listNodes", { filters: undefined });
      return res.nodes.find((x) => x.status?.state === 2)?.id;
    });
  });

  after(async () => {
    client?.close();
    proc.kill();
    await proc.exited;
    if (nodeId) await removeContainersByLabel(engine, "com.docker.swarm.node.id", nodeId);
    await dir.remove();
  });

  test("a secret and a config appear at their targets with content and mode; the secret's data shows nowhere else", async () => {
    const sec = await unary<"createSecret", CreateSecretRequest, CreateSecretResponse>(client, "createSecret", CreateSecretRequest.fromPartial({
      spec: { annotations: { name: `${name}-pw` }, data: Buffer.from(secretValue) },
    }));
    const cfg = await unary<"createConfig", CreateConfigRequest, CreateConfigResponse>(client, "createConfig", CreateConfigRequest.fromPartial({
      spec: { annotations: { name: `${name}-conf` }, data: Buffer.from(configValue) },
    }));
    const secretId = sec.secret!.id;
    assert.equal(sec.secret!.spec!.data.length, 0, "CreateSecret does not echo the data");

    const svc = await unary<"createService", CreateServiceRequest, CreateServiceResponse>(client, "createService", CreateServiceRequest.fromPartial({
      spec: {
        annotations: { name },
        task: {
          runtime: {
            $case: "container",
            value: {
              image: "busybox:local",
              command: ["sleep"],
              args: ["3600"],
              secrets: [{ secretId, secretName: `${name}-pw`, target: { $case: "file", value: { name: "db-password", uid: "0", gid: "0", mode: 0o400 } } }],
              configs: [{ configId: cfg.config!.id, configName: `${name}-conf`, target: { $case: "file", value: { name: "/etc/app.conf", uid: "0", gid: "0", mode: 0o644 } } }],
            },
          },
        },
        mode: { $case: "replicated", value: { replicas: 1 } },
      },
    }));
    const serviceId = svc.service!.id;
    const task = await waitFor("a running task", async () => {
      const r = await unary<"listTasks", ListTasksRequest, ListTasksResponse>(client, "listTasks", ListTasksRequest.fromPartial({ filters: { serviceIds: [serviceId] } }));
      return r.tasks.find((t: Task) => t.status?.state === RUNNING);
    });
    const cid = task.status?.runtimeStatus?.$case === "container" ? task.status.runtimeStatus.value.containerId : "";
    assert.ok(cid, "the task reports its container");

    assert.equal(await execOut(docker, cid, ["cat", "/run/secrets/db-password"]), secretValue);
    assert.equal((await execOut(docker, cid, ["stat", "-c", "%a %u %g", "/run/secrets/db-password"])).trim(), "400 0 0");
    assert.equal(await execOut(docker, cid, ["cat", "/etc/app.conf"]), configValue);
    assert.equal((await execOut(docker, cid, ["stat", "-c", "%a", "/etc/app.conf"])).trim(), "644");
    // Read-only bind mount: the container cannot change it.
    assert.match(await execOut(docker, cid, ["sh", "-c", "echo x > /run/secrets/db-password 2>&1 || echo refused"]), /refused|Read-only/);

    const got = await unary<"getSecret", object, GetSecretResponse>(client, "getSecret", { secretId });
    assert.equal(got.secret!.spec!.data.length, 0, "GetSecret never returns the data");
    const listed = await unary<"listSecrets", object, ListSecretsResponse>(client, "listSecrets", { filters: undefined });
    const mine = listed.secrets.find((s) => s.id === secretId);
    assert.ok(mine);
    assert.equal(mine.spec!.data.length, 0, "ListSecrets never returns the data");
    const inspect = await docker.getContainer(cid).inspect();
    assert.ok(!JSON.stringify(inspect).includes(secretValue), "the container's config does not carry the data");
    const hostFile = inspect.Mounts.find((m) => m.Destination === "/run/secrets/db-password")?.Source ?? "";
    assert.ok(hostFile !== "" && existsSync(hostFile), "the secret is bind-mounted from a host file");
    assert.ok(!proc.stderr().includes(secretValue) && !proc.stdout().includes(secretValue), "swarmd never logs the data");

    // Removing the service removes the container and the host file.
    await unary(client, "removeService", { serviceId });
    await waitFor("the container and its secret file to go", async () => {
      const left = await docker.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.id=${serviceId}`] } });
      return left.length === 0 && !existsSync(hostFile) ? true : undefined;
    });
  });
});
