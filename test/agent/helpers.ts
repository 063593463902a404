// Builds agents for the tests: a fresh state dir, a worker certificate from
// the test PKI, test-sized timings, and a note of what to clean up.
import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Agent, type AgentOptions } from "../../src/workers/agent/agent.js";
import { DockerExecutor } from "../../src/workers/agent/executor/index.js";
import { newId } from "../../src/shared/ids.js";
import { WORKER_ROLE } from "../../src/shared/pki/index.js";
import type { Pki, Tls } from "./fake-dispatcher.js";

export const TEST_TIMINGS = { initialBackoffMs: 50, maxBackoffMs: 400, rpcTimeoutMs: 2000, taskRetryMs: 200, noManagerRetryMs: 100 };

export interface NodeSetup {
  nodeId: string;
  tls: Tls;
  stateDir: string;
}

export async function newNode(pki: Pki, managers: Array<{ node_id: string; addr: string }>): Promise<NodeSetup> {
  const nodeId = newId();
  const stateDir = await mkdtemp(path.join(tmpdir(), "agent-test-"));
  await writeFile(path.join(stateDir, "state.json"), JSON.stringify(managers), { mode: 0o600 });
  return { nodeId, tls: await pki.issue(nodeId, WORKER_ROLE), stateDir };
}

export async function startAgent(node: NodeSetup, engineAddr: string, extra: Partial<AgentOptions> = {}): Promise<Agent> {
  const agent = new Agent({
    nodeId: node.nodeId,
    tls: node.tls,
    stateDir: node.stateDir,
    executor: new DockerExecutor(engineAddr, { requestTimeoutMs: 10_000 }),
    hostname: "agent-test-host",
    timings: TEST_TIMINGS,
    ...extra,
  });
  await agent.start();
  return agent;
}

/** A loopback port nobody listens on. */
export async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
