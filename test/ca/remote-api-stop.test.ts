// RemoteApiServer.stop() racing a bind that is already in flight.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { Server } from "@grpc/grpc-js";
import { RemoteApiServer } from "../../src/workers/manager/remoteapi/index.js";
import { newCluster } from "./harness.js";

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** A remote API server for a fresh test cluster, on a free loopback port. */
async function newServer(): Promise<RemoteApiServer> {
  const cluster = await newCluster();
  return new RemoteApiServer({
    listen: { host: "127.0.0.1", port: 0 },
    tls: { caPem: cluster.caPem, certPem: cluster.manager.certPem, keyPem: cluster.manager.keyPem },
    cluster: { id: cluster.clusterId, isRemoved: () => false },
  });
}

test("stop() while the listener's bind is in flight leaves nothing listening", async () => {
  const server = await newServer();
  // Stop right after grpc-js has started binding (before its bind completes); note the port it got.
  const original = Server.prototype.bindAsync;
  let stopping: Promise<void> | undefined;
  let boundPort = 0;
  Server.prototype.bindAsync = function (this: Server, port, creds, callback) {
    Server.prototype.bindAsync = original;
    original.call(this, port, creds, (err, p) => {
      boundPort = p;
      callback(err, p);
    });
    stopping = server.stop();
  };
  try {
    await assert.rejects(server.start(), /stopped/);
    await stopping;
    assert.ok(boundPort > 0, "grpc-js completed the bind");
    assert.equal(await accepts(boundPort), false, "the remote API still listens after stop()");
  } finally {
    Server.prototype.bindAsync = original;
    await server.stop();
  }
});

test("a deferred bind that fails once the address is there rejects whoever waits for it", async () => {
  const server = await newServer();
  // The retry path as after EADDRNOTAVAIL: the probe now succeeds, but grpc-js's bind fails (another
  // process won the port in between).
  const original = Server.prototype.bindAsync;
  Server.prototype.bindAsync = function (this: Server, _port, _creds, callback) {
    Server.prototype.bindAsync = original;
    callback(new Error("bind EADDRINUSE 127.0.0.1"), -1);
  };
  try {
    const waiting = server.whenBound();
    (server as unknown as { retryBind(target: string, retryMs: number, lastCode: string): void }).retryBind("127.0.0.1:0", 1, "EADDRNOTAVAIL");
    await assert.rejects(waiting, /cannot listen on remote API address 127.0.0.1:0: address already in use/);
  } finally {
    Server.prototype.bindAsync = original;
    await server.stop();
  }
});
