// RoleSync with a fake node and renewer: renew when the cluster's role
// differs from the certificate, flip the flag once the certificate says so,
// retry while the CA has not issued the new role, and restart a removed
// manager only when a fresh certificate still says manager.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RoleSync } from "../../src/main/role-sync.js";
import type { ManagerStatus, NodeRole } from "../../src/shared/contracts/index.js";
import { MANAGER_ROLE, WORKER_ROLE, type NodeCertInfo } from "../../src/shared/pki/index.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fakes(opts: { certRole: NodeRole; flagRole: NodeRole; services: boolean; issues: () => NodeRole }) {
  const log: string[] = [];
  let certRole = opts.certRole;
  let services = opts.services;
  const node = {
    role: opts.flagRole,
    async setRole(role: NodeRole): Promise<ManagerStatus> {
      log.push(`setRole ${role}`);
      node.role = role;
      services = role === "manager";
      return { state: "running", appliedGeneration: 1, role };
    },
    manager: {
      status: async (): Promise<ManagerStatus> => ({
        state: "running",
        appliedGeneration: 1,
        role: node.role,
        ...(services ? { services: { controlSocket: "/x", remoteApi: { host: "127.0.0.1", port: 1 } } } : {}),
      }),
    },
  };
  const renewer = {
    get certificate(): NodeCertInfo {
      return { role: certRole === "manager" ? MANAGER_ROLE : WORKER_ROLE } as NodeCertInfo;
    },
    async renewNow(): Promise<void> {
      log.push("renew");
      certRole = opts.issues();
    },
  };
  return { node, renewer, log, removeServices: () => (services = false) };
}

test("promotion: renew, then flip the flag to manager", async () => {
  const f = fakes({ certRole: "worker", flagRole: "worker", services: false, issues: () => "manager" });
  const sync = new RoleSync(f.node, f.renewer, 20);
  sync.observe({ kind: "node", role: "manager", desiredRole: "manager" });
  await sleep(150);
  await sync.stop();
  assert.deepEqual(f.log, ["renew", "setRole manager"]);
});

test("demotion waits for a worker certificate before flipping the flag", async () => {
  let calls = 0;
  const f = fakes({ certRole: "manager", flagRole: "manager", services: true, issues: () => (++calls < 3 ? "manager" : "worker") });
  const sync = new RoleSync(f.node, f.renewer, 20);
  sync.observe({ kind: "node", role: "worker", desiredRole: "worker" });
  await sleep(300);
  await sync.stop();
  assert.deepEqual(f.log, ["renew", "renew", "renew", "setRole worker"]);
});

test("a manager removed from raft is restarted only if a fresh certificate still says manager", async () => {
  const demoted = fakes({ certRole: "manager", flagRole: "manager", services: false, issues: () => "worker" });
  const s1 = new RoleSync(demoted.node, demoted.renewer, 20);
  // The agent has not seen the demotion yet: its last report still says manager.
  s1.observe({ kind: "node", role: "manager", desiredRole: "manager" });
  await sleep(150);
  assert.equal(demoted.log.includes("setRole manager"), false, "a demoted node must not rejoin raft");
  // Then it does: the worker certificate is already there, the flag follows.
  s1.observe({ kind: "node", role: "worker", desiredRole: "worker" });
  await sleep(100);
  await s1.stop();
  assert.equal(demoted.log.includes("setRole manager"), false, demoted.log.join(", "));
  assert.equal(demoted.log.at(-1), "setRole worker", demoted.log.join(", "));

  const repromoted = fakes({ certRole: "manager", flagRole: "manager", services: false, issues: () => "manager" });
  const s2 = new RoleSync(repromoted.node, repromoted.renewer, 20);
  s2.observe({ kind: "node", role: "manager", desiredRole: "manager" });
  await sleep(150);
  await s2.stop();
  assert.deepEqual(repromoted.log, ["renew", "setRole manager"]);
});

test("nothing to do when certificate, flag and services agree", async () => {
  const f = fakes({ certRole: "manager", flagRole: "manager", services: true, issues: () => "manager" });
  const sync = new RoleSync(f.node, f.renewer, 20);
  sync.observe({ kind: "node", role: "manager", desiredRole: "manager" });
  sync.observe({ kind: "removed", message: "ignored here" });
  await sleep(100);
  await sync.stop();
  assert.deepEqual(f.log, []);
});
