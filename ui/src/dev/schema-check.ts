// The UI fake's plan checks, from the one definition: the plan document against
// the JSON Schema generated from the Rust model (../plan-schema.json), and each
// step's params against its action's params schema from the generated providers
// fixture. A development and test tool only: the app's bundle never imports it.
//
// What the fake does NOT check (the engine does): references (forward, self,
// unknown step ids, `${item}` outside a `for_each` step), `when` operators beyond
// their shape, regular expressions, cron expressions and time zones, providers'
// own param checks, warnings. Messages are the validator's, not the engine's.
import { Validator, type OutputUnit, type Schema } from "@cfworker/json-schema";
import type { IssueKind, PlanIssue, ProviderInfo, Value } from "../bindings";
import planSchema from "../plan-schema.json";
import integrationSchema from "../integration-schema.json";

// An interpreting validator (no code generation, so no eval: the mock page runs
// under the app's CSP, which has no 'unsafe-eval').
const plan = new Validator(planSchema as unknown as Schema, "2020-12", false);
const integration = new Validator(integrationSchema as unknown as Schema, "2020-12", false);
const paramValidators = new Map<string, { validator: Validator; schema: Schema }>();

const KINDS: Record<string, IssueKind> = {
  required: "required",
  false: "unknown_field",
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

/** Errors that only say "something below failed". */
const SUMMARIES = new Set(["properties", "items", "$ref", "allOf", "additionalProperties", "prefixItems", "contains"]);

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function segments(pointer: string): string[] {
  return pointer.replace(/^#/, "").split("/").slice(1).map((x) => x.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** `#/steps/0/params/url` → `steps[0].params.url`. */
function pathOf(pointer: string, base = ""): string {
  let out = base;
  for (const seg of segments(pointer)) {
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

type Node = { [k: string]: unknown };
const isNode = (v: unknown): v is Node => typeof v === "object" && v !== null && !Array.isArray(v);

/** The value at a JSON pointer in `data`. */
function at(data: unknown, pointer: string): unknown {
  let v = data;
  for (const seg of segments(pointer)) v = Array.isArray(v) ? v[Number(seg)] : isNode(v) ? v[seg] : undefined;
  return v;
}

/** The schema at a keyword location (`#/properties/steps/items/$ref/required`), following `$ref`s. */
function schemaAt(root: Schema, location: string): unknown {
  let v: unknown = root;
  for (const seg of segments(location)) {
    if (seg === "$ref" && isNode(v) && typeof v.$ref === "string") {
      v = at(root, v.$ref);
      continue;
    }
    v = Array.isArray(v) ? v[Number(seg)] : isNode(v) ? v[seg] : undefined;
  }
  return v;
}

/** A value that holds a reference: its type is known only when the plan runs. */
function isReference(v: unknown): boolean {
  return typeof v === "string" && v.includes("${");
}

/**
 * Errors to report: the failing keywords themselves, not the "something below
 * failed" summaries. An optional value (`X` or null) reports X's errors; a real
 * choice of shapes (a condition, a trigger) is one issue at its place.
 */
function relevant(all: OutputUnit[], root: Schema): OutputUnit[] {
  const dropped = new Set<OutputUnit>();
  for (const u of all) {
    if (u.keyword !== "anyOf" && u.keyword !== "oneOf") continue;
    const branches = schemaAt(root, u.keywordLocation);
    const list = Array.isArray(branches) ? branches.map((b) => (isNode(b) && typeof b.$ref === "string" ? at(root, b.$ref) : b)) : [];
    const nullAt = list.findIndex((b) => isNode(b) && b.type === "null");
    const optional = list.length === 2 && nullAt >= 0;
    for (const e of all) {
      if (e === u || !e.keywordLocation.startsWith(u.keywordLocation + "/")) continue;
      const branch = Number(e.keywordLocation.slice(u.keywordLocation.length + 1).split("/")[0]);
      if (!optional || branch === nullAt) dropped.add(e);
    }
    if (optional) dropped.add(u);
  }
  // A field that is not in the schema: `additionalProperties`, then a `false` at the
  // field (whose location is the instance's): they go or stay together.
  all.forEach((e, i) => {
    const next = all[i + 1];
    if (e.keyword === "additionalProperties" && next?.keyword === "false" && dropped.has(e)) dropped.add(next);
  });
  return all.filter((e) => !dropped.has(e) && !SUMMARIES.has(e.keyword));
}

function toIssues(errors: OutputUnit[], data: unknown, root: Schema, base = ""): PlanIssue[] {
  const issues: PlanIssue[] = [];
  const add = (path: string, kind: IssueKind, message: string) => {
    if (!issues.some((x) => x.path === path && x.kind === kind)) issues.push({ path, kind, message, severity: "error" });
  };
  for (const e of relevant(errors, root)) {
    const value = at(data, e.instanceLocation);
    if (e.keyword === "type" && isReference(value)) continue;
    const path = pathOf(e.instanceLocation, base);
    if (e.keyword === "required") {
      // Which ones: the schema's list less what the value has (not read from the message).
      const required = schemaAt(root, e.keywordLocation);
      for (const name of Array.isArray(required) ? required : []) {
        if (!isNode(value) || !(String(name) in value)) add(join(path, String(name)), "required", "is required");
      }
    } else if (e.keyword === "false") {
      add(path, "unknown_field", "is not a field here");
    } else {
      add(path, KINDS[e.keyword] ?? "wrong_type", e.error);
    }
  }
  return issues;
}

function paramsValidator(providers: ProviderInfo[], provider: string, action: string) {
  const p = providers.find((x) => x.name === provider || x.aliases.includes(provider));
  if (!p) return undefined;
  const a = p.actions.find((x) => x.name === action);
  if (!a) return null;
  const key = `${p.name}.${a.name}`;
  let v = paramValidators.get(key);
  if (!v) {
    const schema = a.params_schema as unknown as Schema;
    v = { validator: new Validator(schema, "2020-12", false), schema };
    paramValidators.set(key, v);
  }
  return v;
}

/** Every problem the fake can find in a plan document, located like the engine's. */
export function checkPlan(doc: unknown, providers: ProviderInfo[]): PlanIssue[] {
  const result = plan.validate(doc);
  const issues = result.valid ? [] : toIssues(result.errors, doc, planSchema as unknown as Schema);
  const steps = (doc as { steps?: unknown })?.steps;
  if (!Array.isArray(steps)) return issues;
  steps.forEach((s, i) => {
    const step = s as { provider?: unknown; action?: unknown; params?: unknown };
    if (typeof step?.provider !== "string" || typeof step.action !== "string") return;
    const v = paramsValidator(providers, step.provider, step.action);
    if (v === undefined) {
      issues.push({ path: `steps[${i}].provider`, kind: "unknown_provider", message: `unknown provider \`${step.provider}\``, severity: "error" });
    } else if (v === null) {
      issues.push({ path: `steps[${i}].action`, kind: "unknown_action", message: `\`${step.provider}\` has no action \`${step.action}\``, severity: "error" });
    } else {
      const params = step.params ?? {};
      const checked = v.validator.validate(params);
      if (!checked.valid) issues.push(...toIssues(checked.errors, params, v.schema, `steps[${i}].params`));
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
  return { plan: plan.validate(value).valid ? value : null, issues };
}

/**
 * Integration definition text as `check_integration_text` reads it: the
 * generated schema's problems, located, and a name that is a provider's that
 * comes with Flowpilot. Not the engine's other checks (templates, secrets named
 * but not declared, the auth's secrets).
 */
export function checkIntegrationText(text: string, reserved: string[]): { definition: Value | null; issues: PlanIssue[] } {
  let value: Value;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, "")) as Value;
  } catch (e) {
    const message = (e as Error).message;
    const at = /position (\d+)/.exec(message);
    const before = at ? text.slice(0, Number(at[1])).split("\n") : null;
    const where = before ? ` (line ${before.length}, column ${before[before.length - 1].length + 1})` : "";
    return {
      definition: null,
      issues: [{ path: "", kind: "syntax", message: `the definition is not valid JSON${where}: ${message}`, severity: "error" }],
    };
  }
  const result = integration.validate(value);
  const issues = result.valid ? [] : toIssues(result.errors, value, integrationSchema as unknown as Schema);
  const name = (value as { name?: unknown })?.name;
  if (typeof name === "string" && reserved.includes(name)) {
    issues.push({ path: "name", kind: "not_allowed", message: `\`${name}\` is the name of a provider that comes with Flowpilot; choose another`, severity: "error" });
  }
  return { definition: result.valid ? value : null, issues };
}
