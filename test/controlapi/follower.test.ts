import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { SwarmError } from "../../src/shared/errors.js";
import { CreateSecretRequest, CreateSecretResponse, Secret, SecretSpec } from "../../src/shared/api/index.js";
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

test("on the control socket a follower forwards a write's bytes untouched and returns the leader's encoded answer", async () => {
  h.backend.leader = false;
  h.backend.leaderKnown = true;
  h.backend.forwardImpl = async () => {
    throw new Error("the typed path must not be used when forwardRaw exists");
  };
  h.backend.forwardRawImpl = async (method, request) => {
    assert.equal(method, "createSecret");
    // The leader sees exactly what the client sent.
    assert.equal(CreateSecretRequest.decode(request).spec?.annotations?.name, "raw");
    const answer = CreateSecretResponse.encode({ secret: Secret.fromPartial({ id: "rawleaderaaaaaaaaaaaaaaa", spec: { annotations: { name: "raw" } } }) }).finish();
    return Buffer.from(answer);
  };
  const rawBefore = h.backend.forwardedRaw.length;
  try {
    const res = await rpc(h.client, "createSecret", { spec: secret("raw") });
    assert.equal(res.secret?.id, "rawleaderaaaaaaaaaaaaaaa");
    assert.equal(h.backend.forwardedRaw.length, rawBefore + 1);
    // Its errors keep their code, and with no leader the raw path fails fast like the typed one.
    h.backend.forwardRawImpl = async () => {
      throw new SwarmError("INVALID_ARGUMENT", "name must be valid as a DNS name component");
    };
    const err = await rpcError(h.client, "createSecret", { spec: secret("Bad Name") });
    assert.equal(err.code, status.INVALID_ARGUMENT);
    h.backend.leaderKnown = false;
    const none = await rpcError(h.client, "createSecret", { spec: secret("raw2") });
    assert.equal(none.code, status.UNAVAILABLE);
    assert.equal(none.details, NO_LEADER_TEXT);
    // Reads are never forwarded, raw or not.
    assert.equal((await rpc(h.client, "listClusters", { filters: undefined })).clusters.length, 1);
    assert.equal(h.backend.forwardedRaw.length, rawBefore + 2);
  } finally {
    h.backend.leader = true;
    h.backend.leaderKnown = true;
    h.backend.forwardImpl = undefined;
    h.backend.forwardRawImpl = undefined;
  }
});

test("on the leader a raw write is decoded and handled locally, malformed bytes included", async () => {
  h.backend.forwardRawImpl = async () => {
    throw new Error("a leader never forwards");
  };
  try {
    const res = await rpc(h.client, "createSecret", { spec: secret("localraw") });
    assert.equal(res.secret?.spec?.annotations?.name, "localraw");
    const bad = await rpcError(h.client, "createSecret", { spec: SecretSpec.fromPartial({ annotations: { name: "" } }) });
    assert.equal(bad.code, status.INVALID_ARGUMENT);
  } finally {
    h.backend.forwardRawImpl = undefined;
  }
});
