// Service methods (SwarmKit controlapi/service.go).
import {
  EndpointSpec,
  NetworkAttachmentConfig,
  PortConfig_PublishMode,
  TaskState,
  UpdateServiceRequest_Rollback,
  UpdateStatus_UpdateState,
  type CreateServiceRequest,
  type CreateServiceResponse,
  type GetServiceRequest,
  type GetServiceResponse,
  type ListServiceStatusesRequest,
  type ListServiceStatusesResponse,
  type ListServiceStatusesResponse_ServiceStatus,
  type ListServicesRequest,
  type ListServicesResponse,
  type Network,
  type RemoveServiceRequest,
  type RemoveServiceResponse,
  type Service,
  type ServiceSpec,
  type UpdateServiceRequest,
  type UpdateServiceResponse,
} from "../../../shared/api/index.js";
import { newId } from "../../../shared/ids.js";
import { cloneObject, type ReadTx } from "../store/index.js";
import { withNameConflict, write, writeObject, type HandlerContext } from "./context.js";
import { invalid, notFound, precondition, unimplemented } from "./errors.js";
import { filterContains, filterContainsPrefix, filterMatchLabels } from "./filters.js";
import { validateServiceSpec } from "./validate-service.js";

const INTERNAL_NETWORK_LABEL = "com.docker.swarm.internal";

export function isIngressNetwork(n: Network): boolean {
  return (n.spec?.ingress ?? false) || Object.hasOwn(n.spec?.annotations?.labels ?? {}, INTERNAL_NETWORK_LABEL);
}

function needsIngress(spec: ServiceSpec): boolean {
  return (spec.endpoint?.ports ?? []).some((p) => p.publishMode === PortConfig_PublishMode.INGRESS);
}

function isJob(spec: ServiceSpec | undefined): boolean {
  return spec?.mode?.$case === "replicatedJob" || spec?.mode?.$case === "globalJob";
}

function validateNetworks(tx: ReadTx, spec: ServiceSpec): void {
  for (const na of [...spec.networks, ...(spec.task?.networks ?? [])]) {
    const n = tx.get("network", na.target);
    if (n && isIngressNetwork(n)) {
      throw invalid(`Service cannot be explicitly attached to the ingress network "${n.spec?.annotations?.name ?? n.id}"`);
    }
  }
}

/** SwarmKit's best-effort check that published ports are not taken by another service. */
function checkPortConflicts(tx: ReadTx, spec: ServiceSpec, serviceId: string): void {
  const key = (published: number, protocol: number): string => `${published}/${protocol}`;
  const ingress = new Set<string>();
  const host = new Set<string>();
  for (const p of spec.endpoint?.ports ?? []) {
    if (p.publishedPort === 0) continue;
    (p.publishMode === PortConfig_PublishMode.HOST ? host : ingress).add(key(p.publishedPort, p.protocol));
  }
  if (ingress.size === 0 && host.size === 0) return;
  for (const other of tx.find("service")) {
    if (other.id === serviceId) continue;
    const name = other.spec?.annotations?.name ?? "";
    for (const p of [...(other.spec?.endpoint?.ports ?? []), ...(other.endpoint?.ports ?? [])]) {
      if (p.publishedPort === 0) continue;
      const k = key(p.publishedPort, p.protocol);
      if (p.publishMode === PortConfig_PublishMode.HOST && ingress.has(k)) {
        throw invalid(`port '${p.publishedPort}' is already in use by service '${name}' (${other.id}) as a host-published port`);
      }
      if (p.publishMode === PortConfig_PublishMode.INGRESS && (ingress.has(k) || host.has(k))) {
        throw invalid(`port '${p.publishedPort}' is already in use by service '${name}' (${other.id}) as an ingress port`);
      }
    }
  }
}

function checkReferences(tx: ReadTx, spec: ServiceSpec): void {
  const runtime = spec.task?.runtime;
  if (runtime?.$case !== "container") return;
  const missingSecrets = runtime.value.secrets
    .filter((r) => tx.get("secret", r.secretId)?.spec?.annotations?.name !== r.secretName)
    .map((r) => r.secretName);
  if (missingSecrets.length > 0) {
    throw invalid(`${missingSecrets.length === 1 ? "secret" : "secrets"} not found: ${missingSecrets.join(", ")}`);
  }
  const missingConfigs = runtime.value.configs
    .filter((r) => tx.get("config", r.configId)?.spec?.annotations?.name !== r.configName)
    .map((r) => r.configName);
  if (missingConfigs.length > 0) {
    throw invalid(`${missingConfigs.length === 1 ? "config" : "configs"} not found: ${missingConfigs.join(", ")}`);
  }
}

function checkIngress(tx: ReadTx, spec: ServiceSpec): void {
  if (needsIngress(spec) && !tx.find("network").some((n) => n.spec?.ingress === true)) {
    throw precondition("service needs ingress network, but no ingress network is present");
  }
}

export async function createService(ctx: HandlerContext, req: CreateServiceRequest): Promise<CreateServiceResponse> {
  const spec = req.spec;
  validateServiceSpec(spec);
  const name = spec.annotations!.name;
  const service = await withNameConflict(
    "service",
    name,
    writeObject(ctx, "service", (tx) => {
      validateNetworks(tx, spec);
      checkPortConflicts(tx, spec, "");
      checkIngress(tx, spec);
      checkReferences(tx, spec);
      const id = newId();
      tx.create("service", {
        id,
        meta: undefined,
        spec,
        endpoint: undefined,
        updateStatus: undefined,
        previousSpec: undefined,
        pendingDelete: false,
        specVersion: { index: 0 },
        previousSpecVersion: undefined,
        jobStatus: isJob(spec) ? { jobIteration: { index: 0 }, lastExecution: ctx.now() } : undefined,
      });
      return id;
    }),
  );
  return { service };
}

export function getService(ctx: HandlerContext, req: GetServiceRequest): GetServiceResponse {
  if (req.serviceId === "") throw invalid();
  const service = ctx.backend.store.get("service", req.serviceId);
  if (!service) throw notFound(`service ${req.serviceId} not found`);
  return { service };
}

const sameJson = <T>(codec: { toJSON(m: T): unknown }, a: T | undefined, b: T | undefined): boolean =>
  JSON.stringify(a === undefined ? null : codec.toJSON(a)) === JSON.stringify(b === undefined ? null : codec.toJSON(b));

const sameNetworks = (a: readonly NetworkAttachmentConfig[], b: readonly NetworkAttachmentConfig[]): boolean =>
  a.length === b.length && a.every((x, i) => sameJson(NetworkAttachmentConfig, x, b[i]));

export async function updateService(ctx: HandlerContext, req: UpdateServiceRequest): Promise<UpdateServiceResponse> {
  if (req.serviceId === "" || req.serviceVersion === undefined) throw invalid();
  const spec = req.spec;
  validateServiceSpec(spec);
  const service = await writeObject(ctx, "service", (tx) => {
    const current = tx.get("service", req.serviceId);
    if (!current) throw notFound(`service ${req.serviceId} not found`);
    const cur = current.spec!;
    if (spec.endpoint !== undefined && !sameJson(EndpointSpec, spec.endpoint, cur.endpoint)) {
      checkPortConflicts(tx, spec, current.id);
    }
    // Only the deprecated spec.networks changing on its own is refused.
    if (
      (spec.networks.length !== 0 || cur.networks.length !== 0) &&
      !sameNetworks(spec.networks, cur.networks) &&
      sameNetworks(spec.task?.networks ?? [], cur.task?.networks ?? [])
    ) {
      throw unimplemented("networks must be migrated to TaskSpec before being changed");
    }
    validateNetworks(tx, spec);
    checkReferences(tx, spec);
    if (spec.mode?.$case !== cur.mode?.$case) throw unimplemented("service mode change is not allowed");
    if (spec.annotations?.name !== cur.annotations?.name) throw unimplemented("renaming services is not supported");

    const next: Service = cloneObject(current);
    next.meta = { ...next.meta!, version: req.serviceVersion };
    if (req.rollback === UpdateServiceRequest_Rollback.PREVIOUS) {
      if (!current.previousSpec) throw precondition(`service ${req.serviceId} does not have a previous spec`);
      next.spec = current.previousSpec;
      next.specVersion = current.previousSpecVersion;
      next.previousSpec = current.spec;
      next.previousSpecVersion = current.specVersion;
      next.updateStatus = {
        state: UpdateStatus_UpdateState.ROLLBACK_STARTED,
        message: "manually requested rollback",
        startedAt: ctx.now(),
        completedAt: undefined,
      };
    } else {
      next.previousSpec = current.spec;
      next.previousSpecVersion = current.specVersion;
      next.spec = spec;
      // The spec's version is the service version it replaced, as in SwarmKit.
      next.specVersion = { index: req.serviceVersion!.index };
      next.updateStatus = undefined;
    }
    // Updating a job runs it again.
    if (isJob(next.spec)) {
      next.jobStatus = { jobIteration: { index: (current.jobStatus?.jobIteration?.index ?? 0) + 1 }, lastExecution: ctx.now() };
    }
    checkIngress(tx, next.spec!);
    tx.update("service", next);
    return req.serviceId;
  });
  return { service };
}

export async function removeService(ctx: HandlerContext, req: RemoveServiceRequest): Promise<RemoveServiceResponse> {
  if (req.serviceId === "") throw invalid();
  await write(ctx, (tx) => {
    if (!tx.get("service", req.serviceId)) throw notFound(`service ${req.serviceId} not found`);
    tx.delete("service", req.serviceId);
  });
  return {};
}

function runtimeOf(spec: ServiceSpec | undefined): string | undefined {
  switch (spec?.task?.runtime?.$case) {
    case "container":
      return "container";
    case "attachment":
      return "attachment";
    case "generic":
      return spec.task.runtime.value.kind;
    default:
      return undefined;
  }
}

export function listServices(ctx: HandlerContext, req: ListServicesRequest): ListServicesResponse {
  const f = req.filters;
  let services = ctx.backend.store.view((tx) => {
    if (f?.names.length) return tx.find("service", { names: f.names });
    if (f?.namePrefixes.length) return tx.find("service", { namePrefixes: f.namePrefixes });
    if (f?.idPrefixes.length) return tx.find("service", { idPrefixes: f.idPrefixes });
    return tx.find("service");
  });
  if (f) {
    services = services.filter((s) => {
      const name = s.spec?.annotations?.name ?? "";
      const runtime = runtimeOf(s.spec);
      return (
        filterContains(name, f.names) &&
        filterContainsPrefix(name, f.namePrefixes) &&
        filterContainsPrefix(s.id, f.idPrefixes) &&
        filterMatchLabels(s.spec?.annotations?.labels, f.labels) &&
        (f.runtimes.length === 0 || (runtime !== undefined && f.runtimes.includes(runtime)))
      );
    });
  }
  return { services };
}

/** Desired vs running (and, for jobs, completed) task counts per service. */
export function listServiceStatuses(ctx: HandlerContext, req: ListServiceStatusesRequest): ListServiceStatusesResponse {
  const statuses = ctx.backend.store.view((tx) =>
    req.services.map((id): ListServiceStatusesResponse_ServiceStatus => {
      const status = { serviceId: id, desiredTasks: 0, runningTasks: 0, completedTasks: 0 };
      const service = tx.get("service", id);
      if (!service) return status;
      const mode = service.spec?.mode;
      const iteration = service.jobStatus?.jobIteration?.index;
      const tasks = tx.tasksByService(id);
      if (mode?.$case === "replicated") status.desiredTasks = mode.value.replicas;
      for (const t of tasks) {
        const state = t.status?.state ?? TaskState.NEW;
        if (state === TaskState.RUNNING) status.runningTasks++;
        const sameIteration = t.jobIteration?.index === iteration;
        if (mode?.$case === "global" && t.desiredState === TaskState.RUNNING) status.desiredTasks++;
        if ((mode?.$case === "replicatedJob" || mode?.$case === "globalJob") && sameIteration) {
          if (state === TaskState.COMPLETE) status.completedTasks++;
          if (mode.$case === "globalJob" && t.desiredState === TaskState.COMPLETE) status.desiredTasks++;
        }
      }
      if (mode?.$case === "replicatedJob") {
        const remaining = Math.max(0, mode.value.totalCompletions - status.completedTasks);
        status.desiredTasks = Math.min(mode.value.maxConcurrent, remaining);
      }
      return status;
    }),
  );
  return { statuses };
}
