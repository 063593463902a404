// encodeToBuffer (one reused writer per thread) must give exactly the bytes a fresh writer
// gives, whatever was encoded before it: small after large, after a throw mid-message, nested.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Config,
  ControlService,
  CreateConfigResponse,
  encodeToBuffer,
  encodeToOwnBuffer,
  InternalRaftRequest,
  Service,
  StoreActionKind,
} from "../../src/shared/api/index.js";

const fresh = <T>(codec: { encode(m: T): { finish(): Uint8Array } }, m: T): Buffer => Buffer.from(codec.encode(m).finish());

const config = (name: string, bytes: number): Config =>
  Config.fromPartial({
    id: `id-${name}`,
    meta: { version: { index: 7 }, createdAt: new Date(1_700_000_000_123), updatedAt: new Date(1_700_000_000_456) },
    spec: { annotations: { name, labels: { a: "1", b: "2" } }, data: Buffer.alloc(bytes, 0x5a) },
  });

test("encodeToBuffer gives a fresh writer's bytes, as a Buffer, call after call", () => {
  const service = Service.fromPartial({
    id: "svc",
    spec: { annotations: { name: "web" }, task: { runtime: { $case: "container", value: { image: "busybox", args: ["sleep", "1d"] } } } },
  });
  const cases: [string, () => [Buffer, Buffer]][] = [
    ["small config", () => [encodeToBuffer(Config, config("a", 10)), fresh(Config, config("a", 10))]],
    ["empty message", () => [encodeToBuffer(CreateConfigResponse, CreateConfigResponse.fromPartial({})), fresh(CreateConfigResponse, CreateConfigResponse.fromPartial({}))]],
    ["nested service", () => [encodeToBuffer(Service, service), fresh(Service, service)]],
    ["2 MiB config (beyond what the shared writer keeps)", () => [encodeToBuffer(Config, config("big", 2 << 20)), fresh(Config, config("big", 2 << 20))]],
    ["small again", () => [encodeToBuffer(Config, config("b", 300)), fresh(Config, config("b", 300))]],
  ];
  for (let round = 0; round < 3; round++) {
    for (const [name, run] of cases) {
      const [got, want] = run();
      assert.ok(Buffer.isBuffer(got), `${name}: a Buffer`);
      assert.ok(got.equals(want), `${name}, round ${round}: bytes differ`);
    }
  }
});

test("encodeToOwnBuffer gives the same bytes in memory of their own (no pool slab kept alive)", () => {
  for (const bytes of [0, 10, 300, 5000]) {
    const m = config(`own-${bytes}`, bytes);
    const own = encodeToOwnBuffer(Config, m);
    assert.ok(own.equals(fresh(Config, m)));
    assert.equal(own.buffer.byteLength, own.length, `${bytes}-byte payload: the ArrayBuffer is exactly the message`);
  }
  // The pooled variant does share a slab for small messages: that is the difference.
  const pooled = encodeToBuffer(Config, config("pooled", 10));
  assert.ok(pooled.buffer.byteLength > pooled.length);
});

test("results do not share memory with later encodes", () => {
  const first = encodeToBuffer(Config, config("first", 100));
  const copy = Buffer.from(first);
  for (let i = 0; i < 50; i++) encodeToBuffer(Config, config(`other-${i}`, 100 + i));
  assert.ok(first.equals(copy), "an earlier result changed");
});

test("a throw mid-message leaves the next encode correct", () => {
  // A uint64 field holding something that is not a number throws from inside two open forks.
  const bad = InternalRaftRequest.fromPartial({
    id: 1,
    action: [{ action: StoreActionKind.STORE_ACTION_CREATE, target: { $case: "config", value: { ...config("x", 5), meta: { version: { index: "not a number" as unknown as number } } } } }],
  });
  assert.throws(() => encodeToBuffer(InternalRaftRequest, bad));
  const good = InternalRaftRequest.fromPartial({ id: 2, action: [{ action: StoreActionKind.STORE_ACTION_CREATE, target: { $case: "config", value: config("y", 5) } }] });
  assert.ok(encodeToBuffer(InternalRaftRequest, good).equals(fresh(InternalRaftRequest, good)));
});

test("generated gRPC serializers go through encodeToBuffer and keep their bytes", () => {
  const m = CreateConfigResponse.fromPartial({ config: config("svc", 256) });
  const serialized = ControlService.createConfig.responseSerialize(m);
  assert.ok(serialized.equals(fresh(CreateConfigResponse, m)));
  assert.match(String(ControlService.createConfig.responseSerialize), /encodeToBuffer/);
});
