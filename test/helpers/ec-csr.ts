// ECDSA key + PKCS#10 CSR, as SwarmKit's Go nodes send them (P-256, ecdsa-with-SHA256).
// Node has no CSR builder: the ASN.1 is assembled with forge.asn1 and signed with crypto.sign.
import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import forge from "node-forge";

const { asn1 } = forge;

export interface EcCsr {
  key: KeyObject;
  keyPem: string;
  csrPem: string;
}

function oid(o: string): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(o).getBytes());
}

function rdn(attrOid: string, value: string): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      oid(attrOid),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, value),
    ]),
  ]);
}

export interface EcCsrOptions {
  curve?: string;
  cn?: string;
  /** Flip a bit in the signature (a CSR that must not verify). */
  corruptSignature?: boolean;
  /** Signature algorithm OID; default ecdsa-with-SHA256. */
  signatureOid?: string;
  hash?: string;
}

export function createEcCsr(opts: EcCsrOptions = {}): EcCsr {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: opts.curve ?? "prime256v1" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  const info = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, "\x00"),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [rdn("2.5.4.3", opts.cn ?? "ec-node")]),
    asn1.fromDer(spki.toString("binary")),
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, []),
  ]);
  const infoDer = Buffer.from(asn1.toDer(info).getBytes(), "binary");
  const sig = sign(opts.hash ?? "sha256", infoDer, privateKey);
  if (opts.corruptSignature) sig[sig.length - 1]! ^= 0x01;
  const csr = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    info,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [oid(opts.signatureOid ?? "1.2.840.10045.4.3.2")]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, "\x00" + sig.toString("binary")),
  ]);
  const csrPem = forge.pem.encode({ type: "CERTIFICATE REQUEST", body: asn1.toDer(csr).getBytes() });
  return { key: privateKey, keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), csrPem };
}
