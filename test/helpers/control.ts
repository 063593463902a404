// Promise wrappers over the generated grpc-js Control client, and a wait
// until a swarmd's control socket answers, for system tests.
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import { connectControl } from "../../src/shared/control-client.js";
import type { ControlClient } from "../../src/shared/api/index.js";

type Callback<Res> = (err: ServiceError | null, res: Res) => void;

/** Call a unary method: unary(client, "listNodes", {}). */
export function unary<K extends keyof ControlClient, Req, Res>(
  client: ControlClient,
  method: K,
  req: Req,
  deadlineMs = 10_000,
): Promise<Res> {
  const fn = client[method] as unknown as (req: Req, md: object, opts: object, cb: Callback<Res>) => unknown;
  return new Promise((resolve, reject) => {
    fn.call(client, req, new Metadata(), { deadline: Date.now() + deadlineMs }, (err: ServiceError | null, res: Res) =>
      err ? reject(err) : resolve(res),
    );
  });
}

/** Connect and wait until ListClusters answers with the default cluster (the manager is leader and bootstrapped). */
export async function waitForControl(socketPath: string, timeoutMs = 20_000): Promise<ControlClient> {
  const client = connectControl(socketPath);
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const res = await unary<"listClusters", object, { clusters: unknown[] }>(client, "listClusters", { filters: undefined }, 2000);
      if (res.clusters.length > 0) return client;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  client.close();
  throw new Error(`control socket ${socketPath} did not answer within ${timeoutMs} ms: ${String(last)}`);
}
