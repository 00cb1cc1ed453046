// The UI fake checks plans with the generated definitions only: the plan schema
// (ui/src/plan-schema.json, from the Rust model) and the providers fixture's
// params schemas. No rule of its own.
import { describe, expect, it } from "vitest";
import planSchema from "../plan-schema.json";
import { providers, validate } from "../dev/mock-backend";
import { checkPlanText } from "../dev/schema-check";

const kinds = (v: unknown) => validate(v).map((i) => [i.path, i.kind]);

describe("the fake's checks come from the generated schemas", () => {
  it("the plan schema is the generated one, with when and for_each", () => {
    const step = (planSchema as unknown as { $defs: Record<string, { properties: Record<string, unknown> }> }).$defs.StepSpec.properties;
    expect(Object.keys(step)).toEqual(expect.arrayContaining(["when", "for_each", "for_each_options"]));
  });

  it("a valid plan with a condition and a loop passes", () => {
    expect(
      validate({
        name: "ok",
        steps: [
          { id: "fetch", provider: "http", action: "request", params: { url: "http://127.0.0.1:9/x" } },
          {
            provider: "logic", action: "set", params: { value: "${item}" }, for_each: "${steps.fetch.output}",
            for_each_options: { concurrency: 4, on_error: "continue" },
            when: { all: [{ left: "${item}", op: "not_empty" }, { not: { left: "${item_index}", op: "gt", right: 3 } }] },
          },
        ],
      }),
    ).toEqual([]);
  });

  it("locates structural problems like the engine: unknown fields, bad options, bad conditions", () => {
    expect(kinds({ name: "", steps: [] })).toEqual(expect.arrayContaining([["name", "empty"], ["steps", "empty"]]));
    expect(kinds({ name: "x", steps: [{ provider: "http", action: "request", params: { url: "u" }, whenn: {} }] })).toEqual([
      ["steps[0].whenn", "unknown_field"],
    ]);
    expect(
      kinds({ name: "x", steps: [{ provider: "logic", action: "set", params: { value: 1 }, for_each: "${steps.0.output}", for_each_options: { concurrency: 9 } }] }),
    ).toEqual([["steps[0].for_each_options.concurrency", "out_of_range"]]);
    expect(kinds({ name: "x", steps: [{ provider: "logic", action: "set", params: { value: 1 }, when: { left: 1, op: "about" } }] })).toEqual([
      ["steps[0].when", "wrong_type"],
    ]);
  });

  it("checks params against the fixture's schemas; a reference stands for any type", () => {
    expect(providers.find((p) => p.name === "delay")).toBeTruthy();
    expect(kinds({ name: "x", steps: [{ provider: "http", action: "request", params: {} }] })).toEqual([["steps[0].params.url", "required"]]);
    expect(kinds({ name: "x", steps: [{ provider: "delay", action: "wait", params: { seconds: "soon" } }] })).toEqual([
      ["steps[0].params.seconds", "wrong_type"],
    ]);
    expect(kinds({ name: "x", steps: [{ provider: "delay", action: "wait", params: { seconds: "${steps.0.output}" } }] })).toEqual([]);
    expect(kinds({ name: "x", steps: [{ provider: "nope", action: "a", params: {} }] })).toEqual([["steps[0].provider", "unknown_provider"]]);
    expect(kinds({ name: "x", steps: [{ provider: "logic", action: "nope", params: {} }] })).toEqual([["steps[0].action", "unknown_action"]]);
  });

  it("plan text that is not JSON is a syntax issue and no plan", () => {
    const check = checkPlanText('{\n  "name": "x",\n  "steps": [,]\n}', providers);
    expect(check.plan).toBeNull();
    expect(check.issues).toHaveLength(1);
    expect(check.issues[0].kind).toBe("syntax");
  });
});

describe("the fake answers the integration form's calls", () => {
  it("validates, gets, saves and cancels a connection like the commands", async () => {
    const { createMockBackend } = await import("../dev/mock-backend");
    const { commands } = await import("../bindings");
    const backend = createMockBackend();
    backend.install();
    const def = {
      name: "crm", title: "", format_version: 1, base_url: "https://crm.example.com",
      actions: { add: { title: "Add", method: "POST" as const, path: "/add", params: { type: "object" } } },
    };
    const checked = await commands.validateIntegration(def);
    expect(checked.status === "ok" && checked.data.map((i) => [i.path, i.kind])).toEqual([["title", "empty"]]);
    expect((await commands.saveIntegration({ ...def, title: "CRM" })).status).toBe("ok");
    const got = await commands.getIntegration("crm");
    expect(got.status === "ok" && got.data.definition?.title).toBe("CRM");
    // Nothing under way: nothing cancelled.
    const none = await commands.cancelOauthConnect("crm");
    expect(none).toEqual({ status: "ok", data: false });
  });
});
