// Network methods (SwarmKit controlapi/network.go). Driver plugins are not
// looked up (there is no plugin getter here); any named driver is accepted.
import { isIP } from "node:net";
import {
  TaskState,
  type CreateNetworkRequest,
  type CreateNetworkResponse,
  type Driver,
  type GetNetworkRequest,
  type GetNetworkResponse,
  type IPAMConfig,
  type ListNetworksRequest,
  type ListNetworksResponse,
  type Network,
  type NetworkSpec,
  type RemoveNetworkRequest,
  type RemoveNetworkResponse,
} from "../../../shared/api/index.js";
import { SwarmError } from "../../../shared/errors.js";
import { newId } from "../../../shared/ids.js";
import type { ReadTx } from "../store/index.js";
import { withNameConflict, write, writeObject, type HandlerContext } from "./context.js";
import { invalid, notFound, precondition } from "./errors.js";
import { filterContains, filterContainsPrefix, filterMatchLabels } from "./filters.js";
import { validateAnnotations, validateDriver } from "./validate-common.js";

const INTERNAL_NETWORK_LABEL = "com.docker.swarm.internal";
/** SwarmKit's default network driver (manager/allocator/cnmallocator). */
const DEFAULT_NETWORK_DRIVER = "overlay";

/**
 * The driver state SwarmKit's network allocator records once a network is
 * allocated: the driver in use and its options. There is no network allocator
 * here, so it is recorded at creation; clients read it (SwarmKit's swarmctl
 * `network ls` dereferences it unconditionally). IPAM stays unset: no
 * addresses are allocated.
 */
function initialDriverState(spec: NetworkSpec): Driver {
  return {
    name: spec.driverConfig?.name || DEFAULT_NETWORK_DRIVER,
    options: { ...(spec.driverConfig?.options ?? {}) },
  };
}

interface Cidr {
  family: 4 | 6;
  bits: bigint;
  prefix: number;
}

function ipToBigInt(ip: string): { family: 4 | 6; value: bigint } | undefined {
  const family = isIP(ip);
  if (family === 4) {
    return { family, value: ip.split(".").reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n) };
  }
  if (family === 6) {
    const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
    const h = head ? head.split(":") : [];
    const t = tail ? tail.split(":") : [];
    // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
    const expand = (groups: string[]): string[] =>
      groups.flatMap((g) => {
        if (!g.includes(".")) return [g];
        const v = ipToBigInt(g)!.value;
        return [(v >> 16n).toString(16), (v & 0xffffn).toString(16)];
      });
    const hh = expand(h);
    const tt = expand(t);
    const groups = tail === undefined ? hh : [...hh, ...Array(8 - hh.length - tt.length).fill("0"), ...tt];
    return { family, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || "0", 16)), 0n) };
  }
  return undefined;
}

function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf("/");
  if (slash < 0) return undefined;
  const ip = ipToBigInt(s.slice(0, slash));
  const prefixText = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > (ip.family === 4 ? 32 : 128)) return undefined;
  return { family: ip.family, bits: ip.value, prefix };
}

function contains(net: Cidr, ip: { family: 4 | 6; value: bigint }): boolean {
  if (net.family !== ip.family) return false;
  const width = BigInt(net.family === 4 ? 32 : 128);
  const shift = width - BigInt(net.prefix);
  return net.bits >> shift === ip.value >> shift;
}

function validateIpamConfig(c: IPAMConfig): void {
  const subnet = parseCidr(c.subnet);
  if (!subnet) throw invalid(`ipam configuration: invalid subnet ${c.subnet}`);
  if (c.range !== "") {
    const range = parseCidr(c.range);
    if (!range) throw invalid(`ipam configuration: invalid range ${c.range}`);
    if (!contains(subnet, { family: range.family, value: range.bits })) {
      throw invalid(`ipam configuration: subnet ${c.subnet} does not contain range ${c.range}`);
    }
  }
  if (c.gateway !== "") {
    const gw = ipToBigInt(c.gateway);
    if (!gw) throw invalid(`ipam configuration: invalid gateway ${c.gateway}`);
    if (!contains(subnet, gw)) throw invalid(`ipam configuration: subnet ${c.subnet} does not contain gateway ${c.gateway}`);
  }
}

function validateNetworkSpec(spec: NetworkSpec | undefined): asserts spec is NetworkSpec {
  if (!spec) throw invalid();
  validateAnnotations(spec.annotations);
  validateDriver(spec.driverConfig, "driver name");
  if (spec.ipam) {
    validateDriver(spec.ipam.driver, "ipam driver name");
    for (const c of spec.ipam.configs) validateIpamConfig(c);
  }
}

export async function createNetwork(ctx: HandlerContext, req: CreateNetworkRequest): Promise<CreateNetworkResponse> {
  const spec = req.spec;
  validateNetworkSpec(spec);
  if (Object.hasOwn(spec.annotations?.labels ?? {}, INTERNAL_NETWORK_LABEL)) {
    throw new SwarmError(
      "PERMISSION_DENIED",
      `label ${INTERNAL_NETWORK_LABEL} is for predefined internal networks and cannot be applied by users`,
    );
  }
  const name = spec.annotations!.name;
  const network = await withNameConflict(
    "network",
    name,
    writeObject(ctx, "network", (tx) => {
      if (spec.ingress && tx.find("network").some((n) => n.spec?.ingress)) {
        throw new SwarmError("ALREADY_EXISTS", "ingress network already exists");
      }
      const id = newId();
      tx.create("network", { id, meta: undefined, spec, driverState: initialDriverState(spec), ipam: undefined, pendingDelete: false });
      return id;
    }),
  );
  return { network };
}

/** GetNetwork/RemoveNetwork take an ID; SwarmKit's request also has a name field that it ignores. */
function lookup(tx: ReadTx, id: string): Network | undefined {
  return tx.get("network", id);
}

export function getNetwork(ctx: HandlerContext, req: GetNetworkRequest): GetNetworkResponse {
  if (req.networkId === "") throw invalid();
  const network = ctx.backend.store.view((tx) => lookup(tx, req.networkId));
  if (!network) throw notFound(`network ${req.networkId} not found`);
  return { network };
}

function usesNetwork(targets: readonly { target: string }[] | undefined, id: string): boolean {
  return (targets ?? []).some((n) => n.target === id);
}

export async function removeNetwork(ctx: HandlerContext, req: RemoveNetworkRequest): Promise<RemoveNetworkResponse> {
  if (req.networkId === "") throw invalid();
  const id = req.networkId;
  await write(ctx, (tx) => {
    const service = tx
      .find("service")
      .find((s) => usesNetwork(s.spec?.networks, id) || usesNetwork(s.spec?.task?.networks, id));
    if (service) throw precondition(`network ${id} is in use by service ${service.id}`);
    for (const t of tx.find("task")) {
      const attached = t.networks.some((n) => n.network?.id === id) || usesNetwork(t.spec?.networks, id);
      if (attached && t.desiredState <= TaskState.RUNNING && (t.status?.state ?? 0) <= TaskState.RUNNING) {
        throw precondition(`network ${id} is in use by task ${t.id}`);
      }
    }
    const nw = lookup(tx, id);
    if (!nw) throw notFound(`network ${id} not found`);
    if (Object.hasOwn(nw.spec?.annotations?.labels ?? {}, INTERNAL_NETWORK_LABEL)) {
      const name = nw.spec?.annotations?.name ?? "";
      throw new SwarmError("PERMISSION_DENIED", `${name !== "" ? `${name} (${nw.id})` : nw.id} is a pre-defined network and cannot be removed`);
    }
    tx.delete("network", id);
  });
  return {};
}

export function listNetworks(ctx: HandlerContext, req: ListNetworksRequest): ListNetworksResponse {
  const f = req.filters;
  let networks = ctx.backend.store.view((tx) => {
    if (f?.names.length) return tx.find("network", { names: f.names });
    if (f?.namePrefixes.length) return tx.find("network", { namePrefixes: f.namePrefixes });
    if (f?.idPrefixes.length) return tx.find("network", { idPrefixes: f.idPrefixes });
    return tx.find("network");
  });
  if (f) {
    networks = networks.filter((n) => {
      const name = n.spec?.annotations?.name ?? "";
      return (
        filterContains(name, f.names) &&
        filterContainsPrefix(name, f.namePrefixes) &&
        filterContainsPrefix(n.id, f.idPrefixes) &&
        filterMatchLabels(n.spec?.annotations?.labels, f.labels)
      );
    });
  }
  return { networks };
}
