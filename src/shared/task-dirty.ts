// Whether a task still runs its service's current spec (SwarmKit's
// IsTaskDirty): the rolling updater replaces dirty tasks, the global
// orchestrator uses it when a node comes back. The spec version decides
// quickly when both carry one; otherwise the task specs are compared, with
// the pull options ignored for a task that already has its image, and a
// placement-only change ignored while the task's node still satisfies it.
import { ServiceSpec, TaskSpec, TaskState, type Node, type Service, type Task } from "./api/index.js";
import { nodeMatches, parseConstraints } from "./constraints.js";

export function isTaskDirty(service: Service, t: Task, node?: Node): boolean {
  if (t.specVersion !== undefined && service.specVersion !== undefined && t.specVersion.index === service.specVersion.index) {
    return false;
  }
  const wanted = service.spec?.task;
  if (wanted === undefined) return t.spec !== undefined;
  if (t.spec === undefined) return true;
  let want = wanted;
  const state = t.status?.state ?? TaskState.NEW;
  const hasImage = t.desiredState <= TaskState.RUNNING && state >= TaskState.READY && state <= TaskState.RUNNING;
  if (hasImage && want.runtime?.$case === "container" && t.spec.runtime?.$case === "container") {
    want = { ...want, runtime: { $case: "container", value: { ...want.runtime.value, pullOptions: t.spec.runtime.value.pullOptions } } };
  }
  if (sameTaskSpec(want, t.spec)) return false;
  // Only the placement changed and the node still fits it: keep the task.
  if (node !== undefined && sameTaskSpec({ ...want, placement: t.spec.placement }, t.spec)) {
    try {
      return !nodeMatches(parseConstraints(want.placement?.constraints ?? []), node);
    } catch {
      return true;
    }
  }
  return true;
}

export function sameTaskSpec(a: TaskSpec, b: TaskSpec): boolean {
  return JSON.stringify(TaskSpec.toJSON(a)) === JSON.stringify(TaskSpec.toJSON(b));
}

export function sameServiceSpec(a: ServiceSpec | undefined, b: ServiceSpec | undefined): boolean {
  const j = (s: ServiceSpec | undefined): string => JSON.stringify(s === undefined ? null : ServiceSpec.toJSON(s));
  return j(a) === j(b);
}
