// bench:control's grpc-js floor: a no-op server in its own process that the
// benchmark's client can call, and whose CPU can be read from /proc.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { CreateServiceRequest, RemoveServiceRequest } from "../../src/shared/api/index.js";
import { ControlUnaryClient } from "../../scripts/lib/control-unary-client.js";
import { startGrpcjsNoopServer } from "../../scripts/lib/grpcjs-floor.js";
import { processCpuMs } from "../../scripts/lib/bench-util.js";

test("the grpc-js no-op server answers CreateService and RemoveService over TLS on its socket, and stops cleanly", async () => {
  const srv = await startGrpcjsNoopServer();
  const client = new ControlUnaryClient(srv.socket);
  try {
    const created = await client.call("createService", CreateServiceRequest.fromPartial({ spec: { annotations: { name: "x" } } }));
    assert.ok(created.service?.id, "a created service with an ID, as a real answer has");
    assert.ok(created.service?.spec?.annotations?.name, "with a spec, so its size is a real answer's");
    await client.call("removeService", RemoveServiceRequest.fromPartial({ serviceId: created.service!.id }));
    const cpu = processCpuMs(srv.pid);
    assert.equal(typeof cpu, "number");
    assert.ok(cpu! > 0, "the server process has used some CPU");
  } finally {
    client.close();
    await srv.stop();
  }
  assert.equal(existsSync(dirname(srv.socket)), false, "its temp dir is gone");
  assert.equal(processCpuMs(srv.pid), undefined, "its process is gone");
});

test("processCpuMs reads this process's CPU and gives undefined for a pid that does not exist", () => {
  const own = processCpuMs(process.pid);
  assert.equal(typeof own, "number");
  assert.equal(processCpuMs(2 ** 30), undefined);
});
