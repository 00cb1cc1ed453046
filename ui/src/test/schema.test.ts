import { describe, expect, it } from "vitest";
import type { ProviderInfo } from "../bindings";
import providersJson from "./fixtures/providers.json";
import { fieldsOf, type FieldSpec } from "../lib/schema";

const providers = providersJson as unknown as ProviderInfo[];
const schemaOf = (p: string, a: string) => providers.find((x) => x.name === p)!.actions.find((x) => x.name === a)!.params_schema;
const byName = (fields: FieldSpec[]) => Object.fromEntries(fields.map((f) => [f.name, f]));

describe("form fields from a params schema", () => {
  it("http request: string, enum through $ref, maps, free JSON", () => {
    const fields = fieldsOf(schemaOf("http", "request"));
    const f = byName(fields);
    expect(fields[0].name).toBe("url"); // required first
    expect(f.url).toMatchObject({ kind: "string", required: true });
    expect(f.method).toMatchObject({ kind: "enum", required: false, default: "GET" });
    expect(f.method.options).toEqual(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]);
    expect(f.headers.kind).toBe("map");
    expect(f.query.kind).toBe("map");
    expect(f.body.kind).toBe("json");
    expect(f.body_type).toMatchObject({ kind: "enum", nullable: true, options: ["json", "text", "form"] });
    expect(f.accept_status.kind).toBe("json");
    expect(f.auth.kind).toBe("variant");
    expect(f.auth.nullable).toBe(true);
    expect(f.auth.variants?.map((v) => v.tag)).toEqual(["bearer", "basic", "header", "query"]);
    const header = f.auth.variants?.find((v) => v.tag === "header");
    expect(header?.fields.map((x) => [x.name, x.kind, x.required])).toEqual([["credential", "string", true], ["name", "string", true]]);
  });

  it("chat completion: nullable numbers and integers, long text, booleans", () => {
    const f = byName(fieldsOf(schemaOf("openai", "chat_completion")));
    expect(f.temperature).toMatchObject({ kind: "number", nullable: true, minimum: 0, maximum: 2 });
    expect(f.max_tokens).toMatchObject({ kind: "integer", nullable: true, minimum: 1 });
    expect(f.prompt.kind).toBe("text");
    expect(f.model.kind).toBe("string");
    expect(f.json).toMatchObject({ kind: "boolean", default: false });
    expect(f.messages.kind).toBe("json");
    expect(f.json_schema.kind).toBe("json");
  });

  it("logic and delay actions", () => {
    expect(byName(fieldsOf(schemaOf("delay", "wait"))).seconds).toMatchObject({ kind: "number", required: true, maximum: 86400 });
    const filter = byName(fieldsOf(schemaOf("logic", "filter")));
    expect(filter.where.kind).toBe("json");
    expect(filter.input.kind).toBe("json");
    const assert = byName(fieldsOf(schemaOf("logic", "assert")));
    expect(assert.op).toMatchObject({ kind: "enum", required: true });
    expect(assert.op.options).toContain("starts_with");
    expect(assert.left.kind).toBe("json"); // `true` schema: any JSON
  });

  it("a schema without properties gives no fields", () => {
    expect(fieldsOf(null)).toEqual([]);
    expect(fieldsOf({ type: "object" })).toEqual([]);
  });
});
