import { test } from "node:test";
import assert from "node:assert/strict";
import { crc32c } from "../../src/workers/manager/raft/storage/crc32c.js";

test("crc32c matches the standard check values", () => {
  assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43); // RFC 3720 B.4: 32 bytes of 0xff
});

test("crc32c chains over split input and honours start/end", () => {
  const buf = Buffer.alloc(1000);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 37) & 0xff;
  const whole = crc32c(buf);
  for (const cut of [0, 1, 7, 8, 9, 333, 999, 1000]) {
    assert.equal(crc32c(buf, cut, buf.length, crc32c(buf, 0, cut)), whole, `split at ${cut}`);
  }
  assert.equal(crc32c(buf, 5, 50), crc32c(buf.subarray(5, 50)));
});
