// Join tokens in SwarmKit's encoding (ca/config.go GenerateJoinToken /
// ParseJoinToken): SWMTKN-1-<root digest, base36, 50 chars>-<secret, base36, 25 chars>.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { SwarmError } from "../errors.js";
import { MANAGER_ROLE, WORKER_ROLE, type NodeRole } from "./constants.js";
import { rootDigest } from "./digest.js";

const PREFIX = "SWMTKN";
const BASE = 36;
/** ceil(log36(2^256)) */
export const DIGEST_BASE36_LEN = 50;
/** ceil(log36(2^128)) */
export const SECRET_BASE36_LEN = 25;
const SECRET_ENTROPY_BYTES = 16;
/** Length of a v1 token. */
export const JOIN_TOKEN_LENGTH = PREFIX.length + 3 + DIGEST_BASE36_LEN + 1 + SECRET_BASE36_LEN;

/** SwarmKit's error text for every malformed token. */
export const INVALID_JOIN_TOKEN = "invalid join token";

export interface ParsedJoinToken {
  version: 1 | 2;
  /** SHA-256 of the root CA bundle, 64 lowercase hex chars. */
  digestHex: string;
  secret: string;
  fips: boolean;
}

export interface JoinTokens {
  worker: string;
  manager: string;
}

const BASE36 = /^[0-9a-z]+$/;

function hexToBase36(hex: string, width: number): string {
  return BigInt(`0x${hex}`).toString(BASE).padStart(width, "0");
}

function base36ToBigInt(s: string): bigint {
  let n = 0n;
  for (const ch of s) n = n * 36n + BigInt(parseInt(ch, BASE));
  return n;
}

function newSecret(): string {
  return hexToBase36(randomBytes(SECRET_ENTROPY_BYTES).toString("hex"), SECRET_BASE36_LEN);
}

function tokenFor(digestHex: string): string {
  return `${PREFIX}-1-${hexToBase36(digestHex, DIGEST_BASE36_LEN)}-${newSecret()}`;
}

/** A new v1 token for the root CA bundle (its exact PEM bytes). */
export function generateJoinToken(rootCaPem: string | Uint8Array): string {
  return tokenFor(rootDigest(rootCaPem));
}

/** The pair a new cluster stores in Cluster.RootCA.JoinTokens. */
export function generateJoinTokens(rootCaPem: string | Uint8Array): JoinTokens {
  return { worker: generateJoinToken(rootCaPem), manager: generateJoinToken(rootCaPem) };
}

/** Same root digest, new secret: the old token stops admitting new nodes. */
export function rotateJoinToken(token: string): string {
  return tokenFor(parseJoinToken(token).digestHex);
}

export function parseJoinToken(token: string): ParsedJoinToken {
  const invalid = (): SwarmError => new SwarmError("INVALID_ARGUMENT", INVALID_JOIN_TOKEN);
  const parts = token.split("-");
  if (parts.length < 4 || parts[0] !== PREFIX) throw invalid();
  let version: 1 | 2;
  let fips = false;
  if (parts[1] === "1" && parts.length === 4) {
    version = 1;
  } else if (parts[1] === "2" && parts.length === 5 && (parts[2] === "0" || parts[2] === "1")) {
    version = 2;
    fips = parts[2] === "1";
  } else {
    throw invalid();
  }
  const secret = parts[parts.length - 1]!;
  const digest36 = parts[parts.length - 2]!;
  if (digest36.length !== DIGEST_BASE36_LEN || secret.length !== SECRET_BASE36_LEN) throw invalid();
  // SwarmKit's big.Int.SetString rejects other characters, and digest.Parse
  // rejects values that do not fit 256 bits.
  if (!BASE36.test(digest36) || !BASE36.test(secret)) throw invalid();
  const digestHex = base36ToBigInt(digest36).toString(16).padStart(64, "0");
  if (digestHex.length !== 64) throw invalid();
  return { version, digestHex, secret, fips };
}

/** Constant-time equality of two tokens (hashing first hides the length too). */
export function joinTokensEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** The role a presented token grants, or undefined if it matches neither current token. */
export function roleForJoinToken(tokens: JoinTokens, presented: string): NodeRole | undefined {
  // Compare against both unconditionally so timing does not reveal which one matched.
  const worker = joinTokensEqual(tokens.worker, presented);
  const manager = joinTokensEqual(tokens.manager, presented);
  if (manager) return MANAGER_ROLE;
  if (worker) return WORKER_ROLE;
  return undefined;
}
