// Turn an action's params JSON Schema (draft 2020-12, as schemars writes it) into
// the list of form fields the step editor renders.
import type { Value } from "../bindings";

export type FieldKind = "string" | "text" | "number" | "integer" | "boolean" | "enum" | "map" | "variant" | "json";

/** One shape of a `variant` field: an object told apart by its `type` (`{"type": "bearer", ...}`). */
export type Variant = { tag: string; description: string; fields: FieldSpec[] };

export type FieldSpec = {
  name: string;
  kind: FieldKind;
  required: boolean;
  description: string;
  /** For `enum`. */
  options: string[];
  /** null is allowed (optional field written as `["string", "null"]`). */
  nullable: boolean;
  default: Value | undefined;
  minimum?: number;
  maximum?: number;
  /** For `variant`: its shapes, by `type`. */
  variants?: Variant[];
};

type Obj = { [key: string]: unknown };

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Follow `$ref: "#/$defs/X"` (and `#/definitions/X`) within the root schema. */
export function deref(schema: unknown, root: unknown, depth = 0): unknown {
  if (!isObj(schema) || typeof schema.$ref !== "string" || depth > 16) return schema;
  const ref = schema.$ref;
  const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  if (!m || !isObj(root)) return schema;
  const defs = root[m[1]];
  const target = isObj(defs) ? defs[decodeURIComponent(m[2])] : undefined;
  if (target === undefined) return schema;
  // Keep the referring schema's own keywords (description, default) over the target's.
  const { $ref: _ignored, ...rest } = schema;
  const resolved = deref(target, root, depth + 1);
  return isObj(resolved) ? { ...resolved, ...rest } : resolved;
}

function isNullSchema(s: unknown): boolean {
  return isObj(s) && (s.type === "null" || (Array.isArray(s.type) && s.type.length === 1 && s.type[0] === "null"));
}

/** Strip "or null" from a schema: `anyOf: [X, {type: null}]` and `type: [X, "null"]`. */
export function unwrapNullable(schema: unknown, root: unknown): { schema: unknown; nullable: boolean } {
  let s = deref(schema, root);
  let nullable = false;
  for (let i = 0; i < 4 && isObj(s); i++) {
    const branches = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
    if (Array.isArray(branches)) {
      const nonNull = branches.filter((b) => !isNullSchema(deref(b, root)));
      if (nonNull.length < branches.length) nullable = true;
      if (nonNull.length === 1) {
        const { anyOf: _a, oneOf: _o, ...rest } = s;
        const inner = deref(nonNull[0], root);
        s = isObj(inner) ? { ...inner, ...rest, description: rest.description ?? inner.description } : inner;
        continue;
      }
    }
    break;
  }
  if (isObj(s) && Array.isArray(s.type)) {
    const types = (s.type as unknown[]).filter((t) => t !== "null");
    if (types.length < s.type.length) nullable = true;
    s = { ...s, type: types.length === 1 ? types[0] : types };
  }
  return { schema: s, nullable };
}

const SCALAR = new Set(["string", "number", "integer", "boolean"]);

function isScalarSchema(s: unknown, root: unknown): boolean {
  const { schema } = unwrapNullable(s, root);
  if (!isObj(schema)) return false;
  if (Array.isArray(schema.enum)) return true;
  const t = schema.type;
  if (typeof t === "string") return SCALAR.has(t);
  if (Array.isArray(t)) return t.length > 0 && t.every((x) => typeof x === "string" && SCALAR.has(x));
  return false;
}

/** Names that hold longer text: a textarea rather than one line. */
const LONG_TEXT = /^(prompt|template|system|text|content|message|body|description|query_text)$/;

export function classify(name: string, raw: unknown, root: unknown): { kind: FieldKind; nullable: boolean; schema: Obj } {
  const { schema, nullable } = unwrapNullable(raw, root);
  if (!isObj(schema)) return { kind: "json", nullable, schema: {} };
  const s = schema;
  if (variantsOf(s, root)) return { kind: "variant", nullable, schema: s };
  if (Array.isArray(s.enum) && s.enum.length > 0 && s.enum.every((v) => typeof v === "string")) {
    return { kind: "enum", nullable, schema: s };
  }
  if (typeof s.const === "string") return { kind: "enum", nullable, schema: { ...s, enum: [s.const] } };
  switch (s.type) {
    case "string":
      return { kind: LONG_TEXT.test(name) ? "text" : "string", nullable, schema: s };
    case "integer":
      return { kind: "integer", nullable, schema: s };
    case "number":
      return { kind: "number", nullable, schema: s };
    case "boolean":
      return { kind: "boolean", nullable, schema: s };
    case "object":
      if (!isObj(s.properties) && s.additionalProperties !== undefined && s.additionalProperties !== true &&
        s.additionalProperties !== false && isScalarSchema(s.additionalProperties, root)) {
        return { kind: "map", nullable, schema: s };
      }
      return { kind: "json", nullable, schema: s };
    default:
      return { kind: "json", nullable, schema: s };
  }
}

/** The branches of a `oneOf`/`anyOf` of objects each with a constant `type`, as form fields; null if it is not that. */
export function variantsOf(s: Obj, root: unknown): Variant[] | null {
  const branches = (s.oneOf ?? s.anyOf) as unknown[] | undefined;
  if (!Array.isArray(branches) || branches.length < 2) return null;
  const out: Variant[] = [];
  for (const b of branches) {
    const o = deref(b, root);
    if (!isObj(o) || !isObj(o.properties)) return null;
    const tag = isObj(o.properties.type) ? o.properties.type.const : undefined;
    if (typeof tag !== "string") return null;
    const { type: _t, ...rest } = o.properties;
    const required = Array.isArray(o.required) ? (o.required as string[]).filter((r) => r !== "type") : [];
    out.push({
      tag,
      description: String(o.description ?? ""),
      fields: fieldsOf({ type: "object", properties: rest, required, $defs: isObj(root) ? root.$defs : undefined } as Value),
    });
  }
  return out;
}

/** The order fields appear in: the ones a person fills first, then the schema's order. */
const PRIORITY = [
  "method", "url", "input", "path", "all", "template", "prompt", "messages", "system", "model", "base_url",
  "temperature", "max_tokens", "json", "payload", "headers", "query", "body", "body_type", "auth",
  "accept_status", "value", "left", "op", "right", "message", "where", "seconds", "credential", "username", "name",
];

export function fieldsOf(paramsSchema: Value | undefined): FieldSpec[] {
  if (!isObj(paramsSchema)) return [];
  const root = paramsSchema;
  const props = isObj(root.properties) ? root.properties : {};
  const required = new Set(Array.isArray(root.required) ? (root.required as string[]) : []);
  const names = Object.keys(props);
  const rank = (n: string) => {
    const i = PRIORITY.indexOf(n);
    return i < 0 ? PRIORITY.length + names.indexOf(n) : i;
  };
  names.sort((a, b) => Number(required.has(b)) - Number(required.has(a)) || rank(a) - rank(b));
  return names.map((name) => {
    const raw = props[name];
    const { kind, nullable, schema } = classify(name, raw, root);
    const outer = isObj(raw) ? raw : {};
    const description = String(outer.description ?? schema.description ?? "");
    const spec: FieldSpec = {
      name,
      kind,
      required: required.has(name),
      description,
      options: kind === "enum" ? (schema.enum as string[]) : [],
      nullable,
      default: ("default" in outer ? outer.default : schema.default) as Value | undefined,
    };
    if (kind === "variant") spec.variants = variantsOf(schema, root) ?? [];
    if (typeof schema.minimum === "number") spec.minimum = schema.minimum;
    if (typeof schema.maximum === "number") spec.maximum = schema.maximum;
    return spec;
  });
}
