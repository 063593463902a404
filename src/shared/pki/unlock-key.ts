// The human form of the autolock key (KEK): SWMKEY-1-<32 bytes, base64 without padding>
// (SwarmKit encryption.HumanReadableKey / ParseHumanReadableKey).
import { randomBytes } from "node:crypto";
import { SwarmError } from "../errors.js";

const PREFIX = "SWMKEY-1-";
export const UNLOCK_KEY_BYTES = 32;
const RAW_STD_BASE64 = /^[A-Za-z0-9+/]*$/;

export function generateUnlockKey(): Buffer {
  return randomBytes(UNLOCK_KEY_BYTES);
}

export function formatUnlockKey(key: Uint8Array): string {
  return PREFIX + Buffer.from(key).toString("base64").replace(/=+$/, "");
}

export function parseUnlockKey(text: string): Buffer {
  const invalid = (): SwarmError => new SwarmError("INVALID_ARGUMENT", "invalid key string");
  if (!text.startsWith(PREFIX)) throw invalid();
  const body = text.slice(PREFIX.length);
  // Node's decoder skips junk silently, so check the alphabet and round-trip.
  if (body.length === 0 || !RAW_STD_BASE64.test(body) || body.length % 4 === 1) throw invalid();
  const key = Buffer.from(body, "base64");
  if (key.toString("base64").replace(/=+$/, "") !== body) throw invalid();
  // SwarmKit only fails later, when the key does not decrypt; a KEK is always 32 bytes.
  if (key.length !== UNLOCK_KEY_BYTES) throw invalid();
  return key;
}
