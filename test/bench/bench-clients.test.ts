// The benchmark clients encode requests by hand; their bytes must be what
// the generated codecs produce (and decode back to what was meant).
import { test } from "node:test";
import assert from "node:assert/strict";
import { CreateConfigRequest, ListClustersRequest } from "../../src/shared/api/index.js";
import { encodeCreateConfig, encodeListClustersByName } from "../../scripts/lib/swarmd-kv.js";

test("the hand-encoded ListClustersRequest is ts-proto's encoding", () => {
  for (const name of ["bench-none", "x".repeat(200)]) {
    const ours = encodeListClustersByName(name);
    const theirs = Buffer.from(ListClustersRequest.encode(ListClustersRequest.fromPartial({ filters: { names: [name] } })).finish());
    assert.deepEqual(ours, theirs, `name of ${name.length} characters`);
  }
});

test("the hand-encoded CreateConfigRequest is ts-proto's encoding", () => {
  for (const size of [0, 1, 127, 128, 256, 20_000]) {
    const data = Buffer.alloc(size, 0x5a);
    const name = `b-leader-16-3-${size}`;
    const ours = encodeCreateConfig(name, data);
    const theirs = Buffer.from(CreateConfigRequest.encode(CreateConfigRequest.fromPartial({ spec: { annotations: { name }, data } })).finish());
    assert.deepEqual(ours, theirs, `value of ${size} bytes`);
    const back = CreateConfigRequest.decode(ours);
    assert.equal(back.spec?.annotations?.name, name);
    assert.equal(Buffer.from(back.spec!.data).length, size);
  }
});
