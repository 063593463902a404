import { test } from "node:test";
import assert from "node:assert/strict";
import { newId, isId, ID_LENGTH } from "../../src/shared/ids.js";

test("newId has SwarmKit's length and alphabet and does not repeat", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const id = newId();
    assert.equal(id.length, ID_LENGTH);
    assert.ok(isId(id), id);
    assert.ok(!seen.has(id));
    seen.add(id);
  }
});
