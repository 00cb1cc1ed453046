// The "New integration" form's view of the one definition type
// (IntegrationDefinition, generated from Rust): it edits that typed document in
// place. Params are shown as a simple list of fields and written back into the
// action's JSON Schema; templates get the references their place allows;
// problems from the backend's validation are placed on the fields, in words.
import type { ActionDefinition, IntegrationAuth, IntegrationDefinition, PlanIssue, Value } from "../bindings";

export type ParamType = "string" | "number" | "integer" | "boolean" | "object" | "array";
export const PARAM_TYPES: { value: ParamType; label: string }[] = [
  { value: "string", label: "Text" },
  { value: "number", label: "Number" },
  { value: "integer", label: "Whole number" },
  { value: "boolean", label: "Yes / no" },
  { value: "object", label: "Object (JSON)" },
  { value: "array", label: "List (JSON)" },
];

/** One param as the form lists it. */
export type ParamRow = { name: string; type: ParamType; required: boolean; description: string };

type Schema = { [key: string]: Value };

export function blankAction(): ActionDefinition {
  return { title: "", method: "POST", path: "/", params: { type: "object", properties: {} } };
}

export function blankDefinition(): IntegrationDefinition {
  return {
    name: "",
    title: "",
    format_version: 1,
    description: "",
    base_url: "https://",
    auth: { type: "none" },
    secrets: {},
    headers: {},
    actions: { new_action: blankAction() },
  };
}

function isObject(v: Value | undefined): v is { [key: string]: Value } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function properties(schema: Schema): { [key: string]: Value } {
  return isObject(schema.properties) ? schema.properties : {};
}

function required(schema: Schema): string[] {
  return Array.isArray(schema.required) ? schema.required.filter((x): x is string => typeof x === "string") : [];
}

/** The params schema as a list of fields. */
export function paramRows(schema: Schema): ParamRow[] {
  const req = required(schema);
  return Object.entries(properties(schema)).map(([name, p]) => {
    const s = isObject(p) ? p : {};
    const type = PARAM_TYPES.some((t) => t.value === s.type) ? (s.type as ParamType) : "string";
    return { name, type, required: req.includes(name), description: typeof s.description === "string" ? s.description : "" };
  });
}

/**
 * The params schema for a list of fields. What the list does not show of a
 * param already in `previous` (a default, an enum) is kept.
 */
export function paramsSchema(rows: ParamRow[], previous: Schema = {}): Schema {
  const before = properties(previous);
  const props: { [key: string]: Value } = {};
  for (const row of rows) {
    const kept = isObject(before[row.name]) ? { ...(before[row.name] as Schema) } : {};
    const p: Schema = { ...kept, type: row.type };
    if (row.description.trim() !== "") p.description = row.description;
    else delete p.description;
    props[row.name] = p;
  }
  const out: Schema = { ...previous, type: "object", properties: props };
  const req = rows.filter((r) => r.required).map((r) => r.name);
  if (req.length > 0) out.required = req;
  else delete out.required;
  return out;
}

/** A fresh name that is not among `taken` (`param`, `param_2`…). */
export function freshName(stem: string, taken: string[]): string {
  if (!taken.includes(stem)) return stem;
  for (let n = 2; ; n++) if (!taken.includes(`${stem}_${n}`)) return `${stem}_${n}`;
}

/** Rename a key of a map, keeping the order of its entries. */
export function renameKey<T>(map: { [key: string]: T }, from: string, to: string): { [key: string]: T } {
  if (from === to) return map;
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k === from ? to : k, v]));
}

/** Where a template sits decides what it may name (as the backend checks it). */
export type Place = "base_url" | "address" | "data";

/** The references a template may use in `place`: `${params.x}` (not in base_url), `${secret.y}` (not in query or body). */
export function references(def: IntegrationDefinition, action: ActionDefinition | null, place: Place): string[] {
  const params = place !== "base_url" && action ? paramRows(action.params).map((r) => `\${params.${r.name}}`) : [];
  const secrets = place !== "data" ? Object.keys(def.secrets ?? {}).map((s) => `\${secret.${s}}`) : [];
  return [...params, ...secrets];
}

/** Insert `text` into `value` at `at` (the end when unknown). */
export function insertAt(value: string, text: string, at: number | null): string {
  const i = at === null || at < 0 || at > value.length ? value.length : at;
  return value.slice(0, i) + text + value.slice(i);
}

/** The secrets an auth kind needs, with a name and label when the form adds them. */
export function authWithDefaults(type: IntegrationAuth["type"], def: IntegrationDefinition): {
  auth: IntegrationAuth;
  secrets: { [key: string]: { label: string } };
} {
  const have = Object.keys(def.secrets ?? {});
  const pick = (name: string, label: string, out: { [key: string]: { label: string } }) => {
    if (!have.includes(name)) out[name] = { label };
    return name;
  };
  const add: { [key: string]: { label: string } } = {};
  switch (type) {
    case "none":
      return { auth: { type: "none" }, secrets: add };
    case "bearer":
      return { auth: { type: "bearer", secret: have[0] ?? pick("token", "API token", add) }, secrets: add };
    case "basic":
      return {
        auth: { type: "basic", username_secret: pick("username", "User name", add), password_secret: pick("password", "Password", add) },
        secrets: add,
      };
    case "api_key":
      return { auth: { type: "api_key", in: "header", name: "X-API-Key", secret: have[0] ?? pick("api_key", "API key", add) }, secrets: add };
    case "oauth2":
      return {
        auth: { type: "oauth2", authorize_url: "https://", token_url: "https://", scopes: [], client_id_secret: pick("client_id", "OAuth client id", add) },
        secrets: add,
      };
  }
}

/** Success statuses as the person types them ("200, 201") and back. */
export function parseStatuses(text: string): number[] | null {
  const parts = text.split(/[\s,]+/).filter((x) => x !== "");
  if (parts.length === 0) return [];
  const out = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  return out.some((n) => Number.isNaN(n)) ? null : out;
}

/** Issues on `path` or below it (`actions.a.body` takes `actions.a.body.parent.id`). */
export function issuesUnder(issues: PlanIssue[], path: string, exact = false): PlanIssue[] {
  return issues.filter((i) => i.path === path || (!exact && (i.path.startsWith(`${path}.`) || i.path.startsWith(`${path}[`))));
}

/** The issues no field of the form shows (they go in a list at the top). */
export function unplaced(issues: PlanIssue[], placed: string[]): PlanIssue[] {
  return issues.filter((i) => !placed.some((p) => i.path === p || i.path.startsWith(`${p}.`) || i.path.startsWith(`${p}[`)));
}

/** A field's name in words, for messages (`actions.send.path` → "the path of action “send”"). */
const WORDS: { [key: string]: string } = {
  name: "The name",
  title: "The title",
  base_url: "The base URL",
  actions: "The actions",
};

/**
 * The message said plainly: the schema checks' generic wording replaced by what
 * to do on the field the form shows.
 */
export function plainMessage(issue: PlanIssue): string {
  const p = issue.path;
  const last = p.split(".").pop() ?? "";
  if (p === "name" && issue.kind === "bad_format") {
    return "Use lowercase letters, digits and _, starting with a letter (like my_crm).";
  }
  if (p === "actions" && issue.kind === "empty") return "Add at least one action.";
  if (issue.kind === "empty" || /^must be at least 1 characters? long$/.test(issue.message)) {
    return `${WORDS[last] ?? "This"} cannot be empty.`;
  }
  if (issue.kind === "required" && issue.message === "is required") return `${WORDS[last] ?? "This"} is required.`;
  if (issue.kind === "unknown_field") return `“${last}” is not a field of the definition.`;
  const text = issue.message;
  return text.charAt(0).toUpperCase() + text.slice(1);
}
