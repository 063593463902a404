// ServiceSpec with the partial-object type its fromPartial takes, for table tests.
import { ServiceSpec } from "../../src/shared/api/index.js";

export { ServiceSpec };
export type DeepPartialServiceSpec = Parameters<typeof ServiceSpec.fromPartial>[0];
