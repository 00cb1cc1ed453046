// "Only if…" and "For each item of…" in the editor: the forms write the
// generated `when` / `for_each` shapes, list every operator in words, hide the
// right side where an operator takes none, and show issues on their fields.
import { describe, expect, it } from "vitest";
import { fireEvent, render, waitFor } from "@testing-library/svelte";
import PlanEditor from "../screens/PlanEditor.svelte";
import type { PlanFile, PlanIssue, Value } from "../bindings";
import { OPERATORS } from "../lib/conditions";
import { allByTestId, byTestId, createMockBackend, param, stepCard, typeInto, waitForCall } from "./helpers";

const PLAN: Value = {
  name: "Fetch and post",
  steps: [
    { id: "fetch", provider: "http", action: "request", params: { method: "GET", url: "http://127.0.0.1:9/list" } },
    { provider: "logic", action: "set", params: { value: "x" } },
  ],
};

async function open(overrides: Record<string, (a: Record<string, unknown>) => unknown> = {}) {
  const backend = createMockBackend({ plans: [PLAN] });
  backend.install(overrides);
  const view = render(PlanEditor, { props: { planId: backend.state.plans[0].id } });
  await waitFor(() => param(view.container, 1, "value"));
  return { backend, root: view.container };
}

const sentPlan = (args: Record<string, unknown>) => args.plan as PlanFile;

describe("Only if…", () => {
  it("adds a comparison, lists every operator in words, and hides the right side where none is taken", async () => {
    const { root, backend } = await open();
    const card = stepCard(root, 1);
    await fireEvent.click(byTestId(card, "step-when-add"));
    const when = await waitFor(() => byTestId(card, "step-when"));
    const op = byTestId<HTMLSelectElement>(when, "when-op");
    expect(Array.from(op.options).map((o) => o.value)).toEqual(OPERATORS.map((o) => o.op));
    expect(Array.from(op.options).map((o) => o.textContent)).toEqual(
      expect.arrayContaining(["is equal to", "contains", "does not contain", "is empty", "is not empty", "matches the pattern"]),
    );

    typeInto(byTestId(when, "when-left"), "${steps.0.output.status}");
    op.value = "contains";
    await fireEvent.change(op);
    typeInto(byTestId(when, "when-right"), "outage");
    let args = await waitForCall(backend.state.calls, "validate_plan", (a) => JSON.stringify(a.plan).includes("outage"));
    expect(sentPlan(args).steps[1].when).toEqual({ left: "${steps.0.output.status}", op: "contains", right: "outage" });

    for (const noRight of ["exists", "empty", "not_empty"]) {
      op.value = noRight;
      await fireEvent.change(op);
      await waitFor(() => expect(when.querySelector('[data-testid="when-right"]')).toBeNull());
    }
    args = await waitForCall(backend.state.calls, "validate_plan", (a) => JSON.stringify(a.plan).includes("not_empty"));
    expect(sentPlan(args).steps[1].when).toEqual({ left: "${steps.0.output.status}", op: "not_empty" });

    // Combined: "+ and" makes an all-group of two.
    await fireEvent.click(byTestId(when, "when-and"));
    await waitFor(() => expect(allByTestId(when, "when-left")).toHaveLength(2));
    typeInto(allByTestId(when, "when-left")[1], "5");
    args = await waitForCall(backend.state.calls, "validate_plan", (a) => JSON.stringify(a.plan).includes('"all"'));
    expect(sentPlan(args).steps[1].when).toEqual({
      all: [{ left: "${steps.0.output.status}", op: "not_empty" }, { left: 5, op: "eq", right: "" }],
    });

    await fireEvent.click(byTestId(card, "step-when-remove"));
    args = await waitForCall(backend.state.calls, "validate_plan", (a) => !JSON.stringify(a.plan).includes('"when"'));
    expect(sentPlan(args).steps[1].when).toBeUndefined();
  });

  it("the picker fills a side; issues at steps[i].when… show on their fields", async () => {
    const issues: PlanIssue[] = [
      { path: "steps[1].when.all[1].right", kind: "bad_condition", message: "`matches` takes a regular expression as text", severity: "error" },
      { path: "steps[1].when.all[0].left", kind: "forward_reference", message: "${steps.2.output}: steps[2] runs after this step", severity: "error" },
    ];
    const { root } = await open({ validate_plan: (a) => (JSON.stringify(a.plan).includes('"all"') ? issues : []) });
    const card = stepCard(root, 1);
    await fireEvent.click(byTestId(card, "step-when-add"));
    const when = await waitFor(() => byTestId(card, "step-when"));
    await fireEvent.click(byTestId(when.querySelector<HTMLElement>(".value")!, "ref-picker"));
    const option = allByTestId(card, "ref-option").find((b) => b.getAttribute("data-ref") === "${steps.fetch.output}")!;
    await fireEvent.click(option);
    expect(byTestId<HTMLInputElement>(when, "when-left").value).toBe("${steps.fetch.output}");
    await fireEvent.click(byTestId(when, "when-and"));

    await waitFor(() => expect(allByTestId(when, "field-error")).toHaveLength(2));
    const lefts = allByTestId(when, "when-left");
    const rights = allByTestId(when, "when-right");
    expect(lefts[0].getAttribute("aria-invalid")).toBe("true");
    expect(rights[1].getAttribute("aria-invalid")).toBe("true");
    expect(rights[1].closest(".value")!.querySelector('[data-testid="field-error"]')!.getAttribute("data-kind")).toBe("bad_condition");
    expect(root.querySelector('[data-testid="plan-errors"]')).toBeNull();
  });
});

describe("For each item of…", () => {
  it("picks a list, sets concurrency and what a failed item does, and shows its issues on the field", async () => {
    const { root, backend } = await open({
      validate_plan: (a) =>
        JSON.stringify(a.plan).includes('"for_each":""')
          ? [{ path: "steps[1].for_each", kind: "empty", message: "must not be empty", severity: "error" }]
          : [],
    });
    const card = stepCard(root, 1);
    await fireEvent.click(byTestId(card, "step-for-each-add"));
    const each = await waitFor(() => byTestId(card, "step-for-each"));
    const list = byTestId<HTMLInputElement>(each, "for-each-list");
    await waitFor(() => expect(list.getAttribute("aria-invalid")).toBe("true"));
    expect(byTestId(each, "field-error").getAttribute("data-path")).toBe("steps[1].for_each");

    typeInto(list, "${steps.fetch.output.items}");
    typeInto(byTestId(each, "for-each-concurrency"), "4");
    const onError = byTestId<HTMLSelectElement>(each, "for-each-on-error");
    onError.value = "continue";
    await fireEvent.change(onError);
    const args = await waitForCall(backend.state.calls, "validate_plan", (a) => JSON.stringify(a.plan).includes("continue"));
    const step = sentPlan(args).steps[1];
    expect(step.for_each).toBe("${steps.fetch.output.items}");
    expect(step.for_each_options).toEqual({ concurrency: 4, on_error: "continue" });
    await waitFor(() => expect(list.getAttribute("aria-invalid")).toBe("false"));

    // Inside the loop the param pickers offer the item.
    await fireEvent.click(byTestId(param(root, 1, "value").field, "ref-picker"));
    const refs = allByTestId(card, "ref-option").map((b) => b.getAttribute("data-ref"));
    expect(refs).toEqual(expect.arrayContaining(["${item}", "${item_index}"]));

    await fireEvent.click(byTestId(card, "step-for-each-remove"));
    const after = await waitForCall(backend.state.calls, "validate_plan", (a) => !JSON.stringify(a.plan).includes("for_each"));
    expect(sentPlan(after).steps[1].for_each).toBeUndefined();
  });
});
