// Certificate renewal end to end through dist/main.js, with the renewal delay
// shortened by SWARMD_TEST_RENEW_AFTER_MS: a manager renews at its own remote
// API, a worker at the manager named in its state.json. The certificate files
// change, keep CN/OU/O, the manager serves the renewed certificate, and the
// worker restarted with its renewed files is accepted again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { NodeStatus_State, type Cluster, type ControlClient, type Node } from "../../src/shared/api/index.js";
import { TEST_RENEW_AFTER_ENV } from "../../src/main/identity/index.js";
import { MANAGER_ROLE, WORKER_ROLE, keyMatchesCert, parseNodeCert, verifyChain } from "../../src/shared/pki/index.js";
import { unary, waitForControl } from "../helpers/control.js";
import { startEngine } from "../helpers/engine.js";
import { eventually as waitFor } from "../helpers/wait.js";
import { startSwarmd, tempDir, testArgs, type SwarmdProcess } from "../main/helpers.js";

const ENV = { [TEST_RENEW_AFTER_ENV]: "1500" };
const certFile = (stateDir: string) => join(stateDir, "certificates", "swarm-node.crt");
const keyFile = (stateDir: string) => join(stateDir, "certificates", "swarm-node.key");
const serial = (pem: string) => new X509Certificate(pem).serialNumber;

const eventually = <T>(what: string, fn: () => Promise<T | undefined> | T | undefined): Promise<T> => waitFor(what, fn, 30_000, 100);

/** Serials of certificates the file held, sampled until `count` distinct ones were seen after the first. */
async function waitForRenewals(stateDir: string, count: number): Promise<string[]> {
  const seen = [serial(readFileSync(certFile(stateDir), "utf8"))];
  await eventually(`${count} renewals in ${stateDir}`, () => {
    const s = serial(readFileSync(certFile(stateDir), "utf8"));
    if (!seen.includes(s)) seen.push(s);
    return seen.length > count ? true : undefined;
  });
  return seen;
}

/** The certificate the remote API presents to a client with the node's current files. */
function servedCertificate(addr: string, stateDir: string): Promise<X509Certificate> {
  const [host, port] = addr.split(":");
  return new Promise((resolve, reject) => {
    const sock = tlsConnect({
      host,
      port: Number(port),
      ca: readFileSync(join(stateDir, "certificates", "swarm-root-ca.crt")),
      cert: readFileSync(certFile(stateDir)),
      key: readFileSync(keyFile(stateDir)),
      servername: "swarm-manager",
      ALPNProtocols: ["h2"],
    });
    sock.once("secureConnect", () => {
      const peer = sock.getPeerX509Certificate();
      sock.destroy();
      if (peer) resolve(peer);
      else reject(new Error("no peer certificate"));
    });
    sock.once("error", reject);
  });
}

const nodes = (c: ControlClient) => unary<"listNodes", object, { nodes: Node[] }>(c, "listNodes", { filters: undefined }).then((r) => r.nodes);

test("managers and workers renew their certificates and keep working", { timeout: 120_000 }, async () => {
  const engine = await startEngine();
  const dir = await tempDir("swarmd-renewal-");
  const procs: SwarmdProcess[] = [];
  let client: ControlClient | undefined;
  try {
    const m1Dir = join(dir.path, "m1");
    const m1 = startSwarmd(testArgs(m1Dir, "--tick-interval", "100ms", "--engine-addr", engine), ENV);
    procs.push(m1);
    await m1.waitForLog(/"remoteApi":"127\.0\.0\.1:[1-9]\d*"/, 30_000);
    const addr = `127.0.0.1:${/"remoteApi":"127\.0\.0\.1:([1-9]\d*)"/.exec(m1.stderr())![1]}`;
    client = await waitForControl(join(m1Dir, "swarmd.sock"), 30_000);
    const cluster = (await unary<"listClusters", object, { clusters: Cluster[] }>(client, "listClusters", { filters: undefined })).clusters[0]!;
    const first = parseNodeCert(readFileSync(certFile(m1Dir), "utf8"));

    const w1Dir = join(dir.path, "w1");
    const workerArgs = testArgs(w1Dir, "--tick-interval", "100ms", "--engine-addr", engine, "--listen-control-api", join(dir.path, "w1.sock"));
    let w1 = startSwarmd([...workerArgs, "--join-addr", addr, "--join-token", cluster.rootCa!.joinTokens!.worker], ENV);
    procs.push(w1);
    await w1.waitForLog(/joined the cluster/, 30_000);
    const workerFirst = parseNodeCert(readFileSync(certFile(w1Dir), "utf8"));

    const [mSerials, wSerials] = await Promise.all([waitForRenewals(m1Dir, 2), waitForRenewals(w1Dir, 2)]);
    assert.equal(new Set(mSerials).size, mSerials.length);
    assert.equal(new Set(wSerials).size, wSerials.length);

    for (const [stateDir, before, role] of [
      [m1Dir, first, MANAGER_ROLE],
      [w1Dir, workerFirst, WORKER_ROLE],
    ] as const) {
      const pem = readFileSync(certFile(stateDir), "utf8");
      const key = readFileSync(keyFile(stateDir), "utf8");
      const now = parseNodeCert(pem);
      assert.deepEqual([now.nodeId, now.role, now.clusterId], [before.nodeId, role, cluster.id]);
      assert.ok(keyMatchesCert(key, pem), "the key on disk belongs to the certificate on disk");
      verifyChain(pem, readFileSync(join(stateDir, "certificates", "swarm-root-ca.crt"), "utf8"));
      assert.equal(statSync(keyFile(stateDir)).mode & 0o777, 0o600);
    }
    assert.match(w1.stderr(), /"module":"renewer"[^\n]*"manager":"127\.0\.0\.1:\d+"[^\n]*node certificate renewed/);

    // The remote API serves a renewed certificate, not the bootstrap one.
    const served = await servedCertificate(addr, m1Dir);
    assert.notEqual(served.serialNumber, mSerials[0]);
    assert.match(served.subject, new RegExp(`CN=${first.nodeId}`));

    // The control API still answers and sees the worker; the worker restarted
    // with its renewed files (joined identity, no join flags) is accepted.
    const workerReady = () =>
      eventually("the worker READY", async () => {
        const w = (await nodes(client!)).find((n) => n.id === workerFirst.nodeId);
        return w?.status?.state === NodeStatus_State.READY ? w : undefined;
      });
    await workerReady();
    w1.child.kill("SIGTERM");
    assert.equal((await w1.exited).code, 0);
    const renewedOnDisk = serial(readFileSync(certFile(w1Dir), "utf8"));
    assert.notEqual(renewedOnDisk, wSerials[0], "the worker stopped with a renewed certificate on disk");
    w1 = startSwarmd(workerArgs, { [TEST_RENEW_AFTER_ENV]: "600000" });
    procs.push(w1);
    // A dispatcher session is only granted to a certificate the manager accepts.
    await w1.waitForLog(/session registered/, 30_000);
    assert.equal(serial(readFileSync(certFile(w1Dir), "utf8")), renewedOnDisk);
    await workerReady();
  } finally {
    client?.close();
    for (const p of procs) {
      p.child.kill("SIGTERM");
      const t = setTimeout(() => p.kill(), 8000);
      await p.exited;
      clearTimeout(t);
    }
    await dir.remove();
  }
});
