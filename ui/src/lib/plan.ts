// The plan document as the editor holds it (the plan file format), and helpers
// to place validation issues on the fields that render them.
import type { CronTrigger, IpcError, Issue, Provider, StepRecord, Value } from "../bindings";
import { fieldsOf } from "./schema";

export type JsonObject = { [key: string]: Value };

export type StepDoc = {
  id?: string;
  provider: string;
  action: string;
  params: JsonObject;
  retry?: Value;
  timeout_s?: Value;
  continue_on_error?: boolean;
  [key: string]: Value | undefined;
};

export type CronTriggerDoc = {
  type: "cron";
  cron_expression: string;
  timezone?: string | null;
  catch_up?: "skip" | "run_once" | "run_all";
  overlap?: "skip" | "queue_one" | "allow";
};

export type TriggerDoc = { type: "manual" } | CronTriggerDoc;

export type PlanDoc = {
  name: string;
  description?: string;
  original_prompt?: string;
  steps: StepDoc[];
  trigger?: TriggerDoc;
  status?: "draft" | "active" | "archived";
  [key: string]: unknown;
};

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

export function emptyPlan(): PlanDoc {
  return { name: "", description: "", steps: [newStep()], status: "draft" };
}

export function newStep(provider = "http", action = "request"): StepDoc {
  return { provider, action, params: provider === "http" && action === "request" ? { method: "GET", url: "" } : {} };
}

/** Any JSON value as a plan document the editor can show (missing parts filled in). */
export function toPlanDoc(v: unknown): PlanDoc {
  const o: JsonObject = isObject(v) ? clone(v) : {};
  const steps = Array.isArray(o.steps) ? o.steps : [];
  const doc = { ...o } as PlanDoc;
  doc.name = typeof o.name === "string" ? o.name : "";
  doc.steps = steps.map((s) => {
    const so: JsonObject = isObject(s) ? s : {};
    return {
      ...so,
      provider: typeof so.provider === "string" ? so.provider : "",
      action: typeof so.action === "string" ? so.action : "",
      params: isObject(so.params) ? so.params : {},
    } as StepDoc;
  });
  // Derived on export; the backend recomputes them.
  delete doc.required_providers;
  delete doc.plain_english_steps;
  return doc;
}

/** The document to send: empty optional strings dropped. */
export function toWire(doc: PlanDoc): Value {
  const out = clone(doc) as JsonObject;
  for (const k of ["description", "original_prompt"]) {
    if (typeof out[k] === "string" && (out[k] as string).trim() === "") delete out[k];
  }
  if (Array.isArray(out.steps)) {
    for (const s of out.steps) {
      if (isObject(s) && typeof s.id === "string" && s.id.trim() === "") delete s.id;
    }
  }
  return out;
}

export function findProvider(providers: Provider[], name: string): Provider | undefined {
  return providers.find((p) => p.name === name) ?? providers.find((p) => p.aliases.includes(name));
}

export function findAction(providers: Provider[], provider: string, action: string) {
  return findProvider(providers, provider)?.actions.find((a) => a.name === action);
}

// ---- where issues go ----

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

/** Every field path the editor renders for this document (issues attach to these). */
export function renderedPaths(doc: PlanDoc, providers: Provider[], extra: string[] = []): Set<string> {
  const paths = new Set<string>(["name", "description", "steps", ...extra]);
  doc.steps.forEach((step, i) => {
    const base = stepPath(i);
    for (const p of ["", ".provider", ".action", ".id", ".params", ".retry", ".timeout_s", ".continue_on_error"]) {
      paths.add(base + p);
    }
    const action = findAction(providers, step.provider, step.action);
    if (action) {
      for (const f of fieldsOf(action.paramsSchema)) paths.add(paramPath(i, f.name));
    }
  });
  return paths;
}

/** Issues grouped by the deepest rendered field that contains their path; the rest apart. */
export function assignIssues(issues: Issue[], rendered: Set<string>): { byField: Map<string, Issue[]>; general: Issue[] } {
  const byField = new Map<string, Issue[]>();
  const general: Issue[] = [];
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

/** Issues from testing one step (checked as a one-step plan) moved to that step's index. */
export function relocateStepIssues(issues: Issue[], index: number): Issue[] {
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

/** "Test step": under way, or its record, or why it could not run. */
/** A step's result in the editor: a test of that step, or its part of a dry run of the plan. */
export type TestState =
  | { running: true }
  | { running: false; record: StepRecord; dryRun?: boolean }
  | { running: false; error: IpcError };

// ---- triggers: the plan file's snake_case and the commands' camelCase ----

export function toCronTrigger(t: CronTriggerDoc): CronTrigger {
  return {
    cronExpression: t.cron_expression,
    timezone: t.timezone && t.timezone.trim() !== "" ? t.timezone : null,
    catchUp: t.catch_up ?? "run_once",
    overlap: t.overlap ?? "skip",
  };
}

export function isCron(t: TriggerDoc | undefined | null): t is CronTriggerDoc {
  return !!t && t.type === "cron";
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
