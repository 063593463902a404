// ECDSA CSRs (SwarmKit's Go nodes use P-256 keys) signed by our RSA root.
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, createHash } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { ServerSurfaceCall } from "@grpc/grpc-js/build/src/server-call.js";
import forge from "node-forge";
import {
  MANAGER_ROLE,
  WORKER_ROLE,
  createKeyAndCsr,
  createRootCA,
  parseNodeCert,
  signNodeCsr,
  verifyChain,
  type NodeRole,
} from "../../src/shared/pki/index.js";
import { SwarmError } from "../../src/shared/errors.js";
import { directCaller } from "../../src/workers/manager/remoteapi/caller.js";
import { createEcCsr } from "../helpers/ec-csr.js";

const ca = await createRootCA();
const caCert = new X509Certificate(ca.certPem);
const clusterId = "clusterecaaaaaaaaaaaaaaaa";

function sign(csrPem: string, nodeId = "ecnodeaaaaaaaaaaaaaaaaaaa", role: NodeRole = WORKER_ROLE): string {
  return signNodeCsr({ csrPem, caCertPem: ca.certPem, caKeyPem: ca.keyPem, nodeId, role, clusterId });
}

const refused = (re: RegExp) => (e: unknown): boolean => e instanceof SwarmError && e.code === "INVALID_ARGUMENT" && re.test(e.message);

test("a P-256 CSR gets an ECDSA node certificate signed by the RSA root, with the usual fields", () => {
  const node = createEcCsr({ cn: "claimed-by-requester" });
  const pem = sign(node.csrPem);
  const cert = new X509Certificate(pem);
  assert.equal(cert.publicKey.asymmetricKeyType, "ec");
  assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
  assert.ok(cert.checkPrivateKey(node.key));
  assert.ok(cert.verify(caCert.publicKey));
  assert.deepEqual(cert.subject.split("\n"), [`O=${clusterId}`, "OU=swarm-worker", "CN=ecnodeaaaaaaaaaaaaaaaaaaa"]);
  assert.equal(cert.issuer, caCert.subject);
  assert.equal(cert.subjectAltName, "DNS:swarm-worker, DNS:ecnodeaaaaaaaaaaaaaaaaaaa");
  assert.equal(cert.ca, false);
  assert.deepEqual([...(cert.keyUsage ?? [])].sort(), ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
  assert.equal(verifyChain(pem, ca.certPem).length, 2);
  assert.deepEqual(
    { ...parseNodeCert(pem), notBefore: 0, notAfter: 0 },
    { nodeId: "ecnodeaaaaaaaaaaaaaaaaaaa", role: WORKER_ROLE, clusterId, notBefore: 0, notAfter: 0 },
  );
  // forge cannot read the EC key, but its extension decoder still works on the ASN.1.
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  const tbs = (forge.asn1.fromDer(der.toString("binary")).value as forge.asn1.Asn1[])[0]!;
  const extsWrapper = (tbs.value as forge.asn1.Asn1[]).find((e) => e.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && e.type === 3)!;
  const exts = (extsWrapper.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[];
  const byName = new Map<string, Record<string, unknown>>();
  for (const e of exts) {
    const ext = (forge.pki as unknown as { certificateExtensionFromAsn1(a: forge.asn1.Asn1): Record<string, unknown> }).certificateExtensionFromAsn1(e);
    byName.set(String(ext["name"]), ext);
  }
  assert.equal(byName.get("keyUsage")?.["digitalSignature"], true);
  assert.equal(byName.get("keyUsage")?.["critical"], true);
  assert.equal(byName.get("basicConstraints")?.["cA"], false);
  assert.equal(byName.get("extKeyUsage")?.["serverAuth"], true);
  assert.equal(byName.get("extKeyUsage")?.["clientAuth"], true);
  // SKI: SHA-1 of the subjectPublicKey bits (the uncompressed point is the last 65 bytes of a P-256 SPKI).
  const point = cert.publicKey.export({ type: "spki", format: "der" }).subarray(-65);
  assert.equal(byName.get("subjectKeyIdentifier")?.["subjectKeyIdentifier"], createHash("sha1").update(point).digest("hex"));
  // AKI: the root's SKI.
  const caSki = forge.pki.certificateFromPem(ca.certPem).getExtension("subjectKeyIdentifier") as { subjectKeyIdentifier: string };
  const aki = forge.asn1.fromDer(byName.get("authorityKeyIdentifier")!["value"] as string);
  assert.equal(forge.util.bytesToHex((aki.value as forge.asn1.Asn1[])[0]!.value as string), caSki.subjectKeyIdentifier);
});

test("manager role and P-384 keys are signed too", () => {
  const cert = new X509Certificate(sign(createEcCsr({ curve: "secp384r1", hash: "sha384", signatureOid: "1.2.840.10045.4.3.3" }).csrPem, "ecmgr", MANAGER_ROLE));
  assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, "secp384r1");
  assert.equal(cert.subjectAltName, "DNS:swarm-manager, DNS:ecmgr, DNS:swarm-ca");
  assert.ok(cert.verify(caCert.publicKey));
});

test("ECDSA CSRs that must not be signed are refused with the reason", () => {
  assert.throws(() => sign(createEcCsr({ corruptSignature: true }).csrPem), refused(/does not verify/));
  // ecdsa-with-SHA1
  assert.throws(() => sign(createEcCsr({ hash: "sha1", signatureOid: "1.2.840.10045.4.1" }).csrPem), refused(/signature algorithm not allowed/));
  // An ECDSA key claiming an RSA signature algorithm.
  assert.throws(() => sign(createEcCsr({ signatureOid: "1.2.840.113549.1.1.11" }).csrPem), refused(/does not match/));
  assert.throws(() => sign(createEcCsr({ curve: "secp256k1" }).csrPem), refused(/curve secp256k1 not allowed/));
  // Truncated DER.
  const der = Buffer.from(createEcCsr().csrPem.replace(/-----[^-]+-----|\s/g, ""), "base64").subarray(0, 60);
  const truncated = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
  assert.throws(() => sign(truncated), refused(/malformed CSR/));
});

test("RSA CSRs still give RSA certificates", async () => {
  const rsa = await createKeyAndCsr();
  const cert = new X509Certificate(sign(rsa.csrPem));
  assert.equal(cert.publicKey.asymmetricKeyType, "rsa");
  assert.ok(cert.verify(caCert.publicKey));
  assert.ok(forge.pki.certificateFromPem(cert.toString()).verifySubjectKeyIdentifier());
});

test("an ECDSA client certificate over grpc-js mutual TLS: the remote API reads its node ID, role and cluster", { timeout: 60_000 }, async () => {
  const serverKeys = await createKeyAndCsr();
  const serverCert = sign(serverKeys.csrPem, "ecserveraaaaaaaaaaaaaaaaa", MANAGER_ROLE);
  const client = createEcCsr();
  const clientCert = sign(client.csrPem, "ecclientaaaaaaaaaaaaaaaaa", WORKER_ROLE);
  const identity = (b: Buffer): Buffer => b;
  const def: grpc.ServiceDefinition = {
    whoAmI: { path: "/t.I/W", requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
  };
  const server = new grpc.Server();
  server.addService(def, {
    whoAmI: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const c = directCaller(call as unknown as ServerSurfaceCall);
      cb(null, Buffer.from(JSON.stringify({ nodeId: c?.nodeId, role: c?.role, clusterId: c?.clusterId })));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      "127.0.0.1:0",
      grpc.ServerCredentials.createSsl(Buffer.from(ca.certPem), [{ private_key: Buffer.from(serverKeys.keyPem), cert_chain: Buffer.from(serverCert) }], true),
      (err, p) => (err ? reject(err) : resolve(p)),
    ),
  );
  const Client = grpc.makeGenericClientConstructor(def, "I");
  const creds = grpc.credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(client.keyPem), Buffer.from(clientCert));
  const c = new Client(`127.0.0.1:${port}`, creds, { "grpc.ssl_target_name_override": MANAGER_ROLE });
  try {
    const res = await new Promise<Buffer>((resolve, reject) =>
      c.makeUnaryRequest("/t.I/W", identity, identity, Buffer.alloc(0), new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, r?: Buffer) =>
        err ? reject(err) : resolve(r!),
      ),
    );
    assert.deepEqual(JSON.parse(res.toString()), { nodeId: "ecclientaaaaaaaaaaaaaaaaa", role: WORKER_ROLE, clusterId });
  } finally {
    c.close();
    server.forceShutdown();
  }
});
