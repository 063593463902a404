import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { stat, writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { credentials, status } from "@grpc/grpc-js";
import { ConfigSpec, ControlClient, HealthCheckResponse_ServingStatus, type HealthCheckResponse } from "../../src/shared/api/index.js";
import { connectControl, connectControlHealth } from "../../src/shared/control-client.js";
import { startControlServer } from "../../src/workers/manager/controlapi/index.js";
import { TestBackend, rpc, rpcError, startHarness, tlsMaterial, type Harness } from "./harness.js";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

test("the control socket is a unix socket with mode 0600", async () => {
  const st = await stat(h.socketPath);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o600);
});

test("it speaks TLS: a TLS client skipping verification gets answers, a plaintext client does not", async () => {
  const res = await rpc(h.client, "listClusters", { filters: undefined });
  assert.equal(res.clusters.length, 1);
  const plain = new ControlClient(`unix://${h.socketPath}`, credentials.createInsecure());
  try {
    const err = await rpcError(plain, "listClusters", { filters: undefined });
    assert.equal(err.code, status.UNAVAILABLE);
  } finally {
    plain.close();
  }
});

test("Health reports ControlAPI SERVING and refuses unknown services", async () => {
  const health = connectControlHealth(h.socketPath);
  try {
    const check = (service: string) =>
      new Promise<HealthCheckResponse>((resolve, reject) =>
        health.check({ service }, (err, res) => (err ? reject(err) : resolve(res))),
      );
    assert.equal((await check("ControlAPI")).status, HealthCheckResponse_ServingStatus.SERVING);
    await assert.rejects(check("Raft"), (err: { code?: number }) => err.code === status.NOT_FOUND);
  } finally {
    health.close();
  }
});

test("a List answer over 4 MiB reaches the client; a request over 4 MiB is refused (SwarmKit caps requests only)", async () => {
  // Five configs of almost 1 MB each: each create is under the request cap, their list is not.
  const data = Buffer.alloc(999_000, 0x61);
  for (let i = 0; i < 5; i++) await rpc(h.client, "createConfig", { spec: ConfigSpec.fromPartial({ annotations: { name: `big-${i}` }, data }) });
  const res = await rpc(h.client, "listConfigs", { filters: { names: [], idPrefixes: [], labels: {}, namePrefixes: ["big-"] } });
  assert.equal(res.configs.length, 5);
  assert.ok(res.configs.reduce((n, c) => n + (c.spec?.data.length ?? 0), 0) > 4 * 1024 * 1024);
  const bigSender = connectControl(h.socketPath, { "grpc.max_send_message_length": -1 });
  try {
    const err = await rpcError(bigSender, "createConfig", { spec: ConfigSpec.fromPartial({ annotations: { name: "too-big" }, data: Buffer.alloc(5 * 1024 * 1024) }) });
    assert.equal(err.code, status.RESOURCE_EXHAUSTED);
  } finally {
    bigSender.close();
  }
  for (const c of res.configs) await rpc(h.client, "removeConfig", { configId: c.id });
});

test("methods outside the implemented set answer UNIMPLEMENTED with the method name", async () => {
  const err = await rpcError(h.client, "listVolumes", { filters: undefined });
  assert.equal(err.code, status.UNIMPLEMENTED);
  assert.match(err.details, /listVolumes is not implemented/);
});

test("a stale socket file is replaced; a regular file at the path is refused; stop removes the socket", async () => {
  const tls = await tlsMaterial();
  const dir = await mkdtemp(join(tmpdir(), "controlapi-sock-"));
  try {
    const sock = join(dir, "stale.sock");
    // A process killed with SIGKILL cannot unlink its socket: that is a stale socket.
    const child = spawn(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(sock)}, () => console.log("up"))`], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((r) => child.stdout.once("data", () => r()));
    child.kill("SIGKILL");
    await new Promise<void>((r) => child.once("exit", () => r()));
    assert.ok((await stat(sock)).isSocket(), "precondition: a stale socket file exists");
    await writeFile(join(dir, "placeholder"), "");
    const opts = { tls: { certPem: tls.certPem, keyPem: tls.keyPem }, backend: new TestBackend() };
    const server = await startControlServer({ ...opts, socketPath: sock });
    assert.ok((await stat(sock)).isSocket());
    await server.stop(200);
    await assert.rejects(stat(sock), /ENOENT/);
    const file = join(dir, "placeholder");
    await assert.rejects(startControlServer({ ...opts, socketPath: file }), /is not a socket/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
