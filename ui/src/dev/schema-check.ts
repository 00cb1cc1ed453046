// The UI fake's plan checks, from the one definition: the plan document against
// the JSON Schema generated from the Rust model (../plan-schema.json), and each
// step's params against its action's params schema from the generated providers
// fixture. A development and test tool only: the app's bundle never imports it.
//
// What the fake does NOT check (the engine does): references (forward, self,
// unknown step ids, `${item}` outside a `for_each` step), `when` operators beyond
// their shape, regular expressions, cron expressions and time zones, providers'
// own param checks, warnings. Messages are the validator's, not the engine's.
import Ajv2020, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020";
import type { IssueKind, PlanIssue, ProviderInfo, Value } from "../bindings";
import planSchema from "../plan-schema.json";

const ajv = new Ajv2020({ allErrors: true, strict: false, verbose: true, validateFormats: false });
const validatePlanShape = ajv.compile(planSchema as object);
const paramValidators = new Map<string, ValidateFunction>();

const KINDS: Record<string, IssueKind> = {
  required: "required",
  additionalProperties: "unknown_field",
  type: "wrong_type",
  enum: "not_allowed",
  const: "not_allowed",
  anyOf: "wrong_type",
  oneOf: "wrong_type",
  minLength: "empty",
  minItems: "empty",
  maxLength: "too_large",
  maxItems: "too_large",
  minimum: "out_of_range",
  maximum: "out_of_range",
  exclusiveMinimum: "out_of_range",
  exclusiveMaximum: "out_of_range",
  pattern: "bad_format",
  format: "bad_format",
};

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `/steps/0/params/url` → `steps[0].params.url`. */
function pathOf(pointer: string, base = ""): string {
  let out = base;
  for (const raw of pointer.split("/").slice(1)) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else if (IDENT.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

function join(base: string, key: string): string {
  if (IDENT.test(key)) return base === "" ? key : `${base}.${key}`;
  return `${base}[${JSON.stringify(key)}]`;
}

/** A value that is (or holds) a reference: its type is known only when the plan runs. */
function isReference(v: unknown): boolean {
  return typeof v === "string" && v.includes("${");
}

function under(e: ErrorObject, at: string): boolean {
  return e.instancePath === at || e.instancePath.startsWith(at + "/");
}

/**
 * Errors to report. Ajv reports a failed `anyOf`/`oneOf` after its branches'
 * errors: an optional value (`X` or null) reports X's errors; a real choice of
 * shapes (a condition, a trigger) is one issue at its place, not one per branch.
 */
function relevant(all: ErrorObject[]): ErrorObject[] {
  const dropped = new Set<ErrorObject>();
  all.forEach((u, i) => {
    if (u.keyword !== "anyOf" && u.keyword !== "oneOf") return;
    const branches = Array.isArray(u.schema) ? (u.schema as { type?: unknown }[]) : [];
    const optional = branches.length === 2 && branches.some((b) => b.type === "null");
    for (const e of all.slice(0, i)) {
      if (!under(e, u.instancePath)) continue;
      const nullBranch = e.keyword === "type" && (e.params as { type?: unknown }).type === "null" && e.instancePath === u.instancePath;
      if (!optional || nullBranch) dropped.add(e);
    }
    if (optional) dropped.add(u);
  });
  return all.filter((e) => !dropped.has(e));
}

function toIssues(errors: ErrorObject[] | null | undefined, base = ""): PlanIssue[] {
  const issues: PlanIssue[] = [];
  for (const e of relevant(errors ?? [])) {
    if (e.keyword === "type" && isReference(e.data)) continue;
    let path = pathOf(e.instancePath, base);
    let message = e.message ?? "is not valid";
    if (e.keyword === "required") {
      path = join(path, String((e.params as { missingProperty: string }).missingProperty));
      message = "is required";
    } else if (e.keyword === "additionalProperties") {
      path = join(path, String((e.params as { additionalProperty: string }).additionalProperty));
      message = "is not a field here";
    }
    const kind = KINDS[e.keyword] ?? "wrong_type";
    if (!issues.some((x) => x.path === path && x.kind === kind)) issues.push({ path, kind, message, severity: "error" });
  }
  return issues;
}

function paramsValidator(providers: ProviderInfo[], provider: string, action: string): ValidateFunction | null | undefined {
  const p = providers.find((x) => x.name === provider || x.aliases.includes(provider));
  if (!p) return undefined;
  const a = p.actions.find((x) => x.name === action);
  if (!a) return null;
  const key = `${p.name}.${a.name}`;
  let v = paramValidators.get(key);
  if (!v) {
    v = ajv.compile(a.params_schema as object);
    paramValidators.set(key, v);
  }
  return v;
}

/** Every problem the fake can find in a plan document, located like the engine's. */
export function checkPlan(plan: unknown, providers: ProviderInfo[]): PlanIssue[] {
  const issues = validatePlanShape(plan) ? [] : toIssues(validatePlanShape.errors);
  const steps = (plan as { steps?: unknown })?.steps;
  if (!Array.isArray(steps)) return issues;
  steps.forEach((s, i) => {
    const step = s as { provider?: unknown; action?: unknown; params?: unknown };
    if (typeof step?.provider !== "string" || typeof step.action !== "string") return;
    const v = paramsValidator(providers, step.provider, step.action);
    if (v === undefined) {
      issues.push({ path: `steps[${i}].provider`, kind: "unknown_provider", message: `unknown provider \`${step.provider}\``, severity: "error" });
    } else if (v === null) {
      issues.push({ path: `steps[${i}].action`, kind: "unknown_action", message: `\`${step.provider}\` has no action \`${step.action}\``, severity: "error" });
    } else if (!v(step.params ?? {})) {
      issues.push(...toIssues(v.errors, `steps[${i}].params`));
    }
  });
  return issues;
}

/** Plan text as `check_plan_text` reads it: syntax errors with their line and column. */
export function checkPlanText(text: string, providers: ProviderInfo[]): { plan: Value | null; issues: PlanIssue[] } {
  let value: Value;
  try {
    value = JSON.parse(text) as Value;
  } catch (e) {
    // The engine says where (line and column); the fake only when the JS engine does.
    const message = (e as Error).message;
    const at = /position (\d+)/.exec(message);
    const before = at ? text.slice(0, Number(at[1])).split("\n") : null;
    const where = before ? ` (line ${before.length}, column ${before[before.length - 1].length + 1})` : "";
    return {
      plan: null,
      issues: [{ path: "", kind: "syntax", message: `the plan is not valid JSON${where}: ${message}`, severity: "error" }],
    };
  }
  const issues = checkPlan(value, providers);
  return { plan: validatePlanShape(value) ? value : null, issues };
}
