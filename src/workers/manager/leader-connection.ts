// One mutual-TLS gRPC channel from this manager to the current leader's
// remote API, with this manager's own certificate, shared by every client
// that forwards calls to the leader. Rebuilt when the leader changes. Its
// credentials read the worker's CurrentTls at each handshake, so a
// reconnect after a renewal presents the renewed certificate.
// Forwarded control writes, the hot path, go over a second connection with
// the lean unary client (shared/unary-client.ts) at about half grpc-js's CPU
// per call; everything else uses the grpc-js channel.
import { connect as tlsConnect } from "node:tls";
import { Channel, type ChannelCredentials, type Client, type ChannelOptions } from "@grpc/grpc-js";
import { CurrentTls, mutualTlsCredentials, type TlsMaterial, type TlsSource } from "../../shared/current-tls.js";
import { MANAGER_ROLE } from "../../shared/pki/index.js";
import { UnaryGrpcClient } from "../../shared/unary-client.js";

export type TlsPems = TlsMaterial;

type ClientCtor<C extends Client> = new (address: string, creds: ChannelCredentials, options: ChannelOptions) => C;

const OPTIONS: ChannelOptions = {
  // Certificates name the role and the node ID, not the host.
  "grpc.ssl_target_name_override": MANAGER_ROLE,
  "grpc.max_receive_message_length": 4 * 1024 * 1024,
  // Per-call channelz bookkeeping on forwarded writes; nothing reads it.
  "grpc.enable_channelz": 0,
};

export class LeaderConnection {
  private current: { addr: string; channel: Channel; clients: Map<unknown, Client>; unary?: UnaryGrpcClient } | undefined;
  private readonly creds: ChannelCredentials;
  private readonly tls: CurrentTls;

  constructor(
    /** The leader's remote API address, or undefined when there is none or it is this manager. */
    private readonly leaderAddr: () => string | undefined,
    /** This manager's TLS material (the worker's CurrentTls, so renewals reach new connections). */
    tls: TlsSource,
  ) {
    this.creds = mutualTlsCredentials(tls);
    this.tls = CurrentTls.from(tls);
  }

  /** A client of `ctor` bound to the leader, or undefined when no other manager leads. */
  client<C extends Client>(ctor: ClientCtor<C>): { addr: string; client: C } | undefined {
    const cur = this.connection();
    if (!cur) return undefined;
    const addr = cur.addr;
    let c = cur.clients.get(ctor) as C | undefined;
    if (!c) {
      // The override channel carries the TLS; the client's own credentials are not used.
      c = new ctor(addr, this.creds, { ...OPTIONS, channelOverride: cur.channel });
      cur.clients.set(ctor, c);
    }
    return { addr, client: c };
  }

  /** The lean unary client bound to the leader, or undefined when no other manager leads. */
  unaryClient(): { addr: string; client: UnaryGrpcClient } | undefined {
    const cur = this.connection();
    if (!cur) return undefined;
    cur.unary ??= new UnaryGrpcClient({ authority: MANAGER_ROLE, connect: () => this.dial(cur.addr) });
    return { addr: cur.addr, client: cur.unary };
  }

  private connection(): NonNullable<LeaderConnection["current"]> | undefined {
    const addr = this.leaderAddr();
    if (!addr) return undefined;
    if (this.current?.addr !== addr) {
      this.close();
      this.current = { addr, channel: new Channel(addr, this.creds, OPTIONS), clients: new Map() };
    }
    return this.current;
  }

  /** A mutual-TLS connection to `addr` with the material current now; the leader is checked against the cluster root. */
  private dial(addr: string): ReturnType<typeof tlsConnect> {
    const sep = addr.lastIndexOf(":");
    const host = addr.slice(0, sep).replace(/^\[(.*)\]$/, "$1");
    const m = this.tls.material;
    return tlsConnect({
      host,
      port: Number(addr.slice(sep + 1)),
      ca: m.caPem,
      cert: m.certPem,
      key: m.keyPem,
      // Certificates name the role and the node ID, not the host.
      servername: MANAGER_ROLE,
      ALPNProtocols: ["h2"],
    });
  }

  close(): void {
    if (!this.current) return;
    this.current.unary?.close();
    for (const c of this.current.clients.values()) c.close();
    this.current.channel.close();
    this.current = undefined;
  }
}
