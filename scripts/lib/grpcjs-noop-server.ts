// A grpc-js server that does nothing: Control.CreateService and RemoveService
// answer at once with a canned message the size of a real answer, over TLS on
// a unix socket, as swarmd's control socket serves them. What it sustains is
// the most any control API built on grpc-js can answer the same client on
// this host (bench:control's floor lines). Run as its own process: node grpcjs-noop-server.js <socket>;
// prints "ready" on stdout once it listens.
import { Server, ServerCredentials, type handleUnaryCall } from "@grpc/grpc-js";
import { CreateServiceResponse, ControlService, encodeToOwnBuffer } from "../../src/shared/api/index.js";
import { createRootCA } from "../../src/shared/pki/index.js";
import { controlServerOptions } from "../../src/workers/manager/controlapi/server.js";

const socket = process.argv[2];
if (!socket) {
  console.error("usage: grpcjs-noop-server.js <unix socket path>");
  process.exit(2);
}

const created = encodeToOwnBuffer(CreateServiceResponse, CreateServiceResponse.fromPartial({
  service: {
    id: "k2l3m4n5o6p7q8r9s0t1u2v3w",
    meta: { version: { index: 12345 }, createdAt: new Date(1_800_000_000_000), updatedAt: new Date(1_800_000_000_000) },
    spec: {
      annotations: { name: "b-single_manager-8-123" },
      task: { runtime: { $case: "container", value: { image: "busybox:local" } } },
      mode: { $case: "replicated", value: { replicas: 0 } },
    },
  },
}));
const empty = Buffer.alloc(0);
const identity = (b: Buffer): Buffer => b;

const server = new Server(controlServerOptions()); // swarmd's control server's own
const answer = (bytes: Buffer): handleUnaryCall<Buffer, Buffer> => (_call, cb) => cb(null, bytes);
server.register(ControlService.createService.path, answer(created), identity, identity, "unary");
server.register(ControlService.removeService.path, answer(empty), identity, identity, "unary");
const { certPem, keyPem } = await createRootCA({ cn: "swarm-manager" });
const creds = ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(certPem), private_key: Buffer.from(keyPem) }], false);
server.bindAsync(`unix://${socket}`, creds, (err) => {
  if (err) {
    console.error(`grpcjs-noop-server: cannot listen on ${socket}: ${err.message}`);
    process.exit(1);
  }
  console.log("ready");
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
