// The editor's state module on its own: keyed steps, dirty tracking, reordering
// and removing with references and keys following their steps, validation after a
// pause, and raw JSON read by the backend.
import { describe, expect, it } from "vitest";
import { waitFor } from "@testing-library/svelte";
import { PlanEditing } from "../lib/editing.svelte";
import type { PlanFile } from "../bindings";
import { createMockBackend, waitForCall } from "./helpers";

const PLAN: PlanFile = {
  name: "Three steps",
  steps: [
    { id: "fetch", provider: "http", action: "request", params: { method: "GET", url: "http://127.0.0.1:9/a" } },
    { provider: "logic", action: "extract", params: { input: "${steps.0.output}", path: "$.a" } },
    { provider: "logic", action: "set", params: { value: "${steps.1.output}" }, when: { left: "${steps.0.output}", op: "not_empty" } },
  ],
};

async function loaded() {
  const backend = createMockBackend({ plans: [PLAN] });
  backend.install();
  const ed = new PlanEditing();
  await ed.load(backend.state.plans[0].id);
  return { backend, ed };
}

describe("PlanEditing", () => {
  it("a loaded plan is clean; an edit makes it dirty and undoing it clean again", async () => {
    const { ed } = await loaded();
    expect(ed.steps).toHaveLength(3);
    expect(ed.dirty).toBe(false);
    ed.editMeta((m) => (m.name = "Renamed"));
    expect(ed.dirty).toBe(true);
    ed.editMeta((m) => (m.name = "Three steps"));
    expect(ed.dirty).toBe(false);
    // An emptied optional field is not a change.
    ed.editMeta((m) => (m.description = ""));
    expect(ed.dirty).toBe(false);
    ed.editStep(0, (s) => (s.id = "get"));
    expect(ed.dirty).toBe(true);
    ed.discard();
    expect(ed.dirty).toBe(false);
    expect(ed.doc.steps[0].id).toBe("fetch");
  });

  it("every step has its own key; moving a step keeps keys and references with it", async () => {
    const { ed } = await loaded();
    const keys = ed.steps.map((s) => s.key);
    expect(new Set(keys).size).toBe(3);
    expect(ed.moveStep(2, 0)).toBe(true);
    expect(ed.steps.map((s) => s.key)).toEqual([keys[2], keys[0], keys[1]]);
    // The moved step's references follow the steps they name (params and condition).
    expect(ed.doc.steps[0].params).toEqual({ value: "${steps.2.output}" });
    expect(ed.doc.steps[0].when).toEqual({ left: "${steps.1.output}", op: "not_empty" });
    expect(ed.doc.steps[2].params?.input).toBe("${steps.1.output}");
    expect(ed.moveStep(0, 5)).toBe(false);
    ed.moveStep(0, 2);
    expect(ed.steps.map((s) => s.key)).toEqual(keys);
    expect(ed.dirty).toBe(false);
  });

  it("adding before and removing a step keeps keys and shifts references", async () => {
    const { ed } = await loaded();
    const keys = ed.steps.map((s) => s.key);
    const added = ed.addStep({ provider: "delay", action: "wait", params: { seconds: 0 } }, 1);
    expect(ed.steps.map((s) => s.key)).toEqual([keys[0], added, keys[1], keys[2]]);
    expect(ed.doc.steps[3].params).toEqual({ value: "${steps.2.output}" });
    expect(ed.removeStep(1)).toBe(false);
    expect(ed.steps.map((s) => s.key)).toEqual(keys);
    expect(ed.doc.steps[2].params).toEqual({ value: "${steps.1.output}" });
    // Removing a step later steps refer to says so.
    expect(ed.removeStep(0)).toBe(true);
  });

  it("a test result stays with its step when the step moves", async () => {
    const { ed } = await loaded();
    await ed.testStep(0);
    const key = ed.steps[0].key;
    expect(ed.resultFor(0)?.source).toBe("your test of this step");
    ed.moveStep(0, 2);
    expect(ed.steps[2].key).toBe(key);
    expect(ed.resultFor(2)?.source).toBe("your test of this step");
    expect(ed.resultFor(0)).toBeNull();
  });

  it("checks the plan once typing pauses, with the generated schema in the fake", async () => {
    const { ed, backend } = await loaded();
    ed.editStep(0, (s) => {
      s.params = { method: "GET" };
    });
    const args = await waitForCall(backend.state.calls, "validate_plan", (a) => !JSON.stringify(a.plan).includes("/a"));
    expect((args.plan as PlanFile).steps[0].params).toEqual({ method: "GET" });
    await waitFor(() => expect(ed.errors.map((i) => [i.path, i.kind])).toEqual([["steps[0].params.url", "required"]]), { timeout: 4000 });
  });

  it("raw JSON goes to check_plan_text: a readable plan replaces the form, a syntax error leaves it", async () => {
    const { ed } = await loaded();
    const keys = ed.steps.map((s) => s.key);
    const text = JSON.stringify({ ...PLAN, name: "From JSON" });
    const issues = await ed.applyText(text);
    expect(issues).toEqual([]);
    expect(ed.meta.name).toBe("From JSON");
    expect(ed.steps.map((s) => s.key)).toEqual(keys);
    const bad = await ed.applyText('{"name": "x",\n  "steps": [}');
    expect(bad?.[0].kind).toBe("syntax");
    expect(ed.meta.name).toBe("From JSON");
  });

  it("the picker names an earlier step by its id when it has one", async () => {
    const { ed } = await loaded();
    const groups = ed.refGroupsFor(2);
    expect(groups[0].options[0].ref).toBe("${steps.fetch.output}");
    expect(groups[1].options[0].ref).toBe("${steps.1.output}");
  });

  it("testing a step whose input step has no result says which step to test first, and calls nothing", async () => {
    const { backend, ed } = await loaded();
    await ed.testStep(1);
    const t = ed.tests[ed.steps[1].key];
    expect(t && !t.running && "error" in t ? t.error.message : "").toContain("test step 1 first");
    expect(backend.state.calls.some((c) => c.cmd === "execute_step")).toBe(false);
    // Once step 1 has a result, step 2 runs with it.
    await ed.testStep(0);
    await ed.testStep(1);
    await waitForCall(backend.state.calls, "execute_step", (a) => (a.previous as unknown[]).length === 1);
  });

  it("tags typed in the About section reach the plan as a list; emptied, they leave it", async () => {
    const { ed } = await loaded();
    ed.editMeta((m) => (m.tags = ["reports", "work"]));
    expect(ed.doc.tags).toEqual(["reports", "work"]);
    expect(ed.dirty).toBe(true);
    ed.editMeta((m) => delete m.tags);
    expect(ed.dirty).toBe(false);
  });
});
