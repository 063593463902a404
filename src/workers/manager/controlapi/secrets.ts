// Secret and config methods (SwarmKit controlapi/secret.go and config.go).
// The two kinds behave alike; a secret's data never leaves the manager
// through this API, a config's data does.
import {
  type Annotations,
  type Config,
  type ConfigSpec,
  type CreateConfigRequest,
  type CreateConfigResponse,
  type CreateSecretRequest,
  type CreateSecretResponse,
  type GetConfigRequest,
  type GetConfigResponse,
  type GetSecretRequest,
  type GetSecretResponse,
  type ListConfigsRequest,
  type ListConfigsResponse,
  type ListSecretsRequest,
  type ListSecretsResponse,
  type RemoveConfigRequest,
  type RemoveConfigResponse,
  type RemoveSecretRequest,
  type RemoveSecretResponse,
  type Secret,
  type SecretSpec,
  type Service,
  type UpdateConfigRequest,
  type UpdateConfigResponse,
  type UpdateSecretRequest,
  type UpdateSecretResponse,
  type Version,
} from "../../../shared/api/index.js";
import { newId } from "../../../shared/ids.js";
import { cloneObject, type ObjectOfKind, type ReadTx } from "../store/index.js";
import { withNameConflict, write, writeObject, type HandlerContext } from "./context.js";
import { invalid, notFound } from "./errors.js";
import { filterMatchLabels } from "./filters.js";
import { validateConfigOrSecretAnnotations } from "./validate-common.js";

/** SwarmKit's MaxSecretSize: data must be shorter than this. */
export const MAX_SECRET_SIZE = 500 * 1024;
/** SwarmKit's MaxConfigSize. */
export const MAX_CONFIG_SIZE = 1000 * 1024;

/** A copy without the payload: what every secret response carries. */
export function redactSecret(s: Secret): Secret {
  return { ...s, spec: s.spec && { ...s.spec, data: Buffer.alloc(0) } };
}

function validateSecretSpec(spec: SecretSpec | undefined): asserts spec is SecretSpec {
  if (!spec) throw invalid();
  validateConfigOrSecretAnnotations(spec.annotations);
  if (spec.driver) {
    // Data comes from the driver plugin; nothing else to check here.
    if (spec.driver.name === "") throw invalid("secret driver must have a name");
    return;
  }
  if (spec.data.length >= MAX_SECRET_SIZE || spec.data.length < 1) {
    throw invalid(`secret data must be larger than 0 and less than ${MAX_SECRET_SIZE} bytes`);
  }
}

function validateConfigSpec(spec: ConfigSpec | undefined): asserts spec is ConfigSpec {
  if (!spec) throw invalid();
  validateConfigOrSecretAnnotations(spec.annotations);
  if (spec.data.length >= MAX_CONFIG_SIZE || spec.data.length < 1) {
    throw invalid(`config data must be larger than 0 and less than ${MAX_CONFIG_SIZE} bytes`);
  }
}

/** SwarmKit's secret/config listing: names, name prefixes and ID prefixes are alternatives (OR). */
function findNamed<K extends "secret" | "config">(
  tx: ReadTx,
  kind: K,
  f: { names: string[]; namePrefixes: string[]; idPrefixes: string[] } | undefined,
): (K extends "secret" ? Secret : Config)[] {
  type T = K extends "secret" ? Secret : Config;
  if (!f || f.names.length + f.namePrefixes.length + f.idPrefixes.length === 0) return tx.find(kind) as T[];
  const out = new Map<string, T>();
  const add = (list: readonly T[]): void => list.forEach((o) => out.set(o.id, o));
  if (f.names.length) add(tx.find(kind, { names: f.names }) as T[]);
  if (f.namePrefixes.length) add(tx.find(kind, { namePrefixes: f.namePrefixes }) as T[]);
  if (f.idPrefixes.length) add(tx.find(kind, { idPrefixes: f.idPrefixes }) as T[]);
  return [...out.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function inUseError(kind: "secret" | "config", name: string, services: readonly Service[]): Error {
  const names = services.map((s) => s.spec?.annotations?.name ?? s.id);
  return invalid(`${kind} '${name}' is in use by the following ${names.length === 1 ? "service" : "services"}: ${names.join(", ")}`);
}

const containerOf = (s: Service) => (s.spec?.task?.runtime?.$case === "container" ? s.spec.task.runtime.value : undefined);

// ---- secrets

export function getSecret(ctx: HandlerContext, req: GetSecretRequest): GetSecretResponse {
  if (req.secretId === "") throw invalid("secret ID must be provided");
  const secret = ctx.backend.store.get("secret", req.secretId);
  if (!secret) throw notFound(`secret ${req.secretId} not found`);
  return { secret: redactSecret(secret) };
}

export async function updateSecret(ctx: HandlerContext, req: UpdateSecretRequest): Promise<UpdateSecretResponse> {
  const secret = await updateLabelsOnly(ctx, "secret", req.secretId, req.secretVersion, req.spec);
  return { secret: redactSecret(secret) };
}

/**
 * Secrets and configs take label changes only (SwarmKit): the name must stay,
 * and data, if given, must be what is stored. Returns the committed object.
 */
async function updateLabelsOnly<K extends "secret" | "config">(
  ctx: HandlerContext,
  kind: K,
  id: string,
  version: Version | undefined,
  spec: { annotations?: Annotations | undefined; data: Uint8Array } | undefined,
): Promise<ObjectOfKind[K]> {
  if (id === "" || version === undefined || !spec) throw invalid();
  return writeObject(ctx, kind, (tx) => {
    const current = tx.get(kind, id) as Secret | Config | undefined;
    if (!current) throw notFound(`${kind} ${id} not found`);
    const data = current.spec?.data ?? Buffer.alloc(0);
    if (
      current.spec?.annotations?.name !== spec.annotations?.name ||
      (spec.data.length > 0 && Buffer.compare(Buffer.from(spec.data), Buffer.from(data)) !== 0)
    ) {
      throw invalid("only updates to Labels are allowed");
    }
    const next = cloneObject(current);
    next.meta = { ...next.meta!, version };
    next.spec!.annotations = { ...next.spec!.annotations!, labels: spec.annotations?.labels ?? {} };
    tx.update(kind, next as ObjectOfKind[K]);
    return id;
  });
}

export function listSecrets(ctx: HandlerContext, req: ListSecretsRequest): ListSecretsResponse {
  const f = req.filters;
  const secrets = ctx.backend.store
    .view((tx) => findNamed(tx, "secret", f))
    .filter((s) => !s.internal && filterMatchLabels(s.spec?.annotations?.labels, f?.labels))
    .map(redactSecret);
  return { secrets };
}

export async function createSecret(ctx: HandlerContext, req: CreateSecretRequest): Promise<CreateSecretResponse> {
  const spec = req.spec;
  validateSecretSpec(spec);
  const name = spec.annotations!.name;
  const secret = await withNameConflict(
    "secret",
    name,
    writeObject(ctx, "secret", (tx) => {
      const id = newId();
      tx.create("secret", { id, meta: undefined, spec, internal: false });
      return id;
    }),
  );
  return { secret: redactSecret(secret) };
}

export async function removeSecret(ctx: HandlerContext, req: RemoveSecretRequest): Promise<RemoveSecretResponse> {
  if (req.secretId === "") throw invalid("secret ID must be provided");
  await write(ctx, (tx) => {
    const secret = tx.get("secret", req.secretId);
    if (!secret) throw notFound(`could not find secret ${req.secretId}`);
    const users = tx.find("service").filter((s) => containerOf(s)?.secrets.some((r) => r.secretId === req.secretId));
    if (users.length > 0) throw inUseError("secret", secret.spec?.annotations?.name ?? "", users);
    tx.delete("secret", req.secretId);
  });
  return {};
}

// ---- configs

export function getConfig(ctx: HandlerContext, req: GetConfigRequest): GetConfigResponse {
  if (req.configId === "") throw invalid("config ID must be provided");
  const config = ctx.backend.store.get("config", req.configId);
  if (!config) throw notFound(`config ${req.configId} not found`);
  return { config };
}

export async function updateConfig(ctx: HandlerContext, req: UpdateConfigRequest): Promise<UpdateConfigResponse> {
  const config = await updateLabelsOnly(ctx, "config", req.configId, req.configVersion, req.spec);
  return { config };
}

export function listConfigs(ctx: HandlerContext, req: ListConfigsRequest): ListConfigsResponse {
  const f = req.filters;
  const configs = ctx.backend.store
    .view((tx) => findNamed(tx, "config", f))
    .filter((c) => filterMatchLabels(c.spec?.annotations?.labels, f?.labels));
  return { configs };
}

export async function createConfig(ctx: HandlerContext, req: CreateConfigRequest): Promise<CreateConfigResponse> {
  const spec = req.spec;
  validateConfigSpec(spec);
  const name = spec.annotations!.name;
  const config = await withNameConflict(
    "config",
    name,
    writeObject(ctx, "config", (tx) => {
      const id = newId();
      tx.create("config", { id, meta: undefined, spec });
      return id;
    }),
  );
  return { config };
}

export async function removeConfig(ctx: HandlerContext, req: RemoveConfigRequest): Promise<RemoveConfigResponse> {
  if (req.configId === "") throw invalid("config ID must be provided");
  await write(ctx, (tx) => {
    const config = tx.get("config", req.configId);
    if (!config) throw notFound(`could not find config ${req.configId}`);
    const users = tx.find("service").filter((s) => containerOf(s)?.configs.some((r) => r.configId === req.configId));
    if (users.length > 0) throw inUseError("config", config.spec?.annotations?.name ?? "", users);
    tx.delete("config", req.configId);
  });
  return {};
}
