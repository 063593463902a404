// Reads any PKCS#10 CSR (RSA or ECDSA key) without node-forge's RSA-only CSR
// parser: the DER is sliced into its raw parts (so the self-signature is
// checked over the exact bytes the requester signed), and the key and
// signature are checked with Node's crypto.
import { createPublicKey, verify, type KeyObject } from "node:crypto";
import forge from "node-forge";
import { SwarmError } from "../errors.js";

/** Signature algorithms a CSR may use (SwarmKit's policy: SHA-2 only), by OID → hash. */
const CSR_SIGNATURE_HASHES: ReadonlyMap<string, string> = new Map([
  ["1.2.840.113549.1.1.11", "sha256"], // sha256WithRSAEncryption
  ["1.2.840.113549.1.1.12", "sha384"],
  ["1.2.840.113549.1.1.13", "sha512"],
  ["1.2.840.10045.4.3.2", "sha256"], // ecdsa-with-SHA256
  ["1.2.840.10045.4.3.3", "sha384"],
  ["1.2.840.10045.4.3.4", "sha512"],
]);

/** Curves accepted for ECDSA node keys (Go's crypto/x509 set; SwarmKit makes P-256). */
const EC_CURVES = new Set(["prime256v1", "secp384r1", "secp521r1"]);

export interface CsrInfo {
  /** The requested key, as Node reads it. */
  publicKey: KeyObject;
  keyType: "rsa" | "ec";
  /** SubjectPublicKeyInfo exactly as the CSR carries it. */
  spkiDer: Buffer;
  /** The BIT STRING payload of subjectPublicKey (what a subject key identifier hashes). */
  subjectPublicKeyBits: Buffer;
}

interface Tlv {
  tag: number;
  /** The whole element (tag, length and content). */
  full: Buffer;
  content: Buffer;
}

function readTlv(buf: Buffer, at: number): Tlv {
  if (at + 2 > buf.length) throw new Error("truncated DER element");
  const tag = buf[at]!;
  if ((tag & 0x1f) === 0x1f) throw new Error("multi-byte DER tags are not used in CSRs");
  let len = buf[at + 1]!;
  let header = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || at + 2 + n > buf.length) throw new Error("bad DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i]!;
    header += n;
  }
  const end = at + header + len;
  if (end > buf.length) throw new Error("DER element runs past its container");
  return { tag, full: buf.subarray(at, end), content: buf.subarray(at + header, end) };
}

function children(seq: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < seq.content.length; ) {
    const t = readTlv(seq.content, at);
    out.push(t);
    at += t.full.length;
  }
  return out;
}

const SEQUENCE = 0x30;
const BIT_STRING = 0x03;
const OID = 0x06;

function expect(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new Error(`${what} missing or of the wrong type`);
  return t;
}

function csrDerFromPem(csrPem: string): Buffer {
  const m = /-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----([\s\S]*?)-----END (?:NEW )?CERTIFICATE REQUEST-----/.exec(csrPem);
  if (!m) throw new Error("no CERTIFICATE REQUEST PEM block");
  return Buffer.from(m[1]!.replace(/\s+/g, ""), "base64");
}

/**
 * Parses a PEM CSR, checks its signature algorithm and its self-signature,
 * and returns its public key. Throws INVALID_ARGUMENT with the reason.
 */
export function readCsr(csrPem: string): CsrInfo {
  let info: Tlv, sigAlgOid: string, signature: Buffer, spki: Tlv, keyBits: Tlv;
  try {
    const der = csrDerFromPem(csrPem);
    const top = expect(readTlv(der, 0), SEQUENCE, "CertificationRequest");
    const [reqInfo, sigAlg, sig] = children(top);
    info = expect(reqInfo, SEQUENCE, "certificationRequestInfo");
    const algOid = expect(children(expect(sigAlg, SEQUENCE, "signatureAlgorithm"))[0], OID, "signature algorithm OID");
    sigAlgOid = forge.asn1.derToOid(forge.util.createBuffer(algOid.content.toString("binary")));
    const sigBits = expect(sig, BIT_STRING, "signature");
    if (sigBits.content[0] !== 0) throw new Error("signature BIT STRING has unused bits");
    signature = sigBits.content.subarray(1);
    // version, subject, subjectPKInfo, attributes
    spki = expect(children(info)[2], SEQUENCE, "subjectPKInfo");
    keyBits = expect(children(spki)[1], BIT_STRING, "subjectPublicKey");
  } catch (err) {
    throw new SwarmError("INVALID_ARGUMENT", `malformed CSR: ${(err as Error).message}`, { cause: err });
  }
  const hash = CSR_SIGNATURE_HASHES.get(sigAlgOid);
  if (!hash) {
    throw new SwarmError("INVALID_ARGUMENT", `CSR signature algorithm not allowed (${sigAlgOid}; need SHA-2 with RSA or ECDSA)`);
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from(spki.full), format: "der", type: "spki" });
  } catch (err) {
    throw new SwarmError("INVALID_ARGUMENT", `CSR public key unreadable: ${(err as Error).message}`, { cause: err });
  }
  const keyType = publicKey.asymmetricKeyType;
  if (keyType !== "rsa" && keyType !== "ec") {
    throw new SwarmError("INVALID_ARGUMENT", `CSR public key must be RSA or ECDSA, got ${keyType ?? "unknown"}`);
  }
  if (keyType === "ec" && !EC_CURVES.has(publicKey.asymmetricKeyDetails?.namedCurve ?? "")) {
    throw new SwarmError("INVALID_ARGUMENT", `CSR ECDSA curve ${publicKey.asymmetricKeyDetails?.namedCurve ?? "unknown"} not allowed`);
  }
  const sigIsEc = sigAlgOid.startsWith("1.2.840.10045.");
  if (sigIsEc !== (keyType === "ec")) {
    throw new SwarmError("INVALID_ARGUMENT", `CSR signature algorithm ${sigAlgOid} does not match its ${keyType} key`);
  }
  let ok = false;
  try {
    // ECDSA signatures in PKCS#10 are DER (r, s): Node's default dsaEncoding.
    ok = verify(hash, info.full, publicKey, signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new SwarmError("INVALID_ARGUMENT", "CSR signature does not verify");
  return {
    publicKey,
    keyType,
    spkiDer: Buffer.from(spki.full),
    subjectPublicKeyBits: Buffer.from(keyBits.content.subarray(1)),
  };
}
