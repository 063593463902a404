// Replacing the node's key + certificate as one pair, crash-safely. Two files
// cannot be renamed at once, so the write leaves a recognisable trail instead:
// both are written to synced temp files sharing one suffix
// (.swarm-node.key.tmp-X, .swarm-node.crt.tmp-X), then the key is renamed into
// place, then the certificate, then the directory is synced. A crash between
// the two renames leaves the new key beside the old (or no) certificate, with
// the new certificate still in its temp file; completeInterruptedReplacement
// finds that at load time and finishes the job.
import { randomBytes } from "node:crypto";
import { readFile, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { getLogger } from "../../shared/logging.js";
import { keyMatchesCert, parseNodeCert, verifyChain } from "../../shared/pki/index.js";
import { fsyncDir, writeFileSynced } from "../../shared/atomic-file.js";
import { CERT_FILE_MODE, KEY_FILE_MODE, NODE_CERT_FILE, NODE_KEY_FILE, type CertificatePaths } from "./paths.js";

const log = getLogger("identity");

/** Temp files of a pair write (and of writeFileAtomic on the root bundle): never the only copy of a usable identity once the live files validate. */
const STALE_TEMP = /^\.swarm-(?:node\.(?:key|crt)|root-ca\.crt)\.tmp-[0-9a-f]+$/;
const CERT_TEMP = new RegExp(`^\\.${NODE_CERT_FILE.replace(/\./g, "\\.")}\\.tmp-[0-9a-f]+$`);

/** The points between the steps of a pair write, for tests that look at what a crash there would leave. */
export type PairWriteStep = "staged" | "key-renamed" | "cert-renamed";

export interface PairWriteHooks {
  afterStep?: (step: PairWriteStep) => Promise<void> | void;
}

/** Writes keyPem and certPem as paths.nodeKey / paths.nodeCert (the directory must exist). */
export async function replaceNodePair(paths: CertificatePaths, certPem: string, keyPem: string, hooks: PairWriteHooks = {}): Promise<void> {
  const suffix = `.tmp-${randomBytes(6).toString("hex")}`;
  const keyTmp = join(paths.dir, `.${NODE_KEY_FILE}${suffix}`);
  const certTmp = join(paths.dir, `.${NODE_CERT_FILE}${suffix}`);
  try {
    // Key first: a certificate temp on disk then implies its key was already synced.
    await writeFileSynced(keyTmp, keyPem, KEY_FILE_MODE);
    await writeFileSynced(certTmp, certPem, CERT_FILE_MODE);
    await hooks.afterStep?.("staged");
    await rename(keyTmp, paths.nodeKey);
    await hooks.afterStep?.("key-renamed");
    await rename(certTmp, paths.nodeCert);
    await hooks.afterStep?.("cert-renamed");
  } catch (err) {
    await Promise.all([rm(keyTmp, { force: true }), rm(certTmp, { force: true })]);
    throw err;
  }
  await fsyncDir(paths.dir);
}

async function readText(path: string): Promise<string | undefined> {
  // Unreadable is treated as absent here: the normal load path reports problems with the live files.
  return readFile(path, "utf8").catch(() => undefined);
}

async function listDir(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** A certificate temp can finish the replacement only if it is a node certificate for the live key, issued by the live root. */
function completesPair(certPem: string, keyPem: string, rootPem: string, now: number | undefined): boolean {
  try {
    parseNodeCert(certPem);
    if (!keyMatchesCert(keyPem, certPem)) return false;
    // Expiry is not this check's business: once in place, the normal path reports it (or accepts it with allowExpired).
    verifyChain(certPem, rootPem, { allowExpired: true, now });
    return true;
  } catch {
    return false;
  }
}

/**
 * Rolls an interrupted pair write forward: when swarm-node.key does not match
 * swarm-node.crt (or the certificate is missing) and a certificate temp
 * completes the pair, it is renamed into place. Deletes nothing. Returns the
 * temp's name when it recovered.
 */
export async function completeInterruptedReplacement(paths: CertificatePaths, now?: number): Promise<string | undefined> {
  const candidates = (await listDir(paths.dir)).filter((name) => CERT_TEMP.test(name)).sort();
  if (candidates.length === 0) return undefined;
  const [root, cert, key] = await Promise.all([readText(paths.rootCaCert), readText(paths.nodeCert), readText(paths.nodeKey)]);
  if (root === undefined || key === undefined) return undefined;
  if (cert !== undefined && keyMatchesCert(key, cert)) return undefined;
  for (const name of candidates) {
    const tmp = join(paths.dir, name);
    const text = await readText(tmp);
    if (text === undefined || !completesPair(text, key, root, now)) continue;
    await rename(tmp, paths.nodeCert);
    await fsyncDir(paths.dir);
    log.warn(
      { certificate: paths.nodeCert, from: tmp, key: paths.nodeKey, previousCertificate: cert === undefined ? "missing" : "for another key" },
      `completed an interrupted certificate replacement: renamed ${name} to ${NODE_CERT_FILE} (it matches ${NODE_KEY_FILE})`,
    );
    return name;
  }
  return undefined;
}

/** Removes leftover temp files; call only once the live files have validated. Best effort. */
export async function removeStaleTemps(paths: CertificatePaths): Promise<string[]> {
  const stale = (await listDir(paths.dir)).filter((name) => STALE_TEMP.test(name));
  const removed: string[] = [];
  for (const name of stale) {
    try {
      await rm(join(paths.dir, name), { force: true });
      removed.push(name);
    } catch (err) {
      log.warn({ path: join(paths.dir, name), err }, "cannot remove a leftover temporary file");
    }
  }
  if (removed.length > 0) log.info({ dir: paths.dir, removed }, "removed leftover temporary files of an interrupted certificate write");
  return removed;
}
