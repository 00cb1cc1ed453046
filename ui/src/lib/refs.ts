// References the picker offers: `${steps.N.output}` and paths into an earlier
// step's result, and in a `for_each` step `${item…}` and `${item_index}`, with a
// preview of the value they would take (from a test, a dry run or the last run).
//
// Only what the engine resolves is offered: paths go into JSON values, never
// into text. An output that is text holding JSON (a language model's reply) is
// offered whole, with the suggestion to parse it with a `logic.json_parse` step.
import type { Value } from "../bindings";
import { isObject, parsePath } from "./plan";

export type RefOption = {
  /** The text inserted: `${steps.0.output.items[0].title}`. */
  ref: string;
  /** The path shown in the list: `output.items[0].title`. */
  label: string;
  /** The value it had, as short text; null when there is nothing to show. */
  preview: string | null;
  depth: number;
  /** The value it had (undefined: not known). */
  value?: Value;
};

/** A group of the picker: an earlier step's result, or the item of a `for_each` step. */
export type RefGroup = {
  key: string;
  title: string;
  /** Where the previews come from; null when there is no result yet. */
  source: string | null;
  options: RefOption[];
  /** The output is text holding JSON: paths into it need a parse step first. */
  jsonText?: boolean;
  /** Insert a `logic.json_parse` step after this one (for `jsonText`). */
  parse?: () => void;
  /** What to say when there are no values yet (the default speaks of earlier steps). */
  empty?: string;
};

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function keySegment(key: string): string {
  return IDENT.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** A reference to an earlier step's output: by its id when it has one (ids survive reordering), else its index. */
export function refFor(step: number | string, path = ""): string {
  return `\${steps.${step}.output${path}}`;
}

/** How a step is named in references: its id when it has a usable one, else its index. */
export function stepName(index: number, id: unknown): number | string {
  return typeof id === "string" && /^[A-Za-z0-9_-]+$/.test(id.trim()) && !/^\d+$/.test(id.trim()) ? id.trim() : index;
}

/**
 * What to say when `step` (at `index`) uses an earlier step that has no result
 * to test with ("test step 1 first"); null when every input has one.
 * `indexOfId` finds a step by id; `hasResult` says whether step j has a result.
 */
export function testFirst(step: unknown, index: number, indexOfId: (id: string) => number, hasResult: (j: number) => boolean): string | null {
  const untested = new Set<number>();
  for (const name of referencedSteps(step)) {
    const j = /^\d+$/.test(name) ? Number(name) : indexOfId(name);
    if (j >= 0 && j < index && !hasResult(j)) untested.add(j);
  }
  if (untested.size === 0) return null;
  const names = [...untested].sort((a, b) => a - b).map((j) => `step ${j + 1}`);
  return `This step uses the output of ${names.join(" and ")}, which has no result yet: test ${names[0]} first.`;
}

/** The earlier steps (ids or indexes, as written) that `value` refers to with `${steps.X…}`. */
export function referencedSteps(value: unknown, out = new Set<string>()): Set<string> {
  if (typeof value === "string") {
    for (const m of value.matchAll(/(^|[^$])\$\{steps\.([A-Za-z0-9_-]+)/g)) out.add(m[2]);
  } else if (Array.isArray(value)) {
    for (const v of value) referencedSteps(v, out);
  } else if (value !== null && typeof value === "object") {
    for (const v of Object.values(value)) referencedSteps(v, out);
  }
  return out;
}

export function previewText(v: Value | undefined, max = 80): string {
  if (v === undefined) return "";
  const s = JSON.stringify(v);
  return s.length > max ? s.slice(0, max - 1) + "…" : s;
}

/** Text that parses as a JSON object or list: the engine keeps it as text. */
export function holdsJson(v: Value | undefined): boolean {
  if (typeof v !== "string") return false;
  const t = v.trim();
  if (!((t.startsWith("{") && t.endsWith("}")) || (t.startsWith("[") && t.endsWith("]")))) return false;
  try {
    JSON.parse(t);
    return true;
  } catch {
    return false;
  }
}

/** Paths into a value: objects' keys and the first item of lists, a few levels deep. */
function walk(
  value: Value | undefined,
  make: (path: string) => string,
  root: string,
  out: RefOption[],
  limit: number,
  maxDepth: number,
  path = "",
  depth = 1,
): void {
  if (depth > maxDepth || out.length >= limit) return;
  if (Array.isArray(value)) {
    if (value.length === 0) return;
    const p = `${path}[0]`;
    out.push({ ref: make(p), label: `${root}${p}`, preview: previewText(value[0]), depth, value: value[0] });
    walk(value[0], make, root, out, limit, maxDepth, p, depth + 1);
  } else if (isObject(value)) {
    for (const key of Object.keys(value)) {
      if (out.length >= limit) return;
      const p = path + keySegment(key);
      out.push({ ref: make(p), label: `${root}${p}`, preview: previewText(value[key]), depth, value: value[key] });
      walk(value[key], make, root, out, limit, maxDepth, p, depth + 1);
    }
  }
}

/**
 * The references a step can insert for an earlier step: the whole output, then
 * paths into it. Text is never looked into, even when it holds JSON.
 */
export function refOptions(step: number | string, output: Value | undefined, limit = 40, maxDepth = 3): RefOption[] {
  const options: RefOption[] = [
    { ref: refFor(step), label: "output", preview: output === undefined ? null : previewText(output), depth: 0, value: output },
  ];
  walk(output, (p) => refFor(step, p), "output", options, limit, maxDepth);
  return options;
}

/**
 * References into any value of the run's scope (`trigger.item`): the whole, then
 * paths into it, previewed with `value` when known.
 */
export function refsInto(root: string, value: Value | undefined, limit = 40, maxDepth = 3): RefOption[] {
  const options: RefOption[] = [
    { ref: `\${${root}}`, label: root, preview: value === undefined ? null : previewText(value), depth: 0, value },
  ];
  walk(value, (p) => `\${${root}${p}}`, root, options, limit, maxDepth);
  return options;
}

/** Inside a `for_each` step: the item (and paths into a sample item) and its index. */
export function itemOptions(sample: Value | undefined, limit = 30, maxDepth = 2): RefOption[] {
  const options: RefOption[] = [
    { ref: "${item}", label: "item", preview: sample === undefined ? null : previewText(sample), depth: 0, value: sample },
  ];
  walk(sample, (p) => `\${item${p}}`, "item", options, limit, maxDepth);
  options.push({ ref: "${item_index}", label: "item_index", preview: "0, 1, 2…", depth: 0 });
  return options;
}

/** Options that can be a `for_each` list: lists, and values not known yet. */
export function listOptions(options: RefOption[]): RefOption[] {
  return options.filter((o) => o.value === undefined || Array.isArray(o.value));
}

/**
 * The value an earlier-step reference (`${steps.fetch.output.items}`) had, from
 * `outputOf(step index or id)`; undefined when unknown or not a plain reference.
 */
export function sampleOf(ref: string, outputOf: (step: string) => Value | undefined): Value | undefined {
  const m = /^\s*\$\{steps\.([A-Za-z0-9_-]+)\.output([^}]*)\}\s*$/.exec(ref);
  if (!m) return undefined;
  let v = outputOf(m[1]);
  for (const seg of parsePath(m[2])) {
    if (v === undefined || v === null) return undefined;
    if (typeof seg === "number") v = Array.isArray(v) ? v[seg] : undefined;
    else v = isObject(v) ? v[seg] : undefined;
  }
  return v;
}

/** Insert `text` into `value` over the selection [start, end). */
export function insertAt(value: string, text: string, start: number | null, end: number | null): { value: string; caret: number } {
  const s = start ?? value.length;
  const e = end ?? s;
  return { value: value.slice(0, s) + text + value.slice(e), caret: s + text.length };
}
