// piscina task module: signs one CSR per task, off the manager's event loop.
// Errors travel back as data so their codes survive (piscina keeps only the message).
import { serializeError, type SerializedError } from "../../../shared/errors.js";
import { signNodeCsr, type SignRequest } from "../../../shared/pki/sign-node-cert.js";

export type SignResult = { ok: true; certPem: string } | { ok: false; error: SerializedError };

export default function signTask(req: SignRequest): SignResult {
  try {
    return { ok: true, certPem: signNodeCsr(req) };
  } catch (err) {
    return { ok: false, error: serializeError(err) };
  }
}

/** Lets the pool start its threads (and load node-forge) before the first join. */
export function warmUp(): boolean {
  return true;
}
