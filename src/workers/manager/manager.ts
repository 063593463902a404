// The manager: what runs while this node's role is manager. It assembles
// the replicated store on a raft node (WAL in <state-dir>/raft), the control
// API on the local socket, and the components that only the leader runs,
// started when this manager becomes leader and stopped when it stops being it.
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { formatHostPort, type NodeConfig } from "../../shared/config.js";
import { CurrentTls } from "../../shared/current-tls.js";
import type { IdentityData } from "../../shared/contracts/index.js";
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import { ControlClient, ControlForwarderService, ControlService } from "../../shared/api/index.js";
import { SwarmError, errorMessage } from "../../shared/errors.js";
import { MANAGER_ROLE } from "../../shared/pki/index.js";
import type { WriteMethod, WriteRequest, WriteResponse } from "./controlapi/methods.js";
import { LeaderConnection } from "./leader-connection.js";
import { NO_LEADER } from "./raft/raft-node.js";
import { getLogger } from "../../shared/logging.js";
import { bootstrapClusterObjects } from "./bootstrap.js";
import { startControlServer, withSafeDecoders, type RunningControlServer } from "./controlapi/index.js";
import { controlForwarderHandlers } from "./controlapi/forward-service.js";
import { WriteForwarder } from "./write-forwarder.js";
import type { RaftMemberInfo } from "./controlapi/backend.js";
import { CaServer, GrpcLeaderLink, SignerPool, SigningLoop } from "./ca/index.js";
import { issueNodeCertificate, nodeCertificateStatus } from "./ca/issuance.js";
import { IssuanceStatus_State } from "../../shared/api/index.js";
import { createManagerDispatcher, type ManagerDispatcher } from "./dispatcher/index.js";
import { createOrchestration } from "./orchestrator/index.js";
import type { LocalDispatcherApi } from "../../shared/contracts/index.js";
import { RaftNode, type JoinInfo } from "./raft/raft-node.js";
import { LeaderComponents, type LeaderComponent } from "./leader-components.js";
import { RoleManager } from "./role-manager.js";
import { RaftNetwork } from "./raft/transport/index.js";
import { removedFromSwarm, requestCaller, storeClusterView, type RemoteApiServer } from "./remoteapi/index.js";
import { MemoryStore } from "./store/index.js";

const log = getLogger("manager");

/** A forwarded control write waits this long for the leader (SwarmKit's request timeout is similar). */
const FORWARD_DEADLINE_MS = 25_000;

/**
 * Forwarded calls fail fast while the leader's channel is down (the caller
 * retries; SwarmKit's raft proxy does the same). This code used to pass
 * `waitForReady` in the call options, which grpc-js ignores (it reads it from
 * the metadata's options): the fail-fast behaviour is the one every test and
 * chaos run has exercised, so it is kept, explicitly.
 */
function forwardMetadata(): Metadata {
  return new Metadata({ waitForReady: false });
}
/** How long a manager that just joined raft waits to catch up before serving its control API. */
const JOIN_CATCH_UP_MS = 10_000;

export interface ManagerOptions {
  config: NodeConfig;
  identity: IdentityData;
  /**
   * The worker's live TLS material (renewals update it). Raft, the leader
   * connection and the remote API read it per handshake. Defaults to a
   * holder around identity.tls that never changes.
   */
  tls?: CurrentTls;
  /** Address other managers and agents reach this manager's remote API at. */
  advertiseAddr: string;
  /** The remote API listener to register this manager's services on (CA, NodeCA, …). */
  remote?: RemoteApiServer;
  /** Remote API addresses of known managers ("host:port"), to join raft through when this manager has no raft state. */
  joinCandidates?: () => Promise<string[]>;
}

export class Manager {
  readonly store = new MemoryStore();
  private raft!: RaftNode;
  private control: RunningControlServer | undefined;
  private readonly leaderComponents = new LeaderComponents({ log });
  private leading = false;
  /** Leadership changes are handled one at a time, in order. */
  private transitions: Promise<void> = Promise.resolve();
  private stopped = false;
  private leaderLink: GrpcLeaderLink | undefined;
  private dispatcher: ManagerDispatcher | undefined;
  private readonly tls: CurrentTls;
  private readonly leaderConn: LeaderConnection;
  private readonly writeForwarder: WriteForwarder;
  private raftNet: RaftNetwork | undefined;
  private readonly removedListeners: Array<() => void> = [];

  private constructor(private readonly opts: ManagerOptions) {
    this.tls = opts.tls ?? opts.remote?.tls ?? new CurrentTls(opts.identity.tls);
    this.leaderConn = new LeaderConnection(() => this.leaderRemoteAddr(), this.tls);
    this.writeForwarder = new WriteForwarder(this.leaderConn, {
      deadlineMs: FORWARD_DEADLINE_MS,
      perCall: (method, request) => this.forwardControlPerCall(method, request),
    });
  }

  static async start(opts: ManagerOptions): Promise<Manager> {
    const m = new Manager(opts);
    try {
      await m.startInternal();
    } catch (err) {
      await m.stop();
      throw err;
    }
    return m;
  }

  get raftNode(): RaftNode {
    return this.raft;
  }

  get hostname(): string {
    return this.opts.config.hostname ?? osHostname();
  }

  /** Register a leader-only component; started at once if this manager already leads. */
  addLeaderComponent(c: LeaderComponent): void {
    this.leaderComponents.add(c);
  }

  /** Raft members with this manager's view of leadership and reachability. */
  raftMembers(): RaftMemberInfo[] {
    const leader = this.raft.leaderId();
    return this.raft.members().map((m) => ({
      raftId: m.raftId,
      nodeId: m.nodeId,
      addr: m.addr,
      reachable: this.raft.isReachable(m.raftId) || m.raftId === leader,
      leader: m.raftId === leader,
    }));
  }

  private async startInternal(): Promise<void> {
    const { config, identity, advertiseAddr } = this.opts;
    const raftDir = join(config.stateDir, "raft");
    // Raft between managers runs over the remote API; a manager new to raft
    // that was given a join address asks the cluster to add it first.
    let joinInfo: JoinInfo | undefined;
    if (this.opts.remote) {
      this.raftNet = new RaftNetwork({ tls: this.tls, remote: this.opts.remote, callerOf: requestCaller });
      if (!config.forceNewCluster && !(await RaftNode.hasState(raftDir))) {
        joinInfo = await this.joinRaft(this.raftNet, advertiseAddr);
      }
    }
    this.raft = await RaftNode.open({
      dir: raftDir,
      nodeId: identity.nodeId,
      addr: advertiseAddr,
      tickIntervalMs: config.tickIntervalMs,
      electionTick: config.electionTick,
      heartbeatTick: config.heartbeatTick,
      store: this.store,
      forceNewCluster: config.forceNewCluster,
      fsyncOverlaps: () => this.writeForwarder.inFlight > 0,
      ...(this.raftNet ? { transport: this.raftNet.transport } : {}),
      ...(joinInfo ? { join: joinInfo } : {}),
    });
    this.raftNet?.setNode(this.raft);
    this.raft.onRemoved(() => {
      log.warn({ raftId: this.raft.raftId.toString(16) }, "this manager was removed from the raft cluster");
      for (const fn of this.removedListeners) fn();
    });
    this.raft.onFatal((err) => {
      // Raft cannot go on after a storage failure: crash the worker, main reports it.
      setImmediate(() => {
        throw new Error(`manager stopped: ${err.message}`, { cause: err });
      });
    });
    this.raft.onLeadership((leader) => {
      this.transitions = this.transitions.then(() => (leader ? this.becomeLeader() : this.becomeFollower()));
    });

    if (this.opts.remote) this.startCa(this.opts.remote);
    this.startDispatcher();
    // Allocator, replicated orchestrator, restart supervisor, task reaper, scheduler: leader only.
    for (const c of createOrchestration(this.store, this.raft)) this.addLeaderComponent(c);
    // Promotions and demotions (node.spec.desiredRole → node.role, raft membership).
    this.addLeaderComponent(new RoleManager(this.store, this.raft));

    this.raft.start();
    // SwarmKit's WaitForCluster: a manager that just joined serves its control
    // API once it has caught up to the cluster object, so its first answers
    // are not read from an empty store.
    if (joinInfo) await this.waitForClusterObject(JOIN_CATCH_UP_MS);

    this.control = await startControlServer({
      socketPath: config.listenControlApi,
      tls: identity.tls,
      backend: {
        store: this.store,
        proposer: this.raft,
        isLeader: () => this.raft.isLeader(),
        hasLeader: () => this.raft.leaderId() !== 0,
        raftMembers: () => this.raftMembers(),
        forward: (method, request) => this.forwardControl(method, request),
        forwardRaw: (method, request) => this.forwardControlRaw(method, request),
      },
    });
    // The leader serves forwarded control writes on its remote API (managers only).
    // Safe decoders: a follower forwards its clients' bytes unchecked, so a malformed one is refused here, by name.
    this.opts.remote?.addService(withSafeDecoders(ControlService), this.control.api.handlers(), () => ({ roles: [MANAGER_ROLE] }));
    // …and on streams from each follower (write-forwarder.ts says why); a node removed since it connected relays no more.
    const cluster = storeClusterView(this.store, identity.clusterId);
    const refusal = (call: Parameters<typeof requestCaller>[0]): string | undefined => {
      const nodeId = requestCaller(call)?.nodeId;
      return nodeId !== undefined && cluster.isRemoved(nodeId) ? removedFromSwarm(nodeId).message : undefined;
    };
    this.opts.remote?.addService(ControlForwarderService, controlForwarderHandlers(this.control.api, { refusal }), () => ({ roles: [MANAGER_ROLE] }));
    log.info({ nodeId: identity.nodeId, raftId: this.raft.raftId.toString(16), advertise: advertiseAddr }, "manager started");
  }

  private async waitForClusterObject(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!this.stopped && this.store.view((tx) => tx.find("cluster").length) === 0) {
      if (Date.now() > end) {
        log.warn({ waitedMs: timeoutMs }, "the store has not caught up with the cluster yet; serving the control API anyway");
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * A manager without raft state joins an existing raft group: through
   * --join-addr, else through the managers its agent knows (a promoted
   * worker). Only the node that bootstrapped the cluster (it holds the new
   * root key) starts a new group; anything else would split the cluster.
   */
  private async joinRaft(net: RaftNetwork, advertiseAddr: string): Promise<JoinInfo | undefined> {
    const { config, identity } = this.opts;
    const candidates = [
      ...(config.joinAddr ? [formatHostPort(config.joinAddr)] : []),
      ...((await this.opts.joinCandidates?.().catch(() => [])) ?? []),
    ].filter((a, i, all) => a !== advertiseAddr && all.indexOf(a) === i);
    if (candidates.length === 0) {
      if (identity.rootCaKeyPem || !this.opts.joinCandidates) return undefined;
      throw new SwarmError("FAILED_PRECONDITION", "can't initialize raft node: no known manager to join the raft cluster through");
    }
    // The leader dials a new member back at its advertised address: join only once it is served.
    const remote = this.opts.remote;
    if (remote && !remote.isBound) {
      log.info({ advertise: advertiseAddr }, "waiting for the remote API address to become available before joining raft");
      await remote.whenBound();
    }
    let lastErr: unknown;
    for (const addr of candidates) {
      try {
        return await net.join(addr, advertiseAddr);
      } catch (err) {
        lastErr = err;
        log.warn({ joinAddr: addr, err: errorMessage(err) }, "raft join attempt failed; trying the next known manager");
      }
    }
    throw lastErr;
  }

  /** This manager was removed from the raft group (demoted, or its member removed while it was down). */
  onRemovedFromRaft(fn: () => void): void {
    this.removedListeners.push(fn);
    if (this.raft?.isRemoved) queueMicrotask(fn);
  }

  /** The remote API address of the leader when it is another manager (for forwarding). */
  leaderRemoteAddr(): string | undefined {
    const leader = this.raft.leaderId();
    if (leader === 0 || leader === this.raft.raftId) return undefined;
    return this.raft.members().find((m) => m.raftId === leader)?.addr;
  }

  /**
   * A control-API write made on this follower, run by the leader (SwarmKit's
   * raft proxy), as bytes: the control socket hands them over undecoded
   * (RawWrite). In-process callers go through forwardControl, which only adds
   * the method's codec around this one path.
   */
  private forwardControlRaw(method: WriteMethod, request: Buffer): Promise<Buffer> {
    return this.writeForwarder.forward(method, request);
  }

  /** The same, one Control call per write: for a leader that does not take them on a stream. */
  private forwardControlPerCall(method: WriteMethod, request: Buffer): Promise<Buffer> {
    const link = this.leaderConn.client(ControlClient);
    if (!link) return Promise.reject(new SwarmError("UNAVAILABLE", NO_LEADER));
    const raw = (b: Buffer): Buffer => b;
    return new Promise((resolve, reject) => {
      link.client.makeUnaryRequest(
        ControlService[method].path,
        raw,
        raw,
        request,
        forwardMetadata(),
        { deadline: Date.now() + FORWARD_DEADLINE_MS },
        (err: ServiceError | null, res?: Buffer) => (err ? reject(err) : resolve(res!)),
      );
    });
  }

  private async forwardControl<M extends WriteMethod>(method: M, request: WriteRequest<M>): Promise<WriteResponse<M>> {
    const def = ControlService[method];
    const answer = await this.forwardControlRaw(method, (def.requestSerialize as (r: WriteRequest<M>) => Buffer)(request));
    return (def.responseDeserialize as (b: Buffer) => WriteResponse<M>)(answer);
  }

  /** The local agent's dispatcher calls (served here when leading, forwarded otherwise). */
  get localDispatcher(): LocalDispatcherApi | undefined {
    return this.dispatcher?.localApi;
  }

  /** The Dispatcher service on the remote API and for the local agent; its loops run only on the leader. */
  private startDispatcher(): void {
    const { identity, advertiseAddr } = this.opts;
    this.dispatcher = createManagerDispatcher({
      store: this.store,
      proposer: this.raft,
      nodeId: identity.nodeId,
      clusterId: identity.clusterId,
      advertiseAddr,
      managers: () => this.raft.members().map((m) => ({ nodeId: m.nodeId, addr: m.addr })),
      isLeader: () => this.raft.isLeader(),
      leader: this.leaderConn,
      ...(this.opts.remote ? { remote: this.opts.remote } : {}),
    });
    this.addLeaderComponent(this.dispatcher.component);
    // Sessions learn about manager changes from the raft member list.
    this.raft.onMembersChange(() => this.dispatcher?.dispatcher.managersChanged());
  }

  /** CA and NodeCA on the remote API; the signer threads and loop run only on the leader. */
  private startCa(remote: RemoteApiServer): void {
    const { identity } = this.opts;
    this.leaderLink = new GrpcLeaderLink(this.leaderConn);
    new CaServer({
      store: this.store,
      proposer: this.raft,
      clusterId: identity.clusterId,
      rootCaPem: identity.tls.caPem,
      isLeader: () => this.raft.isLeader(),
      leader: this.leaderLink,
    }).register(remote);
    const signer = new SignerPool();
    const loop = new SigningLoop({ store: this.store, proposer: this.raft, clusterId: identity.clusterId, signer });
    this.addLeaderComponent({
      name: "ca-signer",
      start: async () => {
        await signer.start();
        loop.start();
      },
      stop: async () => {
        await loop.stop();
        await signer.stop();
      },
    });
  }

  /**
   * Renews this manager's own certificate through its CA, without TLS: used
   * when the certificate has expired (--force-new-cluster), so no manager
   * would accept it as a client certificate. Waits until this manager leads
   * (a forced new cluster has one member), marks its certificate RENEW with
   * `csrPem` and waits for the signing loop. Resolves with the certificate.
   */
  async renewOwnCertificate(csrPem: string, timeoutMs: number): Promise<string> {
    const { identity } = this.opts;
    const end = Date.now() + timeoutMs;
    const left = (): number => end - Date.now();
    const hasCluster = (): boolean => this.store.get("cluster", identity.clusterId) !== undefined;
    while (!(this.raft.isLeader() && this.leading && hasCluster())) {
      if (this.stopped) throw new SwarmError("CANCELLED", "manager stopped");
      if (left() <= 0) throw new SwarmError("UNAVAILABLE", `this manager did not lead a cluster within ${timeoutMs} ms; cannot renew its expired certificate`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const rootCa = this.store.get("cluster", identity.clusterId)?.rootCa;
    if (!rootCa || rootCa.caKey.length === 0) {
      throw new SwarmError("FAILED_PRECONDITION", "the cluster holds no root CA key: this manager cannot renew its expired certificate");
    }
    const csr = Buffer.from(csrPem);
    await issueNodeCertificate(this.store, this.raft, identity.clusterId, { csr, token: "", availability: 0 }, { nodeId: identity.nodeId });
    log.info({ nodeId: identity.nodeId }, "renewing this manager's expired certificate through its own CA");
    while (left() > 0) {
      const st = await nodeCertificateStatus(this.store, identity.nodeId, Math.min(5000, left()), () => this.stopped);
      const cert = st.certificate;
      if (cert && Buffer.from(cert.csr).equals(csr)) {
        if (st.status?.state === IssuanceStatus_State.FAILED) throw new SwarmError("FAILED_PRECONDITION", `the CA refused the renewal: ${st.status.err || "no reason given"}`);
        if (st.status?.state === IssuanceStatus_State.ISSUED && cert.certificate.length > 0) return Buffer.from(cert.certificate).toString();
      }
      if (this.stopped) throw new SwarmError("CANCELLED", "manager stopped");
    }
    throw new SwarmError("DEADLINE_EXCEEDED", `the CA issued no certificate within ${timeoutMs} ms`);
  }

  private async becomeLeader(): Promise<void> {
    if (this.stopped || this.leading) return;
    this.leading = true;
    const { config, identity } = this.opts;
    try {
      await bootstrapClusterObjects(this.store, this.raft, identity, this.hostname, {
        heartbeatTick: config.heartbeatTick,
        electionTick: config.electionTick,
      });
    } catch (err) {
      log.warn({ err: errorMessage(err) }, "could not write the cluster's bootstrap objects");
    }
    await this.leaderComponents.startAll();
    log.info("leadership changed: this manager is the leader");
  }

  private async becomeFollower(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    await this.leaderComponents.stopAll();
    log.info("leadership changed: this manager is a follower");
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.control?.stop();
    await this.transitions;
    await this.becomeFollower();
    await this.raftNet?.close();
    await this.raft?.stop();
    this.leaderLink?.close();
    this.dispatcher?.close();
    this.writeForwarder.close();
    this.leaderConn.close();
    log.info("manager stopped");
  }
}
