// `when` conditions in the editor: the operators in words, what kind of node a
// condition is, and the field paths its form renders (for placing issues). The
// format itself is the generated `Condition` type; nothing here evaluates one.
import type { AllOf, AnyOf, CompareOp, Comparison, Condition, NotOf } from "../bindings";

export type Operator = { op: CompareOp; words: string; right: boolean };

/** Every operator of `when` (and `logic.assert`), as a person reads it. */
export const OPERATORS: Operator[] = [
  { op: "eq", words: "is equal to", right: true },
  { op: "ne", words: "is not equal to", right: true },
  { op: "gt", words: "is greater than", right: true },
  { op: "ge", words: "is at least", right: true },
  { op: "lt", words: "is less than", right: true },
  { op: "le", words: "is at most", right: true },
  { op: "contains", words: "contains", right: true },
  { op: "not_contains", words: "does not contain", right: true },
  { op: "starts_with", words: "starts with", right: true },
  { op: "ends_with", words: "ends with", right: true },
  { op: "matches", words: "matches the pattern", right: true },
  { op: "exists", words: "exists (is not null)", right: false },
  { op: "empty", words: "is empty", right: false },
  { op: "not_empty", words: "is not empty", right: false },
];

/** Other spellings the format accepts for the same operators. */
export const ALIASES: Partial<Record<CompareOp, CompareOp>> = { gte: "ge", lte: "le" };

export function operator(op: CompareOp): Operator {
  const canonical = ALIASES[op] ?? op;
  return OPERATORS.find((o) => o.op === canonical) ?? { op, words: op, right: true };
}

export function takesRight(op: CompareOp): boolean {
  return operator(op).right;
}

export function isComparison(c: Condition): c is Comparison {
  return "op" in c;
}
export function isAll(c: Condition): c is AllOf {
  return "all" in c;
}
export function isAny(c: Condition): c is AnyOf {
  return "any" in c;
}
export function isNot(c: Condition): c is NotOf {
  return "not" in c;
}

export function newComparison(left = ""): Comparison {
  return { left, op: "eq", right: "" };
}

/** A comparison with another operator: `right` goes when the operator takes none. */
export function withOp(c: Comparison, op: CompareOp): Comparison {
  const next: Comparison = { left: c.left, op };
  if (takesRight(op)) next.right = c.right ?? "";
  return next;
}

/** How deep groups nest (a comparison is 0). */
export function depth(c: Condition): number {
  if (isAll(c)) return 1 + Math.max(0, ...c.all.map(depth));
  if (isAny(c)) return 1 + Math.max(0, ...c.any.map(depth));
  if (isNot(c)) return 1 + depth(c.not);
  return 0;
}

/** The paths the condition's form renders, for issues: `…when.all[0].left`. */
export function conditionPaths(c: Condition, base: string): string[] {
  const out = [base];
  if (isAll(c)) c.all.forEach((x, i) => out.push(...conditionPaths(x, `${base}.all[${i}]`)));
  else if (isAny(c)) c.any.forEach((x, i) => out.push(...conditionPaths(x, `${base}.any[${i}]`)));
  else if (isNot(c)) out.push(...conditionPaths(c.not, `${base}.not`));
  else if (isComparison(c)) out.push(`${base}.left`, `${base}.op`, `${base}.right`);
  return out;
}

/** One line in words, for a summary (`left contains "outage"`). */
export function describe(c: Condition): string {
  const show = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
  if (isAll(c)) return c.all.map((x) => `(${describe(x)})`).join(" and ") || "always";
  if (isAny(c)) return c.any.map((x) => `(${describe(x)})`).join(" or ") || "never";
  if (isNot(c)) return `not (${describe(c.not)})`;
  const o = operator(c.op);
  return `${show(c.left)} ${o.words}${o.right ? ` ${show(c.right ?? null)}` : ""}`;
}
