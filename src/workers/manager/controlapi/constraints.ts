// Placement constraint syntax as SwarmKit's manager/constraint.Parse accepts
// it: "key==value" or "key!=value", with restricted key and value alphabets.
const KEY = /^[a-z_][a-z0-9\-_.]+$/i;
// No operators (<, >, ~ …) inside values, so future operators stay unambiguous.
const VALUE = /^[a-z0-9:\-_\s.*()?+[\]\\^$|/]+$/i;
const OPERATORS = ["==", "!="] as const;

export interface Constraint {
  key: string;
  operator: (typeof OPERATORS)[number];
  value: string;
}

/** Parse constraints; throws an Error with SwarmKit's wording for the first bad one. */
export function parseConstraints(exprs: readonly string[]): Constraint[] {
  const out: Constraint[] = [];
  for (const e of exprs) {
    const op = OPERATORS.find((o) => e.includes(o));
    if (op === undefined) throw new Error(`constraint expected one operator from ${OPERATORS.join(", ")}`);
    const at = e.indexOf(op);
    const key = e.slice(0, at).trim();
    const value = e.slice(at + op.length).trim();
    if (!KEY.test(key)) throw new Error(`key '${key}' is invalid`);
    if (!VALUE.test(value)) throw new Error(`value '${value}' is invalid`);
    out.push({ key, operator: op, value });
  }
  return out;
}
