import { test } from "node:test";
import assert from "node:assert/strict";
import { SwarmError, serializeError, deserializeError } from "../../src/shared/errors.js";

test("a SwarmError keeps its class and code through serialization", () => {
  const back = deserializeError(structuredClone(serializeError(new SwarmError("NOT_FOUND", "node x not found"))));
  assert.ok(back instanceof SwarmError);
  assert.equal((back as SwarmError).code, "NOT_FOUND");
  assert.equal(back.message, "node x not found");
});

test("a plain error keeps its code property", () => {
  const e = Object.assign(new Error("boom"), { code: "EADDRINUSE" });
  const back = deserializeError(serializeError(e)) as Error & { code?: string };
  assert.equal(back.code, "EADDRINUSE");
});
