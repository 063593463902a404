// SwarmKit's list filter predicates (controlapi/common.go): an empty filter
// list matches everything; names match exactly (case-sensitive, after the
// store's case-insensitive index narrowed the candidates); prefixes are
// plain string prefixes; labels need the key and, when given, the value.

export function filterContains(match: string, candidates: readonly string[] | undefined): boolean {
  if (!candidates || candidates.length === 0) return true;
  return candidates.includes(match);
}

export function filterContainsPrefix(match: string, candidates: readonly string[] | undefined): boolean {
  if (!candidates || candidates.length === 0) return true;
  return candidates.some((c) => match.startsWith(c));
}

export function filterMatchLabels(
  match: Readonly<Record<string, string>> | undefined,
  candidates: Readonly<Record<string, string>> | undefined,
): boolean {
  if (!candidates) return true;
  const entries = Object.entries(candidates);
  if (entries.length === 0) return true;
  const have = match ?? {};
  for (const [k, v] of entries) {
    if (!Object.hasOwn(have, k)) return false;
    if (v !== "" && have[k] !== v) return false;
  }
  return true;
}

export function filterEnum(match: number, candidates: readonly number[] | undefined): boolean {
  if (!candidates || candidates.length === 0) return true;
  return candidates.includes(match);
}

/** Which single index SwarmKit's List* uses first: names, then name prefixes, then ID prefixes. */
export interface BasicFilters {
  names?: readonly string[];
  namePrefixes?: readonly string[];
  idPrefixes?: readonly string[];
}
