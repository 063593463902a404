// The generated grpc-js service definitions carry SwarmKit's exact method paths and stream
// shapes, and work with a real grpc-js server and client.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Metadata, Server, ServerCredentials, credentials, type ServiceDefinition } from "@grpc/grpc-js";
import {
  CAService,
  ControlService,
  DispatcherService,
  grpcPath,
  HealthCheckResponse_ServingStatus,
  HealthClient,
  HealthService,
  NodeCAService,
  RaftMembershipService,
  RaftService,
  type HealthServer,
} from "../../src/shared/api/index.js";

/**
 * Method name (the last path segment, since ts-proto's camelCase keys lose acronyms such as
 * GetRootCACertificate -> getRootCaCertificate) -> path and [requestStream, responseStream].
 */
function shape(def: ServiceDefinition): Map<string, { path: string; stream: [boolean, boolean] }> {
  const out = new Map<string, { path: string; stream: [boolean, boolean] }>();
  for (const m of Object.values(def)) {
    out.set(m.path.slice(m.path.lastIndexOf("/") + 1), { path: m.path, stream: [m.requestStream, m.responseStream] });
  }
  return out;
}

const CONTROL_METHODS = [
  "GetNode", "ListNodes", "UpdateNode", "RemoveNode",
  "GetTask", "ListTasks", "RemoveTask",
  "GetService", "ListServices", "CreateService", "UpdateService", "RemoveService", "ListServiceStatuses",
  "GetNetwork", "ListNetworks", "CreateNetwork", "RemoveNetwork",
  "GetCluster", "ListClusters", "UpdateCluster",
  "GetSecret", "UpdateSecret", "ListSecrets", "CreateSecret", "RemoveSecret",
  "GetConfig", "UpdateConfig", "ListConfigs", "CreateConfig", "RemoveConfig",
  "GetExtension", "CreateExtension", "RemoveExtension",
  "GetResource", "UpdateResource", "ListResources", "CreateResource", "RemoveResource",
  "CreateVolume", "GetVolume", "UpdateVolume", "ListVolumes", "RemoveVolume",
];

test("Control defines every SwarmKit method at /docker.swarmkit.v1.Control/<Method>", () => {
  assert.equal(ControlService.listNodes.path, "/docker.swarmkit.v1.Control/ListNodes");
  const methods = shape(ControlService);
  assert.deepEqual([...methods.keys()].sort(), [...CONTROL_METHODS].sort());
  for (const [name, m] of methods) {
    assert.equal(m.path, grpcPath("Control", name));
    assert.deepEqual(m.stream, [false, false], `${name} is unary`);
  }
});

test("agent, CA, raft and health services have SwarmKit's paths and stream shapes", () => {
  const expected: Array<[ServiceDefinition, string, Record<string, [boolean, boolean]>]> = [
    [DispatcherService, "Dispatcher", {
      Session: [false, true], Heartbeat: [false, false], UpdateTaskStatus: [false, false],
      UpdateVolumeStatus: [false, false], Tasks: [false, true], Assignments: [false, true],
    }],
    [CAService, "CA", { GetRootCACertificate: [false, false], GetUnlockKey: [false, false] }],
    [NodeCAService, "NodeCA", { IssueNodeCertificate: [false, false], NodeCertificateStatus: [false, false] }],
    [RaftService, "Raft", { ProcessRaftMessage: [false, false], StreamRaftMessage: [true, false], ResolveAddress: [false, false] }],
    [RaftMembershipService, "RaftMembership", { Join: [false, false], Leave: [false, false] }],
    [HealthService, "Health", { Check: [false, false] }],
  ];
  for (const [def, service, methods] of expected) {
    const got = shape(def);
    assert.deepEqual([...got.keys()].sort(), Object.keys(methods).sort(), service);
    for (const [name, stream] of Object.entries(methods)) {
      assert.equal(got.get(name)?.path, `/docker.swarmkit.v1.${service}/${name}`);
      assert.deepEqual(got.get(name)?.stream, stream, `${service}.${name}`);
    }
  }
  assert.equal(DispatcherService.session.path, "/docker.swarmkit.v1.Dispatcher/Session");
  assert.equal(CAService.getRootCaCertificate.path, "/docker.swarmkit.v1.CA/GetRootCACertificate");
  assert.equal(NodeCAService.issueNodeCertificate.path, "/docker.swarmkit.v1.NodeCA/IssueNodeCertificate");
});

test("generated Health stubs serve a real call over a unix socket", async () => {
  const dir = mkdtempSync(join(tmpdir(), "swarmkit-api-"));
  const sock = join(dir, "h.sock");
  const server = new Server();
  const impl: HealthServer = {
    check: (call, cb) => {
      const status = call.request.service === "ControlAPI"
        ? HealthCheckResponse_ServingStatus.SERVING
        : HealthCheckResponse_ServingStatus.NOT_SERVING;
      cb(null, { status });
    },
  };
  server.addService(HealthService, impl);
  try {
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${sock}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    const client = new HealthClient(`unix://${sock}`, credentials.createInsecure());
    const ask = (service: string) =>
      new Promise<number>((resolve, reject) =>
        client.check({ service }, new Metadata(), { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res.status))),
      );
    assert.equal(await ask("ControlAPI"), HealthCheckResponse_ServingStatus.SERVING);
    assert.equal(await ask("Raft"), HealthCheckResponse_ServingStatus.NOT_SERVING);
    client.close();
  } finally {
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});
