// The replication benchmark's client for swarmd, built like its etcd client
// (etcd-kv.ts) so both sides cost the client the same: a write is
// Control.CreateConfig with the request encoded by hand into one buffer and
// the response left undecoded (success means committed on a quorum and
// applied). Same credentials and channel options as swarmctl's client.
// Field numbers: api/control.proto CreateConfigRequest.spec = 1;
// api/specs.proto ConfigSpec.annotations = 1, data = 2;
// api/types.proto Annotations.name = 1 (a test checks the bytes against ts-proto).
import { Client, Metadata, type ServiceError } from "@grpc/grpc-js";
import { lengthDelimited } from "./proto-wire.js";
import { CONTROL_CLIENT_OPTIONS, controlClientCredentials, controlSocketAddress } from "../../src/shared/control-client.js";

const CREATE_CONFIG_PATH = "/docker.swarmkit.v1.Control/CreateConfig";
const LIST_CLUSTERS_PATH = "/docker.swarmkit.v1.Control/ListClusters";

/** CreateConfigRequest{spec: {annotations: {name}, data}} on the wire. */
export function encodeCreateConfig(name: string, data: Buffer): Buffer {
  const annotations = lengthDelimited(0x0a, Buffer.from(name, "utf8"));
  // proto3 leaves an empty bytes field out.
  const spec = Buffer.concat([lengthDelimited(0x0a, annotations), ...(data.length > 0 ? [lengthDelimited(0x12, data)] : [])]);
  return lengthDelimited(0x0a, spec);
}

/** ListClustersRequest{filters: {names: [name]}} on the wire (filters = 1, names = 1). */
export function encodeListClustersByName(name: string): Buffer {
  return lengthDelimited(0x0a, lengthDelimited(0x0a, Buffer.from(name, "utf8")));
}

export class SwarmdKv {
  private readonly client: Client;

  constructor(socketPath: string) {
    this.client = new Client(controlSocketAddress(socketPath), controlClientCredentials(), CONTROL_CLIENT_OPTIONS);
  }

  /** Creates a config named `name` holding `data`. */
  put(name: string, data: Buffer, deadlineMs = 10_000): Promise<void> {
    return this.call(CREATE_CONFIG_PATH, encodeCreateConfig(name, data), deadlineMs);
  }

  /** Lists the clusters named `name` (none, for a bare read: no raft, nothing to decode). */
  listClustersByName(name: string, deadlineMs = 10_000): Promise<void> {
    return this.call(LIST_CLUSTERS_PATH, encodeListClustersByName(name), deadlineMs);
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
