// SwarmKit-style random IDs (identity/randomid.go): 17 random bytes with the
// high bit set, rendered base36 and cut to 25 characters, so every ID has the
// same length and alphabet as SwarmKit's.
import { randomBytes } from "node:crypto";

export const ID_LENGTH = 25;
const ENTROPY_BYTES = 17;

/** Randomness drawn in bulk: one crypto call per 128 IDs instead of one per ID (a hot path on every create). */
const POOL_IDS = 128;
let pool = Buffer.alloc(0);
let poolOffset = 0;

export function newId(): string {
  if (poolOffset + ENTROPY_BYTES > pool.length) {
    pool = randomBytes(ENTROPY_BYTES * POOL_IDS);
    poolOffset = 0;
  }
  const bytes = Buffer.from(pool.subarray(poolOffset, poolOffset + ENTROPY_BYTES));
  poolOffset += ENTROPY_BYTES;
  bytes[0] = bytes[0]! | 0x80;
  const text = BigInt("0x" + bytes.toString("hex")).toString(36);
  // 2^135 in base36 has 27 digits; SwarmKit pads to that and drops the first.
  return text.padStart(27, "0").slice(1, ID_LENGTH + 1);
}

export function isId(s: string): boolean {
  return s.length === ID_LENGTH && /^[0-9a-z]+$/.test(s);
}
