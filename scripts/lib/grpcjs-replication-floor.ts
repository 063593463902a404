// Starts the grpc-js replication chain (grpcjs-replication-floor-node.ts): a
// leader and two followers, each a process of its own on loopback ports, with
// a throwaway CA and one manager certificate from it for every TLS link, in a
// temp dir of its own.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MANAGER_ROLE, createKeyAndCsr, createRootCA, signNodeCsr } from "../../src/shared/pki/index.js";
import { freePorts } from "./cluster.js";
import { spawnReady, type ReadyProcess } from "./grpcjs-floor.js";

const NODE = fileURLToPath(new URL("./grpcjs-replication-floor-node.js", import.meta.url));

export interface ReplicationFloor {
  /** The leader's Control socket (CreateConfig only). */
  socket: string;
  /** The temp dir: certificate, socket and each member's log file. */
  dir: string;
  pids: { leader: number; followers: number[] };
  /** Why members exited on their own since the chain formed (status and stderr of each), if any did. */
  failure(): string | undefined;
  /** Stops every member and deletes the temp dir; idempotent. */
  stop(): Promise<void>;
}

export async function startGrpcjsReplicationFloor(followers = 2): Promise<ReplicationFloor> {
  const dir = await mkdtemp(join(tmpdir(), "grpcjs-replication-floor-"));
  const started: ReadyProcess[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(started.map((p) => p.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const ca = await createRootCA();
    const { keyPem, csrPem } = await createKeyAndCsr();
    const certPem = signNodeCsr({ csrPem, caCertPem: ca.certPem, caKeyPem: ca.keyPem, nodeId: "floorfloorfloorfloorfloor", role: MANAGER_ROLE, clusterId: "floorclusterfloorclusterf" });
    await writeFile(join(dir, "ca.pem"), ca.certPem);
    await writeFile(join(dir, "cert.pem"), certPem);
    await writeFile(join(dir, "key.pem"), keyPem, { mode: 0o600 });
    const [leaderPort, ...followerPorts] = await freePorts(1 + followers);
    for (const [i, port] of followerPorts.entries()) started.push(await spawnReady(`floor follower on ${port}`, NODE, ["follower", dir, String(port), String(leaderPort), String(i)]));
    const socket = join(dir, "control.sock");
    started.unshift(await spawnReady("floor leader", NODE, ["leader", dir, socket, String(leaderPort), ...followerPorts.map(String)]));
    const failure = (): string | undefined => started.map((p) => p.failure()).filter((f) => f !== undefined).join("; ") || undefined;
    return { socket, dir, pids: { leader: started[0]!.pid, followers: started.slice(1).map((p) => p.pid) }, failure, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
