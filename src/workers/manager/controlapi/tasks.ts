// Task methods (SwarmKit controlapi/task.go).
import type {
  GetTaskRequest,
  GetTaskResponse,
  ListTasksRequest,
  ListTasksResponse,
  RemoveTaskRequest,
  RemoveTaskResponse,
  Task,
} from "../../../shared/api/index.js";
import { taskName, type ReadTx } from "../store/index.js";
import { write, type HandlerContext } from "./context.js";
import { invalid, notFound } from "./errors.js";
import { filterContains, filterContainsPrefix, filterEnum, filterMatchLabels } from "./filters.js";

export function getTask(ctx: HandlerContext, req: GetTaskRequest): GetTaskResponse {
  if (req.taskId === "") throw invalid();
  const task = ctx.backend.store.get("task", req.taskId);
  if (!task) throw notFound(`task ${req.taskId} not found`);
  return { task };
}

export async function removeTask(ctx: HandlerContext, req: RemoveTaskRequest): Promise<RemoveTaskResponse> {
  if (req.taskId === "") throw invalid();
  await write(ctx, (tx) => {
    if (!tx.get("task", req.taskId)) throw notFound(`task ${req.taskId} not found`);
    tx.delete("task", req.taskId);
  });
  return {};
}

function runtimeOf(t: Task): string | undefined {
  const r = t.spec?.runtime;
  if (!r) return undefined;
  return r.$case === "generic" ? r.value.kind : r.$case;
}

/** A task runs its service's current spec (SwarmKit's !IsTaskDirty, by spec version). */
function upToDate(tx: ReadTx, t: Task): boolean {
  const service = tx.get("service", t.serviceId);
  if (!service) return false;
  if (service.specVersion && t.specVersion) return service.specVersion.index === t.specVersion.index;
  return JSON.stringify(service.spec?.task ?? null) === JSON.stringify(t.spec ?? null);
}

export function listTasks(ctx: HandlerContext, req: ListTasksRequest): ListTasksResponse {
  const f = req.filters;
  const tasks = ctx.backend.store.view((tx) => {
    let found: Task[];
    if (f?.names.length) found = tx.find("task", { names: f.names });
    else if (f?.namePrefixes.length) found = tx.find("task", { namePrefixes: f.namePrefixes });
    else if (f?.idPrefixes.length) found = tx.find("task", { idPrefixes: f.idPrefixes });
    else if (f?.serviceIds.length) found = tx.find("task", { serviceIds: f.serviceIds });
    else if (f?.nodeIds.length) found = tx.find("task", { nodeIds: f.nodeIds });
    else if (f?.desiredStates.length) found = tx.find("task", { desiredStates: f.desiredStates });
    else found = tx.find("task");
    if (!f) return found;
    return found.filter((t) => {
      const name = taskName(t);
      const runtime = runtimeOf(t);
      return (
        filterContains(name, f.names) &&
        filterContainsPrefix(name, f.namePrefixes) &&
        filterContainsPrefix(t.id, f.idPrefixes) &&
        filterMatchLabels(t.serviceAnnotations?.labels, f.labels) &&
        filterContains(t.serviceId, f.serviceIds) &&
        filterContains(t.nodeId, f.nodeIds) &&
        (f.runtimes.length === 0 || (runtime !== undefined && f.runtimes.includes(runtime))) &&
        filterEnum(t.desiredState, f.desiredStates) &&
        (!f.upToDate || upToDate(tx, t))
      );
    });
  });
  return { tasks };
}
