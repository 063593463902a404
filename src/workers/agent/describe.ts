// The node description the agent registers with (SwarmKit's executor
// Describe plus the agent's additions): hostname, platform, resources and
// engine from the Docker engine, the TLS trust info from the node identity.
// If the engine is unreachable the agent still registers, with what the OS
// tells and no resources, and re-describes later.
import { X509Certificate } from "node:crypto";
import { arch, platform } from "node:os";
import forge from "node-forge";
import type { GenericResource, NodeDescription, NodeTLSInfo } from "../../shared/api/index.js";
import type { GenericResource as ConfigGenericResource } from "../../shared/config.js";
import { errorMessage } from "../../shared/errors.js";
import { getLogger } from "../../shared/logging.js";
import type { DockerExecutor } from "./executor/index.js";

const log = getLogger("agent/describe");

export interface DescribeInput {
  executor: Pick<DockerExecutor, "describeEngine">;
  /** The hostname to report (--hostname, else the OS hostname). */
  hostname?: string;
  /** The root CA certificate (PEM): the node's trust root. */
  caPem?: string;
  genericResources?: readonly ConfigGenericResource[];
}

/** Docker's names for Node's process.arch values. */
const ARCH: Record<string, string> = { x64: "x86_64", arm64: "aarch64", arm: "armv7l", ia32: "i386", s390x: "s390x", ppc64: "ppc64le" };

export async function describeNode(input: DescribeInput): Promise<NodeDescription> {
  const generic = (input.genericResources ?? []).map(toGeneric);
  const tlsInfo = input.caPem ? tlsInfoFor(input.caPem) : undefined;
  try {
    const e = await input.executor.describeEngine();
    return {
      hostname: input.hostname || e.hostname,
      platform: { architecture: e.platform.architecture, os: e.platform.os },
      resources: { nanoCpus: e.nanoCpus, memoryBytes: e.memoryBytes, generic },
      engine: { engineVersion: e.engineVersion, labels: { ...e.labels }, plugins: e.plugins.map((p) => ({ ...p })) },
      tlsInfo,
      fips: false,
      csiInfo: [],
    };
  } catch (err) {
    log.warn({ err: errorMessage(err) }, "cannot describe the docker engine; registering without engine information");
    return {
      hostname: input.hostname ?? "",
      platform: { architecture: ARCH[arch()] ?? arch(), os: platform() },
      resources: { nanoCpus: 0, memoryBytes: 0, generic },
      engine: undefined,
      tlsInfo,
      fips: false,
      csiInfo: [],
    };
  }
}

/** Comparable form of a description (the 20 s re-describe restarts the session on change). */
export function descriptionKey(d: NodeDescription): string {
  return JSON.stringify(d, (_k, v: unknown) => (Buffer.isBuffer(v) || v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v));
}

function toGeneric(r: ConfigGenericResource): GenericResource {
  return r.type === "discrete"
    ? { resource: { $case: "discreteResourceSpec", value: { kind: r.kind, value: r.value } } }
    : { resource: { $case: "namedResourceSpec", value: { kind: r.kind, value: r.value } } };
}

/** SwarmKit's NodeTLSInfo: trust root PEM, the issuer's raw subject and public key (DER). */
export function tlsInfoFor(caPem: string): NodeTLSInfo | undefined {
  try {
    const x = new X509Certificate(caPem);
    const cert = forge.pki.certificateFromPem(caPem);
    const subjectDer = forge.asn1.toDer(forge.pki.distinguishedNameToAsn1(cert.subject)).getBytes();
    return {
      trustRoot: Buffer.from(caPem),
      certIssuerSubject: Buffer.from(subjectDer, "binary"),
      certIssuerPublicKey: x.publicKey.export({ type: "spki", format: "der" }),
    };
  } catch (err) {
    log.warn({ err: errorMessage(err) }, "cannot read the root CA for the node's TLS info");
    return undefined;
  }
}
