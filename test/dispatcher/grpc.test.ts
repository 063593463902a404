// The Dispatcher over real grpc-js with mutual TLS on 127.0.0.1:0: a worker
// talks to the leader directly, and through a follower that forwards with
// its own manager certificate.
import { strict as assert } from "node:assert";
import { after, before, describe, it } from "node:test";
import { Server, ServerCredentials, credentials, type ServiceError } from "@grpc/grpc-js";
import {
  DispatcherClient,
  DispatcherService,
  NodeDescription,
  NodeStatus_State,
  TaskState,
  TaskStatus,
  type AssignmentsMessage,
  type SessionMessage,
} from "../../src/shared/api/index.js";
import { newId } from "../../src/shared/ids.js";
import { MANAGER_ROLE, WORKER_ROLE, type NodeRole, createKeyAndCsr, createRootCA, signNodeCsr } from "../../src/shared/pki/index.js";
import { dispatcherGrpcServer, forwardingEndpoint } from "../../src/workers/manager/dispatcher/index.js";
import { callerOf } from "../../src/workers/manager/remoteapi/caller.js";
import { harness, nodeObj, settle, taskObj, type Harness } from "./harness.js";

interface Identity {
  nodeId: string;
  keyPem: string;
  certPem: string;
}

async function listen(server: Server, creds: ServerCredentials): Promise<string> {
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", creds, (e, p) => (e ? reject(e) : resolve(p))));
  return `127.0.0.1:${port}`;
}

describe("dispatcher over gRPC with mutual TLS", () => {
  let caPem: string;
  let clusterId: string;
  let leaderId: Identity, followerId: Identity, worker: Identity;
  let h: Harness;
  const servers: Server[] = [];
  const clients: DispatcherClient[] = [];

  const issue = async (role: NodeRole): Promise<Identity> => {
    const nodeId = newId();
    const { keyPem, csrPem } = await createKeyAndCsr();
    return { nodeId, keyPem, certPem: signNodeCsr({ csrPem, caCertPem: caPem, caKeyPem: caKey, nodeId, role, clusterId }) };
  };
  let caKey: string;
  const serverCreds = (id: Identity) => ServerCredentials.createSsl(Buffer.from(caPem), [{ private_key: Buffer.from(id.keyPem), cert_chain: Buffer.from(id.certPem) }], true);
  const clientCreds = (id: Identity) => credentials.createSsl(Buffer.from(caPem), Buffer.from(id.keyPem), Buffer.from(id.certPem));
  const opts = { "grpc.ssl_target_name_override": "swarm-manager" };

  let leaderAddr: string, followerAddr: string;

  before(async () => {
    const ca = await createRootCA();
    caPem = ca.certPem;
    caKey = ca.keyPem;
    clusterId = newId();
    leaderId = await issue(MANAGER_ROLE);
    followerId = await issue(MANAGER_ROLE);
    worker = await issue(WORKER_ROLE);
    h = await harness({ nodes: [nodeObj(worker.nodeId, "w1")], start: false });
    // Real timers here: the 100 ms batches must run on their own.
    const { Dispatcher } = await import("../../src/workers/manager/dispatcher/dispatcher.js");
    h.dispatcher = new Dispatcher({ nodeId: leaderId.nodeId, managers: () => [{ nodeId: leaderId.nodeId, addr: "127.0.0.1:1" }] });
    await h.dispatcher.start(h.store, h.proposer);

    const leader = new Server();
    leader.addService(DispatcherService, dispatcherGrpcServer(h.dispatcher, (call) => callerOf(call, clusterId)));
    leaderAddr = await listen(leader, serverCreds(leaderId));
    servers.push(leader);

    const toLeader = new DispatcherClient(leaderAddr, clientCreds(followerId), opts);
    clients.push(toLeader);
    const follower = new Server();
    follower.addService(
      DispatcherService,
      dispatcherGrpcServer(forwardingEndpoint({ leaderChannel: () => toLeader.getChannel() as never }), (call) => callerOf(call, clusterId)),
    );
    followerAddr = await listen(follower, serverCreds(followerId));
    servers.push(follower);
  });

  after(async () => {
    for (const c of clients) c.close();
    await h.dispatcher.stop();
    for (const s of servers) s.forceShutdown();
  });

  async function flow(addr: string, taskId: string): Promise<void> {
    const client = new DispatcherClient(addr, clientCreds(worker), opts);
    clients.push(client);
    const session = client.session({ sessionId: "", description: NodeDescription.fromPartial({ hostname: "w1" }) });
    const first = await new Promise<SessionMessage>((resolve, reject) => {
      session.once("data", resolve);
      session.once("error", reject);
    });
    session.on("error", () => undefined);
    assert.equal(first.node?.id, worker.nodeId);
    assert.equal(first.node?.status?.state, NodeStatus_State.READY);
    assert.equal(first.node?.status?.addr, "127.0.0.1");
    assert.equal(first.managers[0]?.peer?.nodeId, leaderId.nodeId);
    const sessionId = first.sessionId;

    const hb = await new Promise<unknown>((resolve, reject) => client.heartbeat({ sessionId }, (e, r) => (e ? reject(e) : resolve(r))));
    assert.deepEqual((hb as { period: unknown }).period !== undefined, true);

    await h.write((tx) => tx.create("task", taskObj(taskId, worker.nodeId, TaskState.ASSIGNED)));
    const assignments = client.assignments({ sessionId });
    const got: AssignmentsMessage[] = [];
    assignments.on("data", (m: AssignmentsMessage) => got.push(m));
    assignments.on("error", () => undefined);
    for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(got[0]?.resultsIn, "1");
    assert.ok(got[0]!.changes.some((c) => c.assignment?.item?.value.id === taskId));

    await new Promise((resolve, reject) =>
      client.updateTaskStatus(
        { sessionId, updates: [{ taskId, status: TaskStatus.fromPartial({ state: TaskState.RUNNING, message: "started" }) }] },
        (e, r) => (e ? reject(e) : resolve(r)),
      ),
    );
    for (let i = 0; i < 100 && h.store.get("task", taskId)?.status?.state !== TaskState.RUNNING; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(h.store.get("task", taskId)!.status?.state, TaskState.RUNNING);
    assert.equal(h.store.get("task", taskId)!.status?.appliedBy, leaderId.nodeId);

    // Someone else's task: the error keeps its code through every hop.
    await h.write((tx) => tx.create("node", nodeObj(`other-${taskId}`)));
    await h.write((tx) => tx.create("task", taskObj(`${taskId}-x`, `other-${taskId}`, TaskState.ASSIGNED)));
    const err = await new Promise<ServiceError>((resolve) =>
      client.updateTaskStatus({ sessionId, updates: [{ taskId: `${taskId}-x`, status: TaskStatus.fromPartial({ state: TaskState.RUNNING }) }] }, (e) =>
        resolve(e!),
      ),
    );
    assert.equal(err.code, 7); // PERMISSION_DENIED
    assert.equal(err.details, "cannot update a task not assigned this node");
    session.cancel();
    assignments.cancel();
    await settle();
  }

  it("a worker's session, heartbeat, assignments and status report against the leader", async () => {
    await flow(leaderAddr, "ta");
  });

  it("the same through a follower, which forwards with the worker's identity", async () => {
    await flow(followerAddr, "tb");
  });

  it("a forwarded identity from a worker certificate is refused", async () => {
    const { Metadata } = await import("@grpc/grpc-js");
    const md = new Metadata();
    md.set("forwarded_cert", "true");
    md.set("forwarded_cert_cn", "someone");
    const client = new DispatcherClient(leaderAddr, clientCreds(worker), opts);
    clients.push(client);
    const err = await new Promise<ServiceError>((resolve) => client.heartbeat({ sessionId: "x" }, md, (e) => resolve(e!)));
    assert.equal(err.code, 7);
  });
});
