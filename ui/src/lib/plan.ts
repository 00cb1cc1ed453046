// Helpers around the plan document, whose one definition is the generated
// `PlanFile` / `StepSpec` / `Trigger` of ../bindings (from the Rust model): what
// an unsaved document looks like, what is sent, and where validation issues go.
import type {
  ActionInfo, CronTrigger, IpcError, PlanFile, PlanIssue, ProviderInfo, StepRecord, StepSpec, Trigger, Value,
} from "../bindings";
import { fieldsOf } from "./schema";
import { conditionPaths } from "./conditions";

export type JsonObject = { [key: string]: Value };
export type CronTriggerSpec = Extract<Trigger, { type: "cron" }>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** Stable JSON for comparing documents (key order ignored). */
export function canonical(v: unknown): string {
  return JSON.stringify(sortKeys(v));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (isObject(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) if (v[k] !== undefined) out[k] = sortKeys(v[k]);
    return out;
  }
  return v;
}

export function emptyPlan(): PlanFile {
  return { name: "", description: "", steps: [], status: "draft" };
}

export function newStep(provider = "", action = ""): StepSpec {
  return { provider, action, params: provider === "http" && action === "request" ? { method: "GET", url: "" } : {} };
}

/**
 * Any JSON (a draft, a file that did not validate) as a document the editor can
 * show: the parts the form needs filled in, everything else kept as it is so
 * validation still reports it.
 */
export function toPlanFile(v: unknown): PlanFile {
  const o: JsonObject = isObject(v) ? clone(v) : {};
  // Derived on export; the backend recomputes them.
  delete o.required_providers;
  delete o.plain_english_steps;
  const steps = Array.isArray(o.steps) ? o.steps : [];
  return {
    ...(o as unknown as PlanFile),
    name: typeof o.name === "string" ? o.name : "",
    steps: steps.map((s) => {
      const so: JsonObject = isObject(s) ? s : {};
      return {
        ...(so as unknown as StepSpec),
        provider: typeof so.provider === "string" ? so.provider : "",
        action: typeof so.action === "string" ? so.action : "",
        params: isObject(so.params) ? so.params : {},
      };
    }),
  };
}

/** The document to send: empty optional strings and cleared options dropped. */
export function toWire(doc: PlanFile): PlanFile {
  const out = clone(doc);
  if (typeof out.description === "string" && out.description.trim() === "") delete out.description;
  if (typeof out.original_prompt === "string" && out.original_prompt.trim() === "") delete out.original_prompt;
  for (const s of out.steps) {
    if (typeof s.id === "string" && s.id.trim() === "") delete s.id;
    for (const k of ["id", "retry", "timeout_s", "when", "for_each", "for_each_options"] as const) {
      if (s[k] === null) delete s[k];
    }
  }
  return out;
}

export function findProvider(providers: ProviderInfo[], name: string): ProviderInfo | undefined {
  return providers.find((p) => p.name === name) ?? providers.find((p) => p.aliases.includes(name));
}

export function findAction(providers: ProviderInfo[], provider: string, action: string): ActionInfo | undefined {
  return findProvider(providers, provider)?.actions.find((a) => a.name === action);
}

// ---- issues ----

export function isWarning(issue: PlanIssue): boolean {
  return issue.severity === "warning";
}

/** Whether a field's issues make it invalid (warnings do not). */
export function hasError(issues: PlanIssue[]): boolean {
  return issues.some((i) => !isWarning(i));
}

/** Parse `steps[2].params.url` into ["steps", 2, "params", "url"]. */
export function parsePath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(path))) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(m[3].replace(/\\(.)/g, "$1"));
  }
  return out;
}

export function stepPath(index: number): string {
  return `steps[${index}]`;
}

export function paramPath(index: number, name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `steps[${index}].params.${name}` : `steps[${index}].params["${name}"]`;
}

const STEP_FIELDS = [
  "", ".provider", ".action", ".id", ".params", ".retry", ".timeout_s", ".continue_on_error",
  ".when", ".for_each", ".for_each_options", ".for_each_options.concurrency", ".for_each_options.on_error",
];

/** Every field path the editor renders for this document (issues attach to these). */
export function renderedPaths(doc: PlanFile, providers: ProviderInfo[], extra: string[] = []): Set<string> {
  const paths = new Set<string>(["name", "description", "steps", ...extra]);
  doc.steps.forEach((step, i) => {
    const base = stepPath(i);
    for (const p of STEP_FIELDS) paths.add(base + p);
    if (step.when) for (const p of conditionPaths(step.when, `${base}.when`)) paths.add(p);
    const action = findAction(providers, step.provider, step.action);
    if (action) {
      for (const f of fieldsOf(action.params_schema)) paths.add(paramPath(i, f.name));
    }
  });
  return paths;
}

/** Issues grouped by the deepest rendered field that contains their path; the rest apart. */
export function assignIssues(
  issues: PlanIssue[],
  rendered: Set<string>,
): { byField: Map<string, PlanIssue[]>; general: PlanIssue[] } {
  const byField = new Map<string, PlanIssue[]>();
  const general: PlanIssue[] = [];
  for (const issue of issues) {
    const target = owningField(issue.path, rendered);
    if (target === null) {
      general.push(issue);
    } else {
      const list = byField.get(target) ?? [];
      list.push(issue);
      byField.set(target, list);
    }
  }
  return { byField, general };
}

function owningField(path: string, rendered: Set<string>): string | null {
  if (path === "") return null;
  let best: string | null = null;
  for (const field of rendered) {
    if (path === field || path.startsWith(field + ".") || path.startsWith(field + "[")) {
      if (best === null || field.length > best.length) best = field;
    }
  }
  return best;
}

/** Put `value` at `path` (`params.payload`, `params["x y"][0]`) inside `target`, making objects on the way. */
export function setIn(target: JsonObject, path: (string | number)[], value: Value): void {
  let node: unknown = target;
  path.forEach((seg, i) => {
    const last = i === path.length - 1;
    if (Array.isArray(node) && typeof seg === "number") {
      if (last) node[seg] = value;
      else node = node[seg];
    } else if (isObject(node)) {
      if (last) node[String(seg)] = value;
      else {
        if (!isObject(node[String(seg)]) && !Array.isArray(node[String(seg)])) node[String(seg)] = {};
        node = node[String(seg)];
      }
    }
  });
}

/** What the one-click fix of an issue is called (null: it has none). */
export function fixLabel(issue: PlanIssue): string | null {
  if (issue.fix === undefined || issue.fix === null) return null;
  return issue.kind === "unquoted_reference" ? "Quote it" : "Fix it";
}

/** Issues from testing one step (checked as a one-step plan) moved to that step's index. */
export function relocateStepIssues(issues: PlanIssue[], index: number): PlanIssue[] {
  return issues.map((i) => ({ ...i, path: i.path.replace(/^steps\[0\]/, `steps[${index}]`) }));
}

// ---- text fields that hold any JSON value ----

/** How a free JSON value shows in its text box: strings as they are, the rest as JSON. */
export function jsonToText(v: Value | undefined): string {
  if (v === undefined) return "";
  if (v === "") return "";
  if (typeof v === "string") return parsesAsJson(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v, null, 2);
}

function parsesAsJson(s: string): boolean {
  const t = s.trim();
  if (t === "") return true;
  try {
    JSON.parse(t);
    return true;
  } catch {
    return false;
  }
}

/** The value typed into a JSON box: JSON when it parses, else the text itself. Empty: undefined. */
export function textToJson(text: string): Value | undefined {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as Value;
  } catch {
    return text;
  }
}

/** A number box: a number when it is one, else the text (a reference such as `${steps.0.output}`). */
export function textToNumber(text: string): Value | undefined {
  const t = text.trim();
  if (t === "") return undefined;
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return Number(t);
  return t;
}

export function numberToText(v: Value | undefined): string {
  if (v === undefined || v === null) return "";
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** A step's result in the editor: a test of that step, or its part of a dry run of the plan. */
export type TestState =
  | { running: true }
  | { running: false; record: StepRecord; dryRun?: boolean }
  | { running: false; error: IpcError };

// ---- triggers ----

export function isCron(t: Trigger | undefined | null): t is CronTriggerSpec {
  return !!t && t.type === "cron";
}

/** A cron trigger as `set_schedule` takes it (the same fields, without `type`). */
export function cronOf(t: CronTriggerSpec): CronTrigger {
  return {
    cron_expression: t.cron_expression,
    timezone: t.timezone && t.timezone.trim() !== "" ? t.timezone : null,
    catch_up: t.catch_up ?? "run_once",
    overlap: t.overlap ?? "skip",
  };
}

/** Move `${steps.N…}` references after steps moved: `map[old] = new` (undefined: unchanged). */
export function remapStepRefs<T>(value: T, map: (old: number) => number | undefined): T {
  if (typeof value === "string") {
    return value.replace(/\$\{steps\.(\d+)(?=[.[}])/g, (whole, n: string, offset: number, str: string) => {
      // `$${` is a literal `${`, not a reference.
      if (offset > 0 && str[offset - 1] === "$") return whole;
      const to = map(Number(n));
      return to === undefined ? whole : `\${steps.${to}`;
    }) as T;
  }
  if (Array.isArray(value)) return value.map((v) => remapStepRefs(v, map)) as T;
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = remapStepRefs(v, map);
    return out as T;
  }
  return value;
}

/** A step with its references (params, condition, list) moved by `map`. */
export function remapStep(step: StepSpec, map: (old: number) => number | undefined): StepSpec {
  const s = clone(step);
  s.params = remapStepRefs(s.params ?? {}, map);
  if (s.when) s.when = remapStepRefs(s.when, map);
  if (typeof s.for_each === "string") s.for_each = remapStepRefs(s.for_each, map);
  return s;
}

/** Whether a step refers to step `index` by position anywhere. */
export function refersTo(step: StepSpec, index: number): boolean {
  const text = JSON.stringify([step.params ?? {}, step.when ?? null, step.for_each ?? null]);
  return new RegExp(`\\$\\{steps\\.${index}[.[}]`).test(text);
}
