// Who is calling a remote-API method: read from the verified client
// certificate (CN = node ID, OU = role, O = cluster ID), or from the
// forwarded-identity metadata a manager adds when it proxies a call to the
// leader (SwarmKit's forwarded_cert_* keys; only trusted from managers).
import type { Metadata } from "@grpc/grpc-js";
import type { ServerSurfaceCall } from "@grpc/grpc-js/build/src/server-call.js";
import { SwarmError } from "../../../shared/errors.js";

export const MANAGER_ROLE = "swarm-manager";
export const WORKER_ROLE = "swarm-worker";

/** Metadata keys of a forwarded identity (ca/forward.go). */
export const FORWARDED = {
  flag: "forwarded_cert",
  cn: "forwarded_cert_cn",
  ou: "forwarded_cert_ou",
  org: "forwarded_cert_org",
  addr: "remote_addr",
} as const;

export interface Caller {
  nodeId: string;
  role: string;
  clusterId: string;
  /** host:port the call came from (or the original caller's, when forwarded). */
  remoteAddr: string;
  /** Node ID of the manager that forwarded the call, if any. */
  forwardedBy?: string;
}

interface PeerCertSubject {
  CN?: string | string[];
  OU?: string | string[];
  O?: string | string[];
}

function first(v: string | string[] | undefined): string {
  if (Array.isArray(v)) return v[0] ?? "";
  return v ?? "";
}

/** The direct peer's identity, or undefined when it presented no certificate. */
export function directCaller(call: ServerSurfaceCall): Caller | undefined {
  const auth = call.getAuthContext?.();
  const cert = auth?.sslPeerCertificate as { subject?: PeerCertSubject } | undefined;
  if (!cert?.subject || !cert.subject.CN) return undefined;
  return {
    nodeId: first(cert.subject.CN),
    role: first(cert.subject.OU),
    clusterId: first(cert.subject.O),
    remoteAddr: call.getPeer(),
  };
}

function metaString(md: Metadata, key: string): string {
  const v = md.get(key)[0];
  return typeof v === "string" ? v : v ? v.toString() : "";
}

/**
 * The effective caller: the forwarded identity when a manager of this
 * cluster forwarded the call, else the direct peer. Throws UNAUTHENTICATED
 * when there is no certificate at all.
 */
export function callerOf(call: ServerSurfaceCall, clusterId: string): Caller {
  const direct = directCaller(call);
  if (!direct) throw new SwarmError("UNAUTHENTICATED", "a client certificate is required for this method");
  const md = call.metadata;
  if (md.get(FORWARDED.flag).length === 0) return direct;
  if (direct.role !== MANAGER_ROLE || direct.clusterId !== clusterId) {
    throw new SwarmError("PERMISSION_DENIED", `node ${direct.nodeId} may not forward requests: only managers of this cluster can`);
  }
  return {
    nodeId: metaString(md, FORWARDED.cn),
    role: metaString(md, FORWARDED.ou),
    clusterId: metaString(md, FORWARDED.org),
    remoteAddr: metaString(md, FORWARDED.addr) || direct.remoteAddr,
    forwardedBy: direct.nodeId,
  };
}

/** Metadata that carries `caller` through a proxying manager. */
export function forwardedMetadata(md: Metadata, caller: Caller): Metadata {
  const out = md.clone();
  out.set(FORWARDED.flag, "true");
  out.set(FORWARDED.cn, caller.nodeId);
  out.set(FORWARDED.ou, caller.role);
  out.set(FORWARDED.org, caller.clusterId);
  out.set(FORWARDED.addr, caller.remoteAddr);
  return out;
}

export interface AuthorizationPolicy {
  /** Roles allowed; empty means the method needs no client certificate. */
  roles: readonly string[];
}

/**
 * SwarmKit's AuthorizeOrgAndRole: same cluster, an allowed role, and not a
 * removed node. Errors are PERMISSION_DENIED with SwarmKit's texts.
 */
/**
 * The caller of a method that needs no certificate: the verified peer, or
 * the identity a manager of this cluster forwarded (blank when the original
 * caller had no certificate either). Undefined means "no certificate".
 */
export function optionalCaller(call: ServerSurfaceCall, clusterId: string): Caller | undefined {
  const direct = directCaller(call);
  if (!direct || call.metadata.get(FORWARDED.flag).length === 0) return direct;
  if (direct.role !== MANAGER_ROLE || direct.clusterId !== clusterId) return direct;
  const nodeId = metaString(call.metadata, FORWARDED.cn);
  if (!nodeId) return undefined;
  return {
    nodeId,
    role: metaString(call.metadata, FORWARDED.ou),
    clusterId: metaString(call.metadata, FORWARDED.org),
    remoteAddr: metaString(call.metadata, FORWARDED.addr) || direct.remoteAddr,
    forwardedBy: direct.nodeId,
  };
}

/** SwarmKit's refusal of a removed node's certificate (the agent recognises the text). */
export function removedFromSwarm(nodeId: string): SwarmError {
  return new SwarmError("PERMISSION_DENIED", `Permission denied: node ${nodeId} was removed from swarm`);
}

/** What authorization needs to know about the cluster, read fresh on every call. */
export interface ClusterAuthView {
  readonly id: string;
  isRemoved(nodeId: string): boolean;
}

export function authorize(call: ServerSurfaceCall, policy: AuthorizationPolicy, cluster: ClusterAuthView): Caller | undefined {
  if (policy.roles.length === 0) return optionalCaller(call, cluster.id);
  const caller = callerOf(call, cluster.id);
  if (!policy.roles.includes(caller.role)) {
    throw new SwarmError("PERMISSION_DENIED", `Permission denied: remote certificate not part of OUs: [${policy.roles.join(" ")}]`);
  }
  if (caller.clusterId !== cluster.id) {
    throw new SwarmError("PERMISSION_DENIED", "Permission denied: remote certificate not part of organization");
  }
  if (cluster.isRemoved(caller.nodeId)) {
    throw removedFromSwarm(caller.nodeId);
  }
  return caller;
}
