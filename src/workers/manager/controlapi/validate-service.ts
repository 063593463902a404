// ServiceSpec validation, following SwarmKit's controlapi/service.go: the
// same checks, codes and (where SwarmKit has them) messages, plus a few
// checks on mounts and replicas that SwarmKit leaves to later stages.
import {
  Mount_Type,
  EndpointSpec_ResolutionMode,
  PortConfig_PublishMode,
  type ContainerSpec,
  type HealthConfig,
  type Mount,
  type Resources,
  type ServiceSpec,
  type TaskSpec,
  type UpdateConfig,
} from "../../../shared/api/index.js";
import { parseConstraints } from "./constraints.js";
import { invalid, unimplemented } from "./errors.js";
import { imageReferenceProblem } from "./image-ref.js";
import { durationMs, nonNegativeDuration, validateAnnotations, validateDriver } from "./validate-common.js";

/**
 * Upper bound on replicas and job completions. SwarmKit has none, but a
 * number this large would only make the orchestrator flood the store.
 */
export const MAX_REPLICAS = 100_000;

const MIN_NANO_CPUS = 1e6;
const MIN_MEMORY_BYTES = 4 * 1024 * 1024;
const MIN_HEALTH_DURATION_MS = 1;

function validateResources(r: Resources | undefined, field: string): void {
  if (!r) return;
  if (r.nanoCpus < 0 || (r.nanoCpus !== 0 && r.nanoCpus < MIN_NANO_CPUS)) {
    throw invalid(`${field}: invalid cpu value ${r.nanoCpus / 1e9}: Must be at least ${MIN_NANO_CPUS / 1e9}`);
  }
  if (r.memoryBytes < 0 || (r.memoryBytes !== 0 && r.memoryBytes < MIN_MEMORY_BYTES)) {
    throw invalid(`${field}: invalid memory value ${r.memoryBytes}: Must be at least 4MiB`);
  }
}

function validateTaskResources(t: TaskSpec): void {
  validateResources(t.resources?.limits, "TaskSpec.Resources.Limits");
  validateResources(t.resources?.reservations, "TaskSpec.Resources.Reservations");
}

function validateRestartPolicy(t: TaskSpec): void {
  const rp = t.restart;
  if (!rp) return;
  nonNegativeDuration(rp.delay, "TaskSpec: restart-delay");
  nonNegativeDuration(rp.window, "TaskSpec: restart-window");
}

function validatePlacement(t: TaskSpec): void {
  const constraints = t.placement?.constraints ?? [];
  try {
    parseConstraints(constraints);
  } catch (err) {
    throw invalid(`TaskSpec: invalid placement constraint: ${(err as Error).message}`);
  }
  if (t.placement && t.placement.maxReplicas < 0) throw invalid("TaskSpec: placement max replicas cannot be negative");
}

function validateUpdateConfig(uc: UpdateConfig | undefined, kind: "update" | "rollback"): void {
  if (!uc) return;
  nonNegativeDuration(uc.delay, `TaskSpec: ${kind}-delay`);
  nonNegativeDuration(uc.monitor, `TaskSpec: ${kind}-monitor`);
  if (!(uc.maxFailureRatio >= 0 && uc.maxFailureRatio <= 1)) {
    throw invalid(`TaskSpec: ${kind}-maxfailureratio cannot be less than 0 or bigger than 1`);
  }
}

function validateImage(image: string): void {
  if (image === "") throw invalid("ContainerSpec: image reference must be provided");
  const problem = imageReferenceProblem(image);
  if (problem !== undefined) throw invalid(`ContainerSpec: "${image}" is not a valid repository/tag: ${problem}`);
}

function isAbsolute(p: string): boolean {
  return p.startsWith("/") || /^[a-zA-Z]:[\\/]/.test(p) || p.startsWith("\\\\");
}

function validateMount(m: Mount): void {
  const where = `ContainerSpec: mount ${m.target === "" ? "(no target)" : m.target}`;
  if (m.target === "") throw invalid("ContainerSpec: mount target must be provided");
  if (m.type !== Mount_Type.NPIPE && !isAbsolute(m.target)) throw invalid(`${where}: target must be an absolute path`);
  switch (m.type) {
    case Mount_Type.BIND:
    case Mount_Type.NPIPE:
      if (m.source === "") throw invalid(`${where}: a ${m.type === Mount_Type.BIND ? "bind" : "npipe"} mount needs a source`);
      if (m.type === Mount_Type.BIND && !isAbsolute(m.source)) throw invalid(`${where}: bind source must be an absolute path`);
      if (m.volumeOptions) throw invalid(`${where}: VolumeOptions are only for volume mounts`);
      if (m.tmpfsOptions) throw invalid(`${where}: TmpfsOptions are only for tmpfs mounts`);
      break;
    case Mount_Type.VOLUME:
      if (m.bindOptions) throw invalid(`${where}: BindOptions are only for bind mounts`);
      if (m.tmpfsOptions) throw invalid(`${where}: TmpfsOptions are only for tmpfs mounts`);
      break;
    case Mount_Type.TMPFS:
      if (m.source !== "") throw invalid(`${where}: a tmpfs mount cannot have a source`);
      if (m.bindOptions) throw invalid(`${where}: BindOptions are only for bind mounts`);
      if (m.volumeOptions) throw invalid(`${where}: VolumeOptions are only for volume mounts`);
      if (m.tmpfsOptions && m.tmpfsOptions.sizeBytes < 0) throw invalid(`${where}: tmpfs size cannot be negative`);
      break;
    case Mount_Type.CLUSTER:
      break;
    default:
      throw invalid(`${where}: unknown mount type ${String(m.type)}`);
  }
}

function validateMounts(mounts: readonly Mount[]): void {
  const seen = new Set<string>();
  for (const m of mounts) {
    validateMount(m);
    if (seen.has(m.target)) throw invalid(`ContainerSpec: duplicate mount point: ${m.target}`);
    seen.add(m.target);
  }
}

function validateHealthCheck(hc: HealthConfig | undefined): void {
  if (!hc) return;
  for (const [field, d] of [
    ["Interval", hc.interval],
    ["Timeout", hc.timeout],
    ["StartPeriod", hc.startPeriod],
  ] as const) {
    const ms = durationMs(d, `ContainerSpec: ${field} in HealthConfig`);
    if (ms !== undefined && ms !== 0 && ms < MIN_HEALTH_DURATION_MS) {
      throw invalid(`ContainerSpec: ${field} in HealthConfig cannot be less than 1ms`);
    }
  }
  if (hc.retries < 0) throw invalid("ContainerSpec: Retries in HealthConfig cannot be negative");
}

function validateSecretRefs(c: ContainerSpec): void {
  const targets = new Map<string, string>();
  for (const ref of c.secrets) {
    if (ref.secretId === "" || ref.secretName === "") throw invalid("malformed secret reference");
    if (!ref.target) throw invalid("malformed secret reference, no target provided");
    const name = ref.target.value.name;
    if (name === "") throw invalid("malformed file secret reference, invalid target file name provided");
    const prev = targets.get(name);
    if (prev !== undefined) {
      throw invalid(`secret references '${prev}' and '${ref.secretName}' have a conflicting target: '${name}'`);
    }
    targets.set(name, ref.secretName);
  }
}

function validateConfigRefs(c: ContainerSpec): void {
  const targets = new Map<string, string>();
  for (const ref of c.configs) {
    if (ref.configId === "" || ref.configName === "") throw invalid("malformed config reference");
    if (!ref.target) throw invalid("malformed config reference, no target provided");
    if (ref.target.$case !== "file") continue;
    const name = ref.target.value.name;
    if (name === "") throw invalid("malformed file config reference, invalid target file name provided");
    const prev = targets.get(name);
    if (prev !== undefined) {
      throw invalid(`config references '${prev}' and '${ref.configName}' have a conflicting target: '${name}'`);
    }
    targets.set(name, ref.configName);
  }
}

function validateContainer(c: ContainerSpec): void {
  validateImage(c.image);
  validateMounts(c.mounts);
  validateHealthCheck(c.healthcheck);
  nonNegativeDuration(c.stopGracePeriod, "ContainerSpec: stop-grace-period");
}

function validateGeneric(kind: string, payload: { typeUrl: string; value: Uint8Array } | undefined): void {
  if (kind.length < 3) throw invalid(`Generic runtime: Invalid name "${kind}"`);
  if (["container", "attachment"].includes(kind.toLowerCase())) throw invalid(`Generic runtime: "${kind}" is a reserved name`);
  if (!payload) throw invalid("Generic runtime is missing payload");
  if (payload.typeUrl === "") throw invalid("Generic runtime is missing payload type");
  if (payload.value.length === 0) throw invalid("Generic runtime has an empty payload");
}

export function validateTaskSpec(t: TaskSpec | undefined): void {
  if (!t) throw invalid("TaskSpec: missing runtime");
  validateTaskResources(t);
  validateRestartPolicy(t);
  validatePlacement(t);
  validateDriver(t.logDriver, "TaskSpec: log driver");
  const runtime = t.runtime;
  if (runtime?.$case === "container") {
    validateSecretRefs(runtime.value);
    validateConfigRefs(runtime.value);
  }
  if (!runtime) throw invalid("TaskSpec: missing runtime");
  switch (runtime.$case) {
    case "container":
      return validateContainer(runtime.value);
    case "generic":
      return validateGeneric(runtime.value.kind, runtime.value.payload);
    default:
      throw unimplemented("RuntimeSpec: unimplemented runtime in service spec");
  }
}

function validateEndpoint(spec: ServiceSpec): void {
  const ep = spec.endpoint;
  if (!ep) return;
  const seen = new Set<string>();
  for (const p of ep.ports) {
    if (ep.mode === EndpointSpec_ResolutionMode.DNSRR && p.publishMode === PortConfig_PublishMode.INGRESS) {
      throw invalid("EndpointSpec: port published with ingress mode can't be used with dnsrr mode");
    }
    if (p.targetPort > 65535 || p.publishedPort > 65535) {
      throw invalid(`EndpointSpec: port ${p.publishedPort > 65535 ? p.publishedPort : p.targetPort} is out of range (1-65535)`);
    }
    if (p.publishedPort === 0) continue;
    const key = `${p.publishedPort}/${p.protocol}`;
    if (seen.has(key)) throw invalid("EndpointSpec: duplicate published ports provided");
    seen.add(key);
  }
}

function validateCount(n: number, what: string): void {
  if (n < 0) throw invalid(`${what} must be non-negative`);
  if (n > MAX_REPLICAS) throw invalid(`${what} must be at most ${MAX_REPLICAS} (got ${n})`);
}

function validateMode(spec: ServiceSpec): void {
  const mode = spec.mode;
  switch (mode?.$case) {
    case "replicated":
      return validateCount(mode.value.replicas, "Number of replicas");
    case "global":
    case "globalJob":
      return;
    case "replicatedJob":
      validateCount(mode.value.maxConcurrent, "Maximum concurrent jobs");
      validateCount(mode.value.totalCompletions, "Total completed jobs");
      return;
    default:
      throw invalid("Unrecognized service mode");
  }
}

/** SwarmKit's validateServiceSpec. */
export function validateServiceSpec(spec: ServiceSpec | undefined): asserts spec is ServiceSpec {
  if (!spec) throw invalid();
  validateAnnotations(spec.annotations);
  validateTaskSpec(spec.task);
  validateUpdateConfig(spec.update, "update");
  validateUpdateConfig(spec.rollback, "rollback");
  validateEndpoint(spec);
  validateMode(spec);
}
