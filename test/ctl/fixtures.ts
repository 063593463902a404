// Fixed objects shaped like the observed SwarmKit single-node cluster.
import {
  Cluster,
  Node,
  NodeRole,
  NodeStatus_State,
  RaftMemberStatus_Reachability,
  Service,
  Task,
  TaskState,
} from "../../src/shared/api/index.js";

export const NOW = new Date("2026-11-26T07:51:25.943Z");
export const ago = (ms: number): Date => new Date(NOW.getTime() - ms);

export const node = Node.fromPartial({
  id: "k21bnxolk3eqaqjqcafql2kje",
  meta: { version: { index: 7 } },
  spec: { annotations: { name: "" }, desiredRole: NodeRole.MANAGER, membership: 1, availability: 0 },
  description: {
    hostname: "n1",
    platform: { os: "linux", architecture: "x86_64" },
    resources: { nanoCpus: 2e9, memoryBytes: 24 * 1024 ** 3 },
    engine: {
      engineVersion: "20.10.24+dfsg1",
      plugins: [
        { type: "Network", name: "bridge" },
        { type: "Network", name: "host" },
        { type: "Volume", name: "local" },
      ],
    },
  },
  status: { state: NodeStatus_State.READY, addr: "127.0.0.1" },
  managerStatus: { raftId: 1, addr: "0.0.0.0:4242", leader: true, reachability: RaftMemberStatus_Reachability.REACHABLE },
  role: NodeRole.MANAGER,
});

export const worker = Node.fromPartial({
  id: "w0rker00000000000000000001",
  spec: { annotations: { name: "w1" }, desiredRole: NodeRole.WORKER, membership: 1, availability: 2 },
  description: { hostname: "host-w1" },
  status: { state: NodeStatus_State.DOWN },
});

export const service = Service.fromPartial({
  id: "5emrytxwpilmyb87mkixu8ad2",
  meta: { version: { index: 10 } },
  spec: {
    annotations: { name: "web" },
    mode: { $case: "replicated", value: { replicas: 1 } },
    task: { runtime: { $case: "container", value: { image: "busybox:local", command: ["sleep"], args: ["100000"] } } },
  },
  specVersion: { index: 10 },
});

export const globalService = Service.fromPartial({
  id: "27s3kg1zxmthcvf7t2k8g4g1w",
  spec: {
    annotations: { name: "glob" },
    mode: { $case: "global", value: {} },
    task: { runtime: { $case: "container", value: { image: "busybox:local" } } },
  },
});

export function task(id: string, slot: number, state: TaskState, desired: TaskState, statusAgoMs: number, extra: Partial<Task> = {}): Task {
  return Task.fromPartial({
    id,
    meta: { createdAt: ago(statusAgoMs + 1000) },
    serviceId: service.id,
    slot,
    nodeId: node.id,
    serviceAnnotations: { name: "web" },
    spec: service.spec!.task!,
    specVersion: { index: 10 },
    desiredState: desired,
    status: {
      state,
      timestamp: ago(statusAgoMs),
      message: "started",
      runtimeStatus: { $case: "container", value: { containerId: "2b6e4c15c8f6", pid: 15402 } },
    },
    ...extra,
  });
}

export const runningTask = task("17o8w8g9p95zhq6ydt2w5c1dh", 1, TaskState.RUNNING, TaskState.RUNNING, 2000);

export const cluster = Cluster.fromPartial({
  id: "ua489p1yan3rkr3gb4xbj7tal",
  meta: { version: { index: 3 } },
  spec: {
    annotations: { name: "default" },
    orchestration: { taskHistoryRetentionLimit: 5 },
    dispatcher: { heartbeatPeriod: { seconds: 5, nanos: 0 } },
    caConfig: { nodeCertExpiry: { seconds: 2160 * 3600, nanos: 0 } },
  },
  rootCa: { joinTokens: { worker: "SWMTKN-1-abc-worker", manager: "SWMTKN-1-abc-manager" } },
});
