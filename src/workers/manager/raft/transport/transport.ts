// The raft transport between managers (RaftTransport): one Peer per other
// member, created and retired as the member list changes, plus who has been
// reachable since when (leader transfer picks the longest-active peer;
// ManagerStatus reports reachability).
import type { ChannelCredentials } from "@grpc/grpc-js";
import { getLogger } from "../../../../shared/logging.js";
import { MessageType, type Message } from "../core/index.js";
import type { Member } from "../membership.js";
import type { RaftTransport } from "../raft-node.js";
import type { TlsSource } from "../../../../shared/current-tls.js";
import { peerCredentials } from "./dial.js";
import { DEFAULT_PEER_OPTIONS, Peer, hex, type PeerEvents, type PeerOptions } from "./peer.js";

const log = getLogger("raft/transport");

export type TransportEvents = PeerEvents;

export interface GrpcTransportOptions {
  /** This manager's TLS material; a CurrentTls holder makes renewals reach new connections. */
  tls: TlsSource;
  peer?: Partial<PeerOptions>;
}

export class GrpcRaftTransport implements RaftTransport {
  private readonly peers = new Map<number, Peer>();
  private readonly peerOpts: PeerOptions;
  private events: TransportEvents | undefined;
  private self = 0;
  private closed = false;
  private removedReported = false;
  readonly credentials: ChannelCredentials;

  constructor(opts: GrpcTransportOptions) {
    this.credentials = peerCredentials(opts.tls);
    this.peerOpts = { ...DEFAULT_PEER_OPTIONS, ...opts.peer };
  }

  /** The raft node's callbacks; messages sent before this are dropped. */
  attach(events: TransportEvents): void {
    this.events = events;
  }

  setMembers(members: readonly Member[], self: number): void {
    if (this.closed) return;
    this.self = self;
    const wanted = new Map<number, Member>();
    for (const m of members) if (m.raftId !== self && m.addr) wanted.set(m.raftId, m);
    for (const [id, peer] of this.peers) {
      if (wanted.has(id)) continue;
      this.peers.delete(id);
      log.info({ peer: hex(id), addr: peer.addr }, "raft peer removed");
      void peer.close();
    }
    for (const m of wanted.values()) {
      const existing = this.peers.get(m.raftId);
      if (existing) {
        existing.updateAddr(m.addr);
        continue;
      }
      log.info({ peer: hex(m.raftId), addr: m.addr }, "raft peer added");
      this.peers.set(m.raftId, new Peer(m.raftId, m.addr, this.credentials, this.peerEvents(), this.peerOpts));
    }
  }

  send(messages: readonly Message[]): void {
    if (this.closed || !this.events) return;
    for (const m of messages) {
      if (m.to === this.self) continue;
      const peer = this.peers.get(m.to);
      if (peer) {
        peer.enqueue(m);
        continue;
      }
      // Not a known member (yet): raft retries once the member list names it.
      if (m.type === MessageType.Snap) this.events.reportSnapshotStatus(m.to, false);
      this.events.reportUnreachable(m.to);
    }
  }

  /** Connected to `id` right now. */
  isActive(id: number): boolean {
    return this.peers.get(id)?.activeSince !== undefined;
  }

  /** Since when `id` has been connected (ms since epoch). */
  activeSince(id: number): number | undefined {
    return this.peers.get(id)?.activeSince;
  }

  /** The peer connected for the longest time (SwarmKit's LongestActive), 0 if none. */
  longestActive(): number {
    let best = 0;
    let since = Infinity;
    for (const [id, p] of this.peers) {
      const s = p.activeSince;
      if (s !== undefined && s < since) {
        since = s;
        best = id;
      }
    }
    return best;
  }

  peerAddr(id: number): string | undefined {
    return this.peers.get(id)?.addr;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const peers = [...this.peers.values()];
    this.peers.clear();
    await Promise.all(peers.map((p) => p.close()));
  }

  private peerEvents(): PeerEvents {
    return {
      reportUnreachable: (id) => {
        if (!this.closed) this.events?.reportUnreachable(id);
      },
      reportSnapshotStatus: (id, ok) => {
        if (!this.closed) this.events?.reportSnapshotStatus(id, ok);
      },
      nodeRemoved: () => {
        if (this.closed || this.removedReported) return;
        this.removedReported = true;
        this.events?.nodeRemoved();
      },
    };
  }
}
