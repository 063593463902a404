import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { makeGenericClientConstructor, status, type ServiceError } from "@grpc/grpc-js";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { ServiceSpec, type DeepPartialServiceSpec } from "./spec-type.js";
import { controlClientCredentials } from "../../src/shared/control-client.js";
import { MAX_REPLICAS } from "../../src/workers/manager/controlapi/index.js";
import { rpcError, startHarness, type Harness } from "./harness.js";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

const base: DeepPartialServiceSpec = {
  annotations: { name: "valid" },
  task: { runtime: { $case: "container", value: { image: "busybox:latest" } } },
  mode: { $case: "replicated", value: { replicas: 1 } },
};
const container = (c: object): DeepPartialServiceSpec => ({
  ...base,
  task: { runtime: { $case: "container", value: { image: "busybox:latest", ...c } } },
});
const task = (t: object): DeepPartialServiceSpec => ({ ...base, task: { ...base.task, ...t } });
const dur = (seconds: number, nanos = 0) => ({ seconds, nanos });

// [case, spec, expected code, a regexp the message must match (naming the field)]
const CASES: [string, DeepPartialServiceSpec | undefined, number, RegExp][] = [
  ["no spec", undefined, status.INVALID_ARGUMENT, /^invalid argument$/],
  ["no name", { ...base, annotations: { name: "" } }, status.INVALID_ARGUMENT, /^meta: name must be provided$/],
  ["bad name", { ...base, annotations: { name: "bad name!" } }, status.INVALID_ARGUMENT, /name must be valid as a DNS name component/],
  ["long name", { ...base, annotations: { name: "a".repeat(64) } }, status.INVALID_ARGUMENT, /name must be 63 characters or fewer/],
  ["no runtime", { ...base, task: {} }, status.INVALID_ARGUMENT, /TaskSpec: missing runtime/],
  ["no image", container({ image: "" }), status.INVALID_ARGUMENT, /^ContainerSpec: image reference must be provided$/],
  ["bad image", container({ image: "Busy Box" }), status.INVALID_ARGUMENT, /ContainerSpec: "Busy Box" is not a valid repository\/tag/],
  ["uppercase image", container({ image: "BusyBox" }), status.INVALID_ARGUMENT, /repository name must be lowercase/],
  ["unknown mode", { ...base, mode: undefined }, status.INVALID_ARGUMENT, /^Unrecognized service mode$/],
  ["absurd replicas", { ...base, mode: { $case: "replicated", value: { replicas: MAX_REPLICAS + 1 } } }, status.INVALID_ARGUMENT, /Number of replicas must be at most/],
  ["negative restart delay", task({ restart: { delay: dur(-1) } }), status.INVALID_ARGUMENT, /TaskSpec: restart-delay cannot be negative/],
  ["malformed duration", task({ restart: { delay: dur(1, -5) } }), status.INVALID_ARGUMENT, /TaskSpec: restart-delay: invalid duration: seconds and nanos have different signs/],
  ["negative update delay", { ...base, update: { delay: dur(-2) } }, status.INVALID_ARGUMENT, /TaskSpec: update-delay cannot be negative/],
  ["bad failure ratio", { ...base, update: { maxFailureRatio: 1.5 } }, status.INVALID_ARGUMENT, /update-maxfailureratio/],
  ["negative rollback monitor", { ...base, rollback: { monitor: dur(-1) } }, status.INVALID_ARGUMENT, /TaskSpec: rollback-monitor cannot be negative/],
  ["tiny cpu", task({ resources: { limits: { nanoCpus: 1000 } } }), status.INVALID_ARGUMENT, /Limits: invalid cpu value/],
  ["tiny memory", task({ resources: { reservations: { memoryBytes: 1024 } } }), status.INVALID_ARGUMENT, /Reservations: invalid memory value 1024: Must be at least 4MiB/],
  ["bad constraint", task({ placement: { constraints: ["node.role=manager"] } }), status.INVALID_ARGUMENT, /placement constraint: constraint expected one operator from ==, !=/],
  ["bad constraint key", task({ placement: { constraints: ["n!ode==x"] } }), status.INVALID_ARGUMENT, /placement constraint: key 'n!ode' is invalid/],
  ["duplicate mount", container({ mounts: [{ type: 1, source: "a", target: "/data" }, { type: 1, source: "b", target: "/data" }] }), status.INVALID_ARGUMENT, /ContainerSpec: duplicate mount point: \/data/],
  ["relative mount target", container({ mounts: [{ type: 1, source: "v", target: "data" }] }), status.INVALID_ARGUMENT, /mount data: target must be an absolute path/],
  ["bind without source", container({ mounts: [{ type: 0, source: "", target: "/x" }] }), status.INVALID_ARGUMENT, /mount \/x: a bind mount needs a source/],
  ["health interval", container({ healthcheck: { interval: dur(0, 1000) } }), status.INVALID_ARGUMENT, /ContainerSpec: Interval in HealthConfig cannot be less than 1ms/],
  ["dnsrr with ingress port", { ...base, endpoint: { mode: 1, ports: [{ targetPort: 80, publishedPort: 80, publishMode: 0 }] } }, status.INVALID_ARGUMENT, /dnsrr/],
  ["duplicate published port", { ...base, endpoint: { ports: [{ targetPort: 80, publishedPort: 81, publishMode: 1 }, { targetPort: 90, publishedPort: 81, publishMode: 1 }] } }, status.INVALID_ARGUMENT, /EndpointSpec: duplicate published ports provided/],
  ["secret ref without target", container({ secrets: [{ secretId: "x", secretName: "y" }] }), status.INVALID_ARGUMENT, /malformed secret reference, no target provided/],
  ["attachment runtime", { ...base, task: { runtime: { $case: "attachment", value: { containerId: "c" } } } }, status.UNIMPLEMENTED, /RuntimeSpec: unimplemented runtime in service spec/],
];

for (const [name, spec, code, message] of CASES) {
  test(`CreateService refuses: ${name}`, async () => {
    const err = await rpcError(h.client, "createService", { spec: spec && ServiceSpec.fromPartial(spec) });
    assert.equal(err.code, code, err.details);
    assert.match(err.details, message);
  });
}

test("UpdateService validates the new spec too", async () => {
  const err = await rpcError(h.client, "updateService", {
    serviceId: "whatever",
    serviceVersion: { index: 1 },
    spec: ServiceSpec.fromPartial(container({ image: "" })),
    rollback: 0,
  });
  assert.equal(err.code, status.INVALID_ARGUMENT);
  assert.equal(err.details, "ContainerSpec: image reference must be provided");
});

/** The raw bytes SwarmKit's Go client sends for replicas: -1 (a uint64 of 2^64-1). */
function createRequestWithReplicas(replicas: bigint): Buffer {
  const specBytes = ServiceSpec.encode(ServiceSpec.fromPartial({ ...base, mode: undefined })).finish();
  const replicated = new BinaryWriter().uint32(8).uint64(replicas).finish();
  const spec = new BinaryWriter().raw(specBytes).uint32((3 << 3) | 2).bytes(replicated).finish();
  return Buffer.from(new BinaryWriter().uint32((1 << 3) | 2).bytes(spec).finish());
}

test("a negative replica count from a Go client (uint64 wrap-around) is INVALID_ARGUMENT naming replicas", async () => {
  const identity = (b: Buffer): Buffer => b;
  const Raw = makeGenericClientConstructor({}, "Raw");
  const raw = new Raw(`unix://${h.socketPath}`, controlClientCredentials(), { "grpc.ssl_target_name_override": "swarm-manager" });
  try {
    const call = (bytes: Buffer) =>
      new Promise<ServiceError | null>((resolve) =>
        raw.makeUnaryRequest("/docker.swarmkit.v1.Control/CreateService", identity, identity, bytes, (err) => resolve(err)),
      );
    const negative = await call(createRequestWithReplicas(BigInt.asUintN(64, -1n)));
    assert.equal(negative?.code, status.INVALID_ARGUMENT);
    assert.equal(negative?.details, "Number of replicas must be non-negative");
    const huge = await call(createRequestWithReplicas(1n << 60n));
    assert.equal(huge?.code, status.INVALID_ARGUMENT);
    assert.match(huge?.details ?? "", /Number of replicas is too large: 1152921504606846976/);
  } finally {
    raw.close();
  }
});
