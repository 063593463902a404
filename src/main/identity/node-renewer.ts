// Runs the certificate renewer for a running node: which managers to ask
// (those in state.json, then this host's own remote API when it is a
// manager), and where renewed material goes (both worker threads).
import { formatHostPort } from "../../shared/config.js";
import type { ManagerStatus } from "../../shared/contracts/index.js";
import { errorMessage } from "../../shared/errors.js";
import { getLogger } from "../../shared/logging.js";
import type { TlsMaterial } from "./identity.js";
import { CertificateRenewer, knownManagers, testRenewAfterMs } from "./renewer.js";

const log = getLogger("renewer");

/** How long the local CA may take to lead and sign an expired manager's renewal. */
const EXPIRED_RENEWAL_TIMEOUT_MS = 60_000;

/** What the renewer needs of a running node (SwarmNode's worker clients). */
export interface RenewableNode {
  manager: {
    status(): Promise<ManagerStatus>;
    updateIdentity(tls: TlsMaterial): Promise<void>;
    renewOwnCertificate(csrPem: string, timeoutMs: number): Promise<string>;
  };
  agent: { updateIdentity(tls: TlsMaterial): Promise<void> };
}

export function startNodeRenewer(stateDir: string, tls: TlsMaterial, node: RenewableNode): CertificateRenewer {
  const renewAfterMs = testRenewAfterMs();
  const renewer = new CertificateRenewer({
    stateDir,
    tls,
    managers: async () => {
      const addrs = await knownManagers(stateDir);
      const own = await node.manager.status().then((s) => s.services?.remoteApi, () => undefined);
      if (!own) return addrs;
      const host = own.host === "0.0.0.0" || own.host === "::" || own.host === "" ? "127.0.0.1" : own.host;
      const self = formatHostPort({ host, port: own.port });
      // Own remote API last: a manager being demoted is already out of raft
      // and its own CA could never finish the renewal (it would hang there).
      return [...addrs.filter((a) => a !== self), self];
    },
    // An expired certificate (--force-new-cluster) renews through this host's own manager CA.
    issueExpired: (csrPem) => node.manager.renewOwnCertificate(csrPem, EXPIRED_RENEWAL_TIMEOUT_MS),
    onRenewed: async (renewed) => {
      const results = await Promise.allSettled([node.manager.updateIdentity(renewed), node.agent.updateIdentity(renewed)]);
      for (const [i, r] of results.entries()) {
        if (r.status === "rejected") log.warn({ worker: i === 0 ? "manager" : "agent", err: errorMessage(r.reason) }, "worker did not take the renewed certificate");
      }
    },
    ...(renewAfterMs !== undefined ? { renewAfterMs } : {}),
  });
  renewer.start();
  return renewer;
}
