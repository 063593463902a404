import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { SwarmError } from "../../src/shared/errors.js";
import { Secret, SecretSpec } from "../../src/shared/api/index.js";
import { NO_LEADER_TEXT } from "../../src/workers/manager/controlapi/index.js";
import { rpc, rpcError, startHarness, type Harness } from "./harness.js";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

const secret = (name: string) => SecretSpec.fromPartial({ annotations: { name }, data: Buffer.from("s3cr3t") });

test("a follower forwards writes to the leader and returns its answer; reads stay local", async () => {
  h.backend.leader = false;
  h.backend.leaderKnown = true;
  h.backend.forwardImpl = async (method, request) => {
    assert.equal(method, "createSecret");
    assert.equal((request as { spec: SecretSpec }).spec.annotations?.name, "fwd");
    return { secret: Secret.fromPartial({ id: "fromleaderaaaaaaaaaaaaaaa", spec: { annotations: { name: "fwd" } } }) };
  };
  try {
    const res = await rpc(h.client, "createSecret", { spec: secret("fwd") });
    assert.equal(res.secret?.id, "fromleaderaaaaaaaaaaaaaaa");
    assert.equal(h.backend.forwarded.length, 1);
    // Nothing was written locally; reads are served from the local store without forwarding.
    assert.equal((await rpc(h.client, "listSecrets", { filters: undefined })).secrets.length, 0);
    assert.equal((await rpc(h.client, "listClusters", { filters: undefined })).clusters.length, 1);
    assert.equal(h.backend.forwarded.length, 1);
    // The leader's error keeps its code.
    h.backend.forwardImpl = async () => {
      throw new SwarmError("ALREADY_EXISTS", "name conflicts with an existing object: secret fwd already exists");
    };
    const err = await rpcError(h.client, "createSecret", { spec: secret("fwd") });
    assert.equal(err.code, status.ALREADY_EXISTS);
    assert.equal(err.details, "name conflicts with an existing object: secret fwd already exists");
  } finally {
    h.backend.leader = true;
    h.backend.forwardImpl = undefined;
  }
});

test("with no leader, writes fail fast with UNAVAILABLE while reads answer", async () => {
  h.backend.leader = false;
  h.backend.leaderKnown = false;
  h.backend.forwardImpl = async () => {
    throw new Error("must not be called");
  };
  const forwardedBefore = h.backend.forwarded.length;
  try {
    const started = Date.now();
    const err = await rpcError(h.client, "createSecret", { spec: secret("nq") });
    assert.equal(err.code, status.UNAVAILABLE);
    assert.equal(err.details, NO_LEADER_TEXT);
    assert.ok(Date.now() - started < 5000);
    const removal = await rpcError(h.client, "removeService", { serviceId: "x" });
    assert.equal(removal.code, status.UNAVAILABLE);
    assert.equal((await rpc(h.client, "listNodes", { filters: undefined })).nodes.length, 0);
    assert.equal(h.backend.forwarded.length, forwardedBefore, "nothing was forwarded");
  } finally {
    h.backend.leader = true;
    h.backend.leaderKnown = true;
    h.backend.forwardImpl = undefined;
  }
});

test("a follower without a forwarding hook refuses writes with UNAVAILABLE", async () => {
  h.backend.leader = false;
  try {
    const err = await rpcError(h.client, "createSecret", { spec: secret("nohook") });
    assert.equal(err.code, status.UNAVAILABLE);
    assert.match(err.details, /not the leader/);
  } finally {
    h.backend.leader = true;
  }
});
