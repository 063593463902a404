import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  INVALID_JOIN_TOKEN,
  JOIN_TOKEN_LENGTH,
  MANAGER_ROLE,
  WORKER_ROLE,
  formatUnlockKey,
  generateJoinToken,
  generateJoinTokens,
  generateUnlockKey,
  joinTokensEqual,
  nextRenewalDelay,
  parseJoinToken,
  parseUnlockKey,
  roleForJoinToken,
  rootCertHash,
  rootDigest,
  rotateJoinToken,
} from "../../src/shared/pki/index.js";
import { SwarmError } from "../../src/shared/errors.js";

// Any bytes stand in for a PEM bundle: the digest covers the bytes as given.
const bundle = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";

test("rootDigest is sha256 over the exact PEM bytes", () => {
  const hex = createHash("sha256").update(bundle).digest("hex");
  assert.equal(rootDigest(bundle), hex);
  assert.equal(rootDigest(Buffer.from(bundle)), hex);
  assert.equal(rootCertHash(bundle), `sha256:${hex}`);
  assert.notEqual(rootDigest(bundle + "\n"), hex, "a trailing newline changes the digest");
});

test("token format: SWMTKN-1-<50 base36>-<25 base36>, 85 characters", () => {
  for (let i = 0; i < 200; i++) {
    const t = generateJoinToken(bundle);
    assert.equal(t.length, 85);
    assert.equal(JOIN_TOKEN_LENGTH, 85);
    assert.match(t, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
  }
});

test("parse round trip: the digest in the token is the root digest", () => {
  const t = generateJoinToken(bundle);
  const p = parseJoinToken(t);
  assert.equal(p.version, 1);
  assert.equal(p.fips, false);
  assert.equal(p.digestHex, rootDigest(bundle));
  assert.equal(p.secret, t.slice(-25));
  // The digest field is the digest in base36, left-padded with zeros.
  assert.equal(BigInt(`0x${p.digestHex}`).toString(36).padStart(50, "0"), t.split("-")[2]);
});

test("a token printed by real SwarmKit parses", () => {
  const real = "SWMTKN-1-0styehjw24rdtxehcgwbx5ig8828i1xo2ttccij896xw1ilzdr-89bq3ls8bzzyg8h1wwwiesh43";
  const p = parseJoinToken(real);
  assert.equal(p.digestHex.length, 64);
  assert.equal(p.secret, "89bq3ls8bzzyg8h1wwwiesh43");
  // Re-encoding the parsed digest gives back the token's digest field.
  assert.equal(BigInt(`0x${p.digestHex}`).toString(36).padStart(50, "0"), "0styehjw24rdtxehcgwbx5ig8828i1xo2ttccij896xw1ilzdr");
});

test("v2 (FIPS) tokens parse", () => {
  const v1 = generateJoinToken(bundle);
  const [, , d, s] = v1.split("-");
  assert.deepEqual(parseJoinToken(`SWMTKN-2-1-${d}-${s}`), { version: 2, fips: true, digestHex: rootDigest(bundle), secret: s });
  assert.equal(parseJoinToken(`SWMTKN-2-0-${d}-${s}`).fips, false);
});

test("every malformed class is rejected with 'invalid join token'", () => {
  const good = generateJoinToken(bundle);
  const [, , d, s] = good.split("-") as [string, string, string, string];
  const bad = [
    "",
    "SWMTKN",
    "SWMTKN-1",
    `SWMTKN-1-${d}`, // too few parts
    `SWMTKN-1-${d}-${s}-extra`, // too many parts for v1
    `SWMTKM-1-${d}-${s}`, // wrong prefix
    `swmtkn-1-${d}-${s}`,
    `SWMTKN-3-${d}-${s}`, // unknown version
    `SWMTKN-2-${d}-${s}`, // v2 needs the FIPS part
    `SWMTKN-2-7-${d}-${s}`, // FIPS part must be 0 or 1
    `SWMTKN-1-${d.slice(1)}-${s}`, // digest too short
    `SWMTKN-1-0${d}-${s}`, // digest too long
    `SWMTKN-1-${d}-${s.slice(1)}`, // secret too short
    `SWMTKN-1-${d}-${s}0`, // secret too long
    `SWMTKN-1-${d.slice(0, 49)}!-${s}`, // not base36
    `SWMTKN-1-${d.toUpperCase()}-${s}`, // base36 is lowercase
    `SWMTKN-1-${d}-${s.slice(0, 24)}_`,
    `SWMTKN-1-${"z".repeat(50)}-${s}`, // digest beyond 256 bits
    ` ${good}`,
  ];
  for (const t of bad) {
    assert.throws(
      () => parseJoinToken(t),
      (e: unknown) => e instanceof SwarmError && e.code === "INVALID_ARGUMENT" && e.message === INVALID_JOIN_TOKEN,
      JSON.stringify(t),
    );
  }
});

test("rotation: new secret, same digest; the old token no longer matches", () => {
  const tokens = generateJoinTokens(bundle);
  assert.notEqual(tokens.worker, tokens.manager);
  assert.equal(parseJoinToken(tokens.worker).digestHex, parseJoinToken(tokens.manager).digestHex);
  const rotated = rotateJoinToken(tokens.worker);
  assert.notEqual(rotated, tokens.worker);
  assert.equal(parseJoinToken(rotated).digestHex, rootDigest(bundle));
  assert.notEqual(parseJoinToken(rotated).secret, parseJoinToken(tokens.worker).secret);
  const after = { ...tokens, worker: rotated };
  assert.equal(roleForJoinToken(after, tokens.worker), undefined);
  assert.equal(roleForJoinToken(after, rotated), WORKER_ROLE);
  assert.equal(roleForJoinToken(after, tokens.manager), MANAGER_ROLE);
  assert.equal(roleForJoinToken(after, ""), undefined);
});

test("constant-time token comparison", () => {
  const t = generateJoinToken(bundle);
  assert.equal(joinTokensEqual(t, t.slice()), true);
  assert.equal(joinTokensEqual(t, t.slice(0, -1) + (t.endsWith("a") ? "b" : "a")), false);
  assert.equal(joinTokensEqual(t, t.slice(0, 10)), false);
  assert.equal(joinTokensEqual("", ""), true);
});

test("nextRenewalDelay lies in 50-80 % of the validity", () => {
  const nb = new Date(Date.UTC(2025, 0, 1));
  const na = new Date(nb.getTime() + 100 * 3600_000);
  const now = nb.getTime();
  assert.equal(nextRenewalDelay(nb, na, () => 0, now), 50 * 3600_000);
  assert.equal(nextRenewalDelay(nb, na, () => 0.5, now), 65 * 3600_000);
  assert.ok(nextRenewalDelay(nb, na, () => 0.999999, now) <= 80 * 3600_000);
  for (let i = 0; i < 1000; i++) {
    const d = nextRenewalDelay(nb, na, Math.random, now);
    assert.ok(d >= 50 * 3600_000 && d <= 80 * 3600_000, String(d));
  }
  // Measured from notBefore, not from now; past due means renew now.
  assert.equal(nextRenewalDelay(nb, na, () => 0, now + 10 * 3600_000), 40 * 3600_000);
  assert.equal(nextRenewalDelay(nb, na, () => 0.5, now + 90 * 3600_000), 0);
});

test("unlock keys: SWMKEY-1-<43 chars>, round trip, malformed rejected", () => {
  const key = generateUnlockKey();
  assert.equal(key.length, 32);
  const text = formatUnlockKey(key);
  assert.match(text, /^SWMKEY-1-[A-Za-z0-9+/]{43}$/);
  assert.deepEqual(parseUnlockKey(text), key);
  for (const bad of ["", "SWMKEY-1-", "SWMKEY-2-" + text.slice(9), text + "=", text.slice(0, -1) + "!", text.replace("SWMKEY", "swmkey"), text + "A"]) {
    assert.throws(() => parseUnlockKey(bad), (e: unknown) => e instanceof SwarmError && e.message === "invalid key string", bad);
  }
});
