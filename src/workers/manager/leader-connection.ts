// One mutual-TLS gRPC channel from this manager to the current leader's
// remote API, with this manager's own certificate, shared by every client
// that forwards calls to the leader. Rebuilt when the leader changes. Its
// credentials read the worker's CurrentTls at each handshake, so a
// reconnect after a renewal presents the renewed certificate.
import { Channel, type ChannelCredentials, type Client, type ChannelOptions } from "@grpc/grpc-js";
import { mutualTlsCredentials, type TlsMaterial, type TlsSource } from "../../shared/current-tls.js";
import { MANAGER_ROLE } from "../../shared/pki/index.js";
import { CLIENT_MAX_RECEIVE_BYTES } from "../../shared/grpc-limits.js";

export type TlsPems = TlsMaterial;

type ClientCtor<C extends Client> = new (address: string, creds: ChannelCredentials, options: ChannelOptions) => C;

const OPTIONS: ChannelOptions = {
  // Certificates name the role and the node ID, not the host.
  "grpc.ssl_target_name_override": MANAGER_ROLE,
  // A batch of forwarded writes' answers, or one large answer, may pass 4 MiB.
  "grpc.max_receive_message_length": CLIENT_MAX_RECEIVE_BYTES,
  // Per-call channelz bookkeeping on forwarded writes; nothing reads it.
  "grpc.enable_channelz": 0,
};

export class LeaderConnection {
  private current: { addr: string; channel: Channel; clients: Map<unknown, Client> } | undefined;
  private readonly creds: ChannelCredentials;

  constructor(
    /** The leader's remote API address, or undefined when there is none or it is this manager. */
    private readonly leaderAddr: () => string | undefined,
    /** This manager's TLS material (the worker's CurrentTls, so renewals reach new connections). */
    tls: TlsSource,
  ) {
    this.creds = mutualTlsCredentials(tls);
  }

  /** A client of `ctor` bound to the leader, or undefined when no other manager leads. */
  client<C extends Client>(ctor: ClientCtor<C>): { addr: string; client: C } | undefined {
    const addr = this.leaderAddr();
    if (!addr) return undefined;
    if (this.current?.addr !== addr) {
      this.close();
      this.current = { addr, channel: new Channel(addr, this.creds, OPTIONS), clients: new Map() };
    }
    const cur = this.current!;
    let c = cur.clients.get(ctor) as C | undefined;
    if (!c) {
      // The override channel carries the TLS; the client's own credentials are not used.
      c = new ctor(addr, this.creds, { ...OPTIONS, channelOverride: cur.channel });
      cur.clients.set(ctor, c);
    }
    return { addr, client: c };
  }

  close(): void {
    if (!this.current) return;
    for (const c of this.current.clients.values()) c.close();
    this.current.channel.close();
    this.current = undefined;
  }
}
