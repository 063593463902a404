// A follower forwards CA writes to the leader (SwarmKit's raft proxy for
// NodeCA): it dials the leader's remote API with its own certificate and
// passes the original caller's identity in the forwarded_cert_* metadata,
// which the leader trusts only from managers of the cluster.
import { Metadata, status as Status, type ServiceError } from "@grpc/grpc-js";
import {
  NodeCAClient,
  type IssueNodeCertificateRequest,
  type IssueNodeCertificateResponse,
} from "../../../shared/api/index.js";
import { SwarmError } from "../../../shared/errors.js";
import { FORWARDED, type Caller } from "../remoteapi/caller.js";
import type { LeaderConnection } from "../leader-connection.js";

export interface LeaderLink {
  issueNodeCertificate(req: IssueNodeCertificateRequest, caller: Caller | undefined, remoteAddr: string, deadline: Date): Promise<IssueNodeCertificateResponse>;
  close(): void;
}

/** Forwarding metadata; blank identity values still mark the call as forwarded (a joiner has no certificate). */
export function forwardingMetadata(caller: Caller | undefined, remoteAddr: string): Metadata {
  const md = new Metadata();
  md.set(FORWARDED.flag, "true");
  md.set(FORWARDED.cn, caller?.nodeId ?? "");
  md.set(FORWARDED.ou, caller?.role ?? "");
  md.set(FORWARDED.org, caller?.clusterId ?? "");
  md.set(FORWARDED.addr, caller?.remoteAddr ?? remoteAddr);
  return md;
}

export class GrpcLeaderLink implements LeaderLink {
  constructor(private readonly leader: LeaderConnection) {}

  issueNodeCertificate(
    req: IssueNodeCertificateRequest,
    caller: Caller | undefined,
    remoteAddr: string,
    deadline: Date,
  ): Promise<IssueNodeCertificateResponse> {
    const link = this.leader.client(NodeCAClient);
    if (!link) return Promise.reject(new SwarmError("UNAVAILABLE", "this manager is not the leader and no leader is known; retry"));
    const { addr, client } = link;
    return new Promise((resolve, reject) => {
      client.issueNodeCertificate(req, forwardingMetadata(caller, remoteAddr), { deadline }, (err: ServiceError | null, res) => {
        if (!err) return resolve(res);
        // Keep the leader's status code and text for the caller.
        reject(err.code === Status.UNAVAILABLE ? new SwarmError("UNAVAILABLE", `cannot reach the leader at ${addr}: ${err.details}`) : err);
      });
    });
  }

  close(): void {
    // The shared leader connection is closed by its owner.
  }
}
