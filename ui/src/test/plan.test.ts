import { describe, expect, it } from "vitest";
import type { PlanIssue, ProviderInfo } from "../bindings";
import providersJson from "./fixtures/providers.json";
import {
  assignIssues, jsonToText, parsePath, relocateStepIssues, remapStepRefs, renderedPaths, textToJson, textToNumber, toPlanFile,
} from "../lib/plan";
import { insertAt, refOptions } from "../lib/refs";

const providers = providersJson as unknown as ProviderInfo[];
const issue = (path: string, message: string): PlanIssue => ({ path, kind: "invalid_param", message, severity: "error" });

describe("issues go to the field that renders them", () => {
  const doc = toPlanFile({
    name: "x",
    steps: [
      { provider: "http", action: "request", params: {} },
      { provider: "webhook", action: "post_request", params: { payload: {} } },
    ],
  });
  const rendered = renderedPaths(doc, providers, ["trigger.cron_expression"]);

  it("exact and nested paths find the deepest rendered field", () => {
    const { byField, general } = assignIssues(
      [
        issue("steps[0].params.url", "is required"),
        issue("steps[1].params.payload.text", "bad"),
        issue("steps[1].params", "unknown param `foo`"),
        issue("name", "must not be empty"),
        issue("trigger.cron_expression", "6 fields"),
        issue("nonsense", "unknown field"),
        issue("", "whole plan"),
      ],
      rendered,
    );
    expect(byField.get("steps[0].params.url")?.[0].message).toBe("is required");
    expect(byField.get("steps[1].params.payload")?.[0].path).toBe("steps[1].params.payload.text");
    expect(byField.get("steps[1].params")?.[0].message).toContain("foo");
    expect(byField.get("name")).toHaveLength(1);
    expect(byField.get("trigger.cron_expression")).toHaveLength(1);
    expect(general.map((i) => i.path)).toEqual(["nonsense", ""]);
  });

  it("a step tested alone reports at steps[0]: moved to its index", () => {
    expect(relocateStepIssues([issue("steps[0].params.url", "m")], 3)[0].path).toBe("steps[3].params.url");
  });

  it("parses paths", () => {
    expect(parsePath('steps[2].params["a b"].c')).toEqual(["steps", 2, "params", "a b", "c"]);
  });
});

describe("values typed into fields", () => {
  it("JSON boxes take JSON, else text", () => {
    expect(textToJson('{"a": 1}')).toEqual({ a: 1 });
    expect(textToJson("${steps.0.output}")).toBe("${steps.0.output}");
    expect(textToJson("  ")).toBeUndefined();
    expect(jsonToText("hello")).toBe("hello");
    expect(jsonToText("123")).toBe('"123"'); // a string that looks like JSON keeps its quotes
    expect(jsonToText({ a: 1 })).toBe('{\n  "a": 1\n}');
  });

  it("number boxes take numbers or references", () => {
    expect(textToNumber("2.5")).toBe(2.5);
    expect(textToNumber("${steps.0.output}")).toBe("${steps.0.output}");
    expect(textToNumber("")).toBeUndefined();
  });
});

describe("references", () => {
  it("lists the output and paths into it with previews", () => {
    const opts = refOptions(0, { items: [{ title: "Hello", "odd key": 1 }] });
    expect(opts.map((o) => o.ref)).toEqual([
      "${steps.0.output}",
      "${steps.0.output.items}",
      "${steps.0.output.items[0]}",
      "${steps.0.output.items[0].title}",
      '${steps.0.output.items[0]["odd key"]}',
    ]);
    expect(opts[3].preview).toBe('"Hello"');
    expect(refOptions(2, undefined)).toEqual([{ ref: "${steps.2.output}", label: "output", preview: null, depth: 0 }]);
  });

  it("inserts at the caret", () => {
    expect(insertAt("Hello !", "${steps.0.output}", 6, 6)).toEqual({ value: "Hello ${steps.0.output}!", caret: 23 });
    expect(insertAt("abc", "X", null, null).value).toBe("abcX");
  });

  it("follows steps that moved, and leaves literals alone", () => {
    const moved = remapStepRefs({ a: "${steps.0.output} and ${steps.1.output.x}", b: ["$${steps.0.output}"] }, (old) => (old === 0 ? 1 : old === 1 ? 0 : undefined));
    expect(moved).toEqual({ a: "${steps.1.output} and ${steps.0.output.x}", b: ["$${steps.0.output}"] });
  });
});
