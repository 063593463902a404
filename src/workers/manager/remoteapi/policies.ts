// Who may call what on the remote API: SwarmKit's tls_authorization options
// from api/*.proto, which our .proto files leave out (docs/api.md).
import { SwarmError } from "../../../shared/errors.js";
import { MANAGER_ROLE, WORKER_ROLE, type AuthorizationPolicy } from "./caller.js";

/** No client certificate needed (a joining node has none yet). */
export const INSECURE: AuthorizationPolicy = Object.freeze({ roles: Object.freeze([]) });
export const MANAGERS_ONLY: AuthorizationPolicy = Object.freeze({ roles: Object.freeze([MANAGER_ROLE]) });
export const ANY_NODE: AuthorizationPolicy = Object.freeze({ roles: Object.freeze([WORKER_ROLE, MANAGER_ROLE]) });

/** gRPC method name (as in the path) → policy. */
export type PolicyTable = Readonly<Record<string, AuthorizationPolicy>>;

export const CA_POLICIES: PolicyTable = {
  GetRootCACertificate: INSECURE,
  GetUnlockKey: MANAGERS_ONLY,
};

export const NODE_CA_POLICIES: PolicyTable = {
  IssueNodeCertificate: INSECURE,
  NodeCertificateStatus: INSECURE,
};

export const RAFT_POLICIES: PolicyTable = {
  ProcessRaftMessage: MANAGERS_ONLY,
  StreamRaftMessage: MANAGERS_ONLY,
  ResolveAddress: MANAGERS_ONLY,
};

export const RAFT_MEMBERSHIP_POLICIES: PolicyTable = {
  Join: MANAGERS_ONLY,
  Leave: MANAGERS_ONLY,
};

export const DISPATCHER_POLICIES: PolicyTable = {
  Session: ANY_NODE,
  Heartbeat: ANY_NODE,
  UpdateTaskStatus: ANY_NODE,
  UpdateVolumeStatus: ANY_NODE,
  Tasks: ANY_NODE,
  Assignments: ANY_NODE,
};

/** SwarmKit's Health service on the remote listener is for managers (raft health checks). */
export const HEALTH_POLICIES: PolicyTable = {
  Check: MANAGERS_ONLY,
};

/** Every method of the Control service is manager-only. */
export const CONTROL_POLICY: AuthorizationPolicy = MANAGERS_ONLY;

/**
 * A policyFor() over a table. A method missing from the table is a
 * programming error: refuse to register rather than serve it unguarded.
 */
export function policyFromTable(table: PolicyTable, service: string): (method: string) => AuthorizationPolicy {
  return (method) => {
    const p = table[method];
    if (!p) throw new SwarmError("INTERNAL", `no authorization policy for ${service}.${method}`);
    return p;
  };
}
