// The smallest etcd v3 client the replication benchmark needs: KV.Put (and a
// serializable KV.Range, to time the API without raft) over
// gRPC (@grpc/grpc-js; plaintext, or TLS for an https:// URL), with etcdserverpb.PutRequest encoded by hand
// (key = field 1, value = field 2, both bytes; the other fields keep their
// defaults). The response is not decoded: a successful call means the put
// committed on a quorum and was applied, which is all the bench times.
// Field numbers: etcd api/etcdserverpb/rpc.proto (PutRequest key=1 value=2;
// RangeRequest key=1 serializable=7).
import { varint } from "./proto-wire.js";
import { Client, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";

const PUT_PATH = "/etcdserverpb.KV/Put";
const RANGE_PATH = "/etcdserverpb.KV/Range";

/** etcdserverpb.PutRequest{key, value} on the wire. */
export function encodePutRequest(key: Buffer, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x0a]), varint(key.length), key, Buffer.from([0x12]), varint(value.length), value]);
}

/** etcdserverpb.RangeRequest{key, serializable: true}: answered from the member's own state, no raft round. */
export function encodeSerializableGet(key: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x0a]), varint(key.length), key, Buffer.from([0x38, 0x01])]);
}

export class EtcdKv {
  private readonly client: Client;

  /** `url` as etcd advertises it, e.g. http://127.0.0.1:2379; an https URL needs the CA that signed the member's certificate. */
  constructor(url: string, caPem?: Buffer) {
    const tls = url.startsWith("https://");
    if (tls && !caPem) throw new Error(`etcd at ${url} serves TLS: pass the CA certificate that signed it`);
    this.client = new Client(url.replace(/^https?:\/\//, ""), tls ? credentials.createSsl(caPem) : credentials.createInsecure(), {
      // The same message limit the swarmd control client uses.
      "grpc.max_receive_message_length": 4 * 1024 * 1024,
    });
  }

  put(key: Buffer, value: Buffer, deadlineMs = 10_000): Promise<void> {
    return this.call(PUT_PATH, encodePutRequest(key, value), deadlineMs);
  }

  /** A local read, for the API's own round-trip cost without replication. */
  serializableGet(key: Buffer, deadlineMs = 10_000): Promise<void> {
    return this.call(RANGE_PATH, encodeSerializableGet(key), deadlineMs);
  }

  private call(path: string, body: Buffer, deadlineMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        path,
        (req: Buffer) => req,
        (res: Buffer) => res,
        body,
        new Metadata(),
        { deadline: Date.now() + deadlineMs },
        (err: ServiceError | null) => (err ? reject(err) : resolve()),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
