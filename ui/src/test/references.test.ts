// The reference picker inserts `${steps.N.output…}` for earlier steps and shows
// what each had in the plan's last run.
import { describe, expect, it } from "vitest";
import { fireEvent, render, waitFor } from "@testing-library/svelte";
import PlanEditor from "../screens/PlanEditor.svelte";
import type { RunDetail, StepRecord, Value } from "../bindings";
import { THREE_STEP_PLAN, allByTestId, byTestId, createMockBackend, param, stepCard, waitForCall } from "./helpers";

export function record(n: number, output: StepRecord["output"], over: Partial<StepRecord> = {}): StepRecord {
  return {
    run_id: "run-last", step_number: n, step_id: n === 0 ? "fetch" : null, provider: "http", action: "request", status: "success",
    attempt: 1, message: "", latency_ms: 12, output_preview: JSON.stringify(output), output, metadata: {}, error: null, items: null,
    timestamp: "2026-11-20T08:00:00Z", ...over,
  };
}

function lastRun(planId: string, outputs: StepRecord["output"][]): RunDetail {
  return {
    run: { id: "run-last", plan_id: planId, plan_name: "Release to webhook", plan_version: 1, trigger_kind: "manual", scheduled_for: null,
      replay_of: null, status: "success", started_at: "2026-11-20T08:00:00Z", finished_at: "2026-11-20T08:00:01Z", error: null, in_flight: null },
    steps: outputs.map((o, n) => record(n, o)),
    replays: [],
    trigger: null,
  };
}

async function setup(
  plan: Value = THREE_STEP_PLAN,
  outputs: StepRecord["output"][] = [[{ name: "v2.12.0", assets: { count: 3 } }, { name: "v2.11.0" }], "v2.12.0"],
  last: [number, string] = [2, "payload"],
) {
  const backend = createMockBackend({ plans: [plan] });
  const planId = backend.state.plans[0].id;
  const detail = lastRun(planId, outputs);
  backend.install({
    list_runs: () => ({ runs: [detail.run], total: 1 }),
    get_run: () => detail,
  });
  const view = render(PlanEditor, { props: { planId } });
  await waitFor(() => param(view.container, ...last));
  await waitForCall(backend.state.calls, "get_run");
  return { backend, root: view.container };
}

describe("reference picker", () => {
  it("offers only earlier steps, with paths and previews from the last run", async () => {
    const { root } = await setup();
    // First step: nothing before it.
    await fireEvent.click(byTestId(param(root, 0, "url").field, "ref-picker"));
    expect(allByTestId(stepCard(root, 0), "ref-option")).toHaveLength(0);
    expect(byTestId(stepCard(root, 0), "ref-menu").textContent).toContain("no earlier results");

    // Third step: steps 1 and 2, with the last run's values.
    await fireEvent.click(byTestId(param(root, 2, "url").field, "ref-picker"));
    const menu = byTestId(stepCard(root, 2), "ref-menu");
    const refs = allByTestId(menu, "ref-option").map((b) => b.getAttribute("data-ref"));
    expect(refs).toContain("${steps.fetch.output}");
    expect(refs).toContain("${steps.fetch.output[0]}");
    expect(refs).toContain("${steps.fetch.output[0].name}");
    expect(refs).toContain("${steps.fetch.output[0].assets.count}");
    expect(refs).toContain("${steps.1.output}");
    expect(refs.some((r) => r?.startsWith("${steps.2"))).toBe(false);
    const nameOption = allByTestId(menu, "ref-option").find((b) => b.getAttribute("data-ref") === "${steps.fetch.output[0].name}")!;
    expect(byTestId(nameOption, "ref-preview").textContent).toBe('"v2.12.0"');
    expect(menu.textContent).toContain("Values from the last run");
  });

  it("inserts the reference at the caret and the plan carries it", async () => {
    const { root, backend } = await setup();
    const url = param(root, 2, "url").control as HTMLInputElement;
    url.focus();
    url.setSelectionRange(url.value.length, url.value.length);
    url.value = "http://127.0.0.1:9/hook?v=";
    url.dispatchEvent(new Event("input", { bubbles: true }));
    url.setSelectionRange(url.value.length, url.value.length);

    await fireEvent.click(byTestId(param(root, 2, "url").field, "ref-picker"));
    const option = allByTestId(stepCard(root, 2), "ref-option").find((b) => b.getAttribute("data-ref") === "${steps.1.output}")!;
    await fireEvent.click(option);
    await waitFor(() => expect(url.value).toBe("http://127.0.0.1:9/hook?v=${steps.1.output}"));

    const args = await waitForCall(backend.state.calls, "validate_plan", (a) => JSON.stringify(a.plan).includes("hook?v=${steps.1.output}"));
    expect((args.plan as { steps: { params: { url: string } }[] }).steps[2].params.url).toBe("http://127.0.0.1:9/hook?v=${steps.1.output}");
  });

  it("an empty JSON field gets the exact reference (keeps the value's type)", async () => {
    const { root, backend } = await setup();
    const input = param(root, 1, "input");
    await fireEvent.click(byTestId(input.field, "ref-picker"));
    await fireEvent.click(allByTestId(stepCard(root, 1), "ref-option").find((b) => b.getAttribute("data-ref") === "${steps.fetch.output}")!);
    await waitFor(() => expect((input.control as HTMLTextAreaElement).value).toBe("${steps.fetch.output}"));
    const args = await waitForCall(backend.state.calls, "validate_plan", (a) => JSON.stringify(a.plan).includes('"input":"${steps.fetch.output}"'));
    expect((args.plan as { steps: { params: { input: string } }[] }).steps[1].params.input).toBe("${steps.fetch.output}");
  });

  it("Test step passes earlier results and shows its own", async () => {
    const { root, backend } = await setup();
    await fireEvent.click(byTestId(stepCard(root, 1), "step-test"));
    const args = await waitForCall(backend.state.calls, "execute_step");
    const previous = args.previous as { id: string | null; result: { output: unknown } }[];
    expect(previous).toHaveLength(1);
    expect(previous[0].id).toBe("fetch");
    expect(previous[0].result.output).toEqual([{ name: "v2.12.0", assets: { count: 3 } }, { name: "v2.11.0" }]);
    const result = await waitFor(() => byTestId(stepCard(root, 1), "step-result"));
    await waitFor(() => expect(result.getAttribute("data-status")).toBe("success"));
    expect(result.textContent).toContain("tauri v2.12.0");
  });
});

describe("only what the engine resolves", () => {
  const LLM_PLAN: Value = {
    name: "Reply to list",
    steps: [
      { id: "ask", provider: "openai", action: "chat_completion", params: { prompt: "List three items as JSON" } },
      { provider: "logic", action: "set", params: { value: "x" } },
    ],
  };

  it("text holding JSON is offered whole, never looked into, with a parse step one click away", async () => {
    const { root, backend } = await setup(LLM_PLAN, ['{"items": [{"title": "a"}], "n": 1}', "x"], [1, "value"]);
    await waitFor(() => param(root, 1, "value"));
    await fireEvent.click(byTestId(param(root, 1, "value").field, "ref-picker"));
    const menu = byTestId(stepCard(root, 1), "ref-menu");
    const refs = allByTestId(menu, "ref-option").map((b) => b.getAttribute("data-ref"));
    expect(refs).toEqual(["${steps.ask.output}"]);
    expect(byTestId(menu, "ref-json-text").textContent).toContain("text holding JSON");

    await fireEvent.click(byTestId(menu, "ref-parse"));
    await waitFor(() => expect(root.querySelectorAll('[data-testid="step"]')).toHaveLength(3));
    expect(byTestId<HTMLSelectElement>(stepCard(root, 1), "step-action").value).toBe("json_parse");
    expect((param(root, 1, "input").control as HTMLTextAreaElement).value).toBe("${steps.ask.output}");
    const args = await waitForCall(backend.state.calls, "validate_plan", (a) => JSON.stringify(a.plan).includes("json_parse"));
    const steps = (args.plan as { steps: { action: string; params: Record<string, unknown> }[] }).steps;
    expect(steps.map((x) => x.action)).toEqual(["chat_completion", "json_parse", "set"]);
  });

  it("${item} and ${item_index} are offered only inside a for_each step, with the sample item's fields", async () => {
    const plan: Value = {
      name: "Each release",
      steps: [
        { id: "fetch", provider: "http", action: "request", params: { method: "GET", url: "http://127.0.0.1:9/releases" } },
        { provider: "logic", action: "set", params: { value: "x" }, for_each: "${steps.fetch.output}" },
        { provider: "logic", action: "set", params: { value: "y" } },
      ],
    };
    const { root } = await setup(plan, [[{ name: "v2.12.0", id: 7 }], ["x"], "y"], [2, "value"]);
    await waitFor(() => param(root, 2, "value"));
    await fireEvent.click(byTestId(param(root, 1, "value").field, "ref-picker"));
    const inLoop = allByTestId(stepCard(root, 1), "ref-option").map((b) => b.getAttribute("data-ref"));
    expect(inLoop).toEqual(expect.arrayContaining(["${item}", "${item.name}", "${item.id}", "${item_index}", "${steps.fetch.output}"]));

    await fireEvent.click(byTestId(param(root, 2, "value").field, "ref-picker"));
    const after = allByTestId(stepCard(root, 2), "ref-option").map((b) => b.getAttribute("data-ref"));
    expect(after.some((r) => r?.startsWith("${item"))).toBe(false);
    expect(after).toContain("${steps.1.output}");
  });
});
