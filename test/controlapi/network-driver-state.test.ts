// A created network carries its driver state (name and options), as SwarmKit's
// allocator records it: SwarmKit's Go swarmctl `network ls` reads
// DriverState.Name without a nil check and crashed on our networks before.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { NetworkSpec } from "../../src/shared/api/index.js";
import { rpc, startHarness, type Harness } from "./harness.js";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

test("a network without a driver gets SwarmKit's default driver (overlay) in its driver state", async () => {
  const created = (await rpc(h.client, "createNetwork", { spec: NetworkSpec.fromPartial({ annotations: { name: "plain" } }) })).network!;
  assert.deepEqual(created.driverState, { name: "overlay", options: {} });
  const got = (await rpc(h.client, "getNetwork", { networkId: created.id, name: "", appdata: undefined })).network!;
  assert.deepEqual(got.driverState, { name: "overlay", options: {} });
  assert.equal(got.ipam, undefined);
});

test("a network's named driver and its options are its driver state, in get and list", async () => {
  const created = (
    await rpc(h.client, "createNetwork", {
      spec: NetworkSpec.fromPartial({ annotations: { name: "custom" }, driverConfig: { name: "macvlan", options: { parent: "eth0" } } }),
    })
  ).network!;
  assert.deepEqual(created.driverState, { name: "macvlan", options: { parent: "eth0" } });
  const listed = await rpc(h.client, "listNetworks", { filters: { names: ["custom"], idPrefixes: [], labels: {}, namePrefixes: [] }, appdata: undefined });
  assert.deepEqual(listed.networks[0]?.driverState, { name: "macvlan", options: { parent: "eth0" } });
});
