// Validation problems appear next to the field they belong to.
import { describe, expect, it } from "vitest";
import { render, waitFor } from "@testing-library/svelte";
import PlanEditor from "../screens/PlanEditor.svelte";
import type { IssueKind, PlanIssue, Value } from "../bindings";
import { setPendingImport } from "../lib/handoff";
import { THREE_STEP_PLAN, allByTestId, byTestId, createMockBackend, param, stepCard, typeInto, waitForCall } from "./helpers";

const at = (path: string, kind: IssueKind, message: string): PlanIssue => ({ path, kind, message, severity: "error" });

const ISSUES: PlanIssue[] = [
  at("name", "invalid_param", "must not be empty"),
  at("steps[1].params.path", "invalid_param", "3 is not of type \"string\""),
  at("steps[0].params.headers.Accept", "invalid_param", "must be a string"),
  at("steps[2].params.url", "invalid_param", "is required"),
  at("steps[1].provider", "invalid_param", "unknown provider `nope`"),
  at("mystery", "invalid_param", "unknown field `mystery`"),
];

function errorsIn(el: Element) {
  return allByTestId(el, "field-error").map((e) => [e.getAttribute("data-path"), e.textContent]);
}

describe("validation display", () => {
  it("shows each issue beside its field as you type (debounced validatePlan)", async () => {
    const backend = createMockBackend({ plans: [THREE_STEP_PLAN] });
    let validations = 0;
    backend.install({
      validate_plan: () => {
        validations++;
        return ISSUES;
      },
    });
    const view = render(PlanEditor, { props: { planId: backend.state.plans[0].id } });
    const root = view.container;
    await waitFor(() => param(root, 2, "url"));

    // Typing several characters quickly sends one check after a pause.
    const name = byTestId(root, "plan-name");
    validations = 0;
    for (const t of ["R", "Re", "Rel"]) typeInto(name, t);
    await waitFor(() => expect(allByTestId(root, "field-error").length).toBeGreaterThan(0));
    expect(validations).toBe(1);

    const nameErrors = name.parentElement!;
    expect(errorsIn(nameErrors)).toEqual([["name", "must not be empty"]]);
    expect(errorsIn(param(root, 1, "path").field)).toEqual([["steps[1].params.path", '3 is not of type "string"']]);
    expect(errorsIn(param(root, 0, "headers").field)).toEqual([["steps[0].params.headers.Accept", "Accept: must be a string"]]);
    expect(errorsIn(param(root, 2, "url").field)).toEqual([["steps[2].params.url", "is required"]]);
    const provider = byTestId(stepCard(root, 1), "step-provider");
    expect(provider.getAttribute("aria-invalid")).toBe("true");
    expect(errorsIn(provider.parentElement!)).toEqual([["steps[1].provider", "unknown provider `nope`"]]);
    expect(param(root, 2, "url").control.getAttribute("aria-invalid")).toBe("true");
    expect(param(root, 0, "url").control.getAttribute("aria-invalid")).toBe("false");

    // Not tied to a rendered field: the general list.
    expect(errorsIn(byTestId(root, "plan-errors"))).toEqual([["mystery", "mystery: unknown field `mystery`"]]);
    // Nothing is shown twice.
    expect(allByTestId(root, "field-error")).toHaveLength(ISSUES.length);
  });

  it("a save refused as invalid_plan marks the fields", async () => {
    const backend = createMockBackend({ plans: [THREE_STEP_PLAN] });
    backend.install({
      validate_plan: () => [],
      update_plan: () => {
        throw { code: "invalid_plan", message: "1 problem", issues: [at("steps[0].params.url", "invalid_param", "is required")] };
      },
    });
    const view = render(PlanEditor, { props: { planId: backend.state.plans[0].id } });
    const root = view.container;
    await waitFor(() => param(root, 0, "url"));
    byTestId<HTMLButtonElement>(root, "save-plan").click();
    await waitForCall(backend.state.calls, "update_plan");
    await waitFor(() => expect(errorsIn(param(root, 0, "url").field)).toEqual([["steps[0].params.url", "is required"]]));
  });

  it("an imported file with problems opens unsaved, its problems on their fields", async () => {
    const backend = createMockBackend();
    backend.install();
    const bad: Value = {
      name: "Broken",
      steps: [
        { provider: "http", action: "request", params: { method: "GET" } },
        { provider: "logic", action: "extract", params: { input: "${steps.0.output}", path: 3 } },
      ],
    };
    setPendingImport({
      plan: bad,
      issues: [
        at("steps[0].params.url", "invalid_param", "is required"),
        at("steps[1].params.path", "invalid_param", '3 is not of type "string"'),
      ],
      fileName: "broken.json",
    });
    const view = render(PlanEditor, { props: { planId: null } });
    const root = view.container;
    await waitFor(() => param(root, 1, "path"));
    expect(byTestId(root, "import-notice").textContent).toContain("broken.json");
    expect(errorsIn(param(root, 0, "url").field)).toEqual([["steps[0].params.url", "is required"]]);
    expect(errorsIn(param(root, 1, "path").field)[0][0]).toBe("steps[1].params.path");
    expect(byTestId(root, "unsaved")).toBeTruthy();
    expect(backend.state.calls.some((c) => c.cmd === "create_plan")).toBe(false);

    // Fixing the field clears its problem once the backend agrees.
    typeInto(param(root, 0, "url").control, "http://127.0.0.1:9/x");
    typeInto(param(root, 1, "path").control, "$[0].name");
    await waitFor(() => expect(allByTestId(root, "field-error")).toHaveLength(0));
  });

  it("a warning shows as a warning beside its field and does not count as a problem", async () => {
    const backend = createMockBackend({ plans: [THREE_STEP_PLAN] });
    backend.install({
      validate_plan: () => [
        { path: "steps[0].params.url", kind: "private_target", message: "127.0.0.1 is this computer", severity: "warning" },
      ],
    });
    const view = render(PlanEditor, { props: { planId: backend.state.plans[0].id } });
    const root = view.container;
    await waitFor(() => param(root, 0, "url"));
    typeInto(byTestId(root, "plan-name"), "Renamed");
    const warning = await waitFor(() => byTestId(param(root, 0, "url").field, "field-warning"));
    expect(warning.getAttribute("data-kind")).toBe("private_target");
    expect(allByTestId(root, "field-error")).toHaveLength(0);
    expect(param(root, 0, "url").control.getAttribute("aria-invalid")).toBe("false");
    expect(root.querySelector('[data-testid="problem-count"]')).toBeNull();
    expect(byTestId(root, "warning-count").textContent).toBe("1 warning");
    // A plan with only warnings still saves.
    byTestId<HTMLButtonElement>(root, "save-plan").click();
    await waitForCall(backend.state.calls, "update_plan");
  });
});
