// Drafting a plan from a description: the request, the checked draft, its hand-off
// to the editor, dry runs and re-drafting, against the fake backend.
import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, waitFor } from "@testing-library/svelte";
import App from "../App.svelte";
import DraftScreen from "../screens/DraftScreen.svelte";
import PlanEditor from "../screens/PlanEditor.svelte";
import type { PlanFile, Value } from "../bindings";
import { drafting, resetDrafting } from "../lib/drafting.svelte";
import { setPendingImport } from "../lib/handoff";
import { navigate, router } from "../lib/router.svelte";
import { DRAFTED_PLAN, stepRecord } from "../dev/mock-backend";
import { allByTestId, byTestId, createMockBackend, typeInto, waitForCall } from "./helpers";

afterEach(() => resetDrafting());

async function fillRequest(root: HTMLElement, prompt: string, provider: string, baseUrl = "", model = "") {
  const select = await waitFor(() => {
    const s = byTestId<HTMLSelectElement>(root, "draft-provider");
    if (!Array.from(s.options).some((o) => o.value === provider)) throw new Error("providers not loaded");
    return s;
  });
  typeInto(byTestId(root, "draft-prompt"), prompt);
  typeInto(select, provider);
  typeInto(byTestId(root, "draft-base-url"), baseUrl);
  typeInto(byTestId(root, "draft-model"), model);
}

describe("draft screen", () => {
  it("offers only providers that can draft, and marks the request's missing fields", async () => {
    const backend = createMockBackend();
    backend.install();
    const { container } = render(DraftScreen);
    await fillRequest(container, "Post the weather every morning", "openai_compatible");
    const options = Array.from(byTestId<HTMLSelectElement>(container, "draft-provider").options).map((o) => o.value);
    expect(options).toEqual(["openai", "groq", "openai_compatible"]);

    // A self-hosted server may need no key: no warning for it.
    expect(container.querySelector('[data-testid="draft-asker-missing"]')).toBeNull();
    await fireEvent.click(byTestId(container, "draft-submit"));
    const error = await waitFor(() => byTestId(container, "draft-error"));
    expect(error.getAttribute("data-code")).toBe("bad_input");
    const marked = allByTestId(container, "field-error").map((e) => e.getAttribute("data-path"));
    expect(marked).toEqual(["base_url", "model"]);
    expect(byTestId(container, "draft-base-url").getAttribute("aria-invalid")).toBe("true");
    expect(container.querySelector('[data-testid="draft-result"]')).toBeNull();
  });

  it("shows the checked draft: steps in words, references, missing credentials; the editor gets it unsaved", async () => {
    const backend = createMockBackend();
    backend.install();
    await navigate("/plans/draft", { force: true });
    const app = render(App);
    const root = app.container;
    const prompt = "Every morning, summarise the top story and post it to my webhook";
    await fillRequest(root, prompt, "openai_compatible", "http://127.0.0.1:11434/v1", "llama3.1");
    await fireEvent.click(byTestId(root, "draft-submit"));

    const args = await waitForCall(backend.state.calls, "draft_plan");
    expect(args.request).toEqual({ prompt, provider: "openai_compatible", base_url: "http://127.0.0.1:11434/v1", model: "llama3.1" });
    const result = await waitFor(() => byTestId(root, "draft-result"));
    expect(result.getAttribute("data-valid")).toBe("true");
    await waitFor(() => expect(document.activeElement?.id).toBe("draft-heading"));
    expect(byTestId(result, "draft-validity").textContent).toContain("ready");
    const steps = allByTestId(result, "draft-step");
    expect(steps.map((s) => s.getAttribute("data-provider"))).toEqual(["http", "openai", "webhook"]);
    expect(steps[0].textContent).toContain("1. Send an HTTP request and return the response body (http.request): GET http://127.0.0.1:9/top");
    expect(steps[0].querySelector('[data-testid="draft-step-uses"]')).toBeNull();
    expect(byTestId(steps[1], "draft-step-uses").textContent).toBe("uses the result of step 1");
    expect(byTestId(steps[2], "draft-step-uses").textContent).toBe("uses the result of step 2");
    const missing = allByTestId(result, "draft-missing").map((m) => [m.getAttribute("data-provider"), m.getAttribute("data-field")]);
    expect(missing).toEqual([["openai", "api_key"]]);
    expect(byTestId<HTMLAnchorElement>(result, "draft-set-credentials").getAttribute("href")).toBe("#/credentials");
    const ready = allByTestId(result, "draft-provider-need").map((n) => [n.getAttribute("data-provider"), n.getAttribute("data-ready")]);
    expect(ready).toEqual([["http", "true"], ["openai", "false"], ["webhook", "true"]]);

    // Set the key elsewhere and come back: the same draft, now with nothing missing.
    await navigate("/credentials");
    backend.handlers.set_credential({ provider: "openai", field: "api_key", value: "sk-x" });
    await navigate("/plans/draft");
    await waitFor(() => expect(byTestId(root, "draft-result").querySelector('[data-testid="draft-missing-credentials"]')).toBeNull());
    expect(byTestId<HTMLTextAreaElement>(root, "draft-prompt").value).toBe(prompt);

    // Open in the editor: not saved until created, and created with its prompt.
    await fireEvent.click(byTestId(root, "draft-open-editor"));
    await waitFor(() => expect(router.route.name).toBe("plan-new"));
    await waitFor(() => byTestId(root, "draft-notice"));
    expect(byTestId<HTMLInputElement>(root, "plan-name").value).toBe("Morning digest");
    expect(allByTestId(root, "step")).toHaveLength(3);
    expect(byTestId(root, "original-prompt").textContent).toContain(prompt);
    expect(backend.state.calls.some((c) => c.cmd === "create_plan")).toBe(false);
    await fireEvent.click(byTestId(root, "save-plan"));
    const created = await waitForCall(backend.state.calls, "create_plan");
    expect((created.plan as { original_prompt?: string }).original_prompt).toBe(prompt);
    await waitFor(() => expect(router.route.name).toBe("plan-edit"));
    expect(root.querySelector('[data-testid="draft-notice"]')).toBeNull();
  });

  it("a draft that stays invalid is shown with its problems on their steps, and can still be opened", async () => {
    const backend = createMockBackend();
    backend.install({
      draft_plan: () => ({
        plan: { name: "Half a plan", original_prompt: "x", steps: [{ provider: "http", action: "request", params: {} }] },
        valid: false,
        issues: [
          { path: "steps[0].params.url", kind: "required", message: "is required", severity: "error" },
          { path: "trigger", kind: "not_allowed", message: "unknown trigger type `hourly`", severity: "error" },
        ],
        required_providers: ["http"],
        plain_english_steps: ["Send an HTTP GET request"],
        missing_credentials: [],
        references: [],
        attempts: 2,
        reply: "{}",
        notes: ["the repaired draft still has problems"],
      }),
    });
    const { container } = render(DraftScreen);
    await fillRequest(container, "Something vague", "openai");
    await fireEvent.click(byTestId(container, "draft-submit"));
    const result = await waitFor(() => byTestId(container, "draft-result"));
    expect(result.getAttribute("data-valid")).toBe("false");
    expect(byTestId(result, "draft-validity").textContent).toBe("2 problems");
    expect(byTestId(result, "draft-repaired").textContent).toContain("second try still has some");
    expect(byTestId(result, "draft-notes").textContent).toContain("still has problems");
    const marked = allByTestId(result, "draft-issue").map((i) => i.getAttribute("data-path"));
    expect(marked.sort()).toEqual(["steps[0].params.url", "trigger"]);
    expect(byTestId(allByTestId(result, "draft-step")[0], "draft-issue").textContent).toContain("is required");
    expect(byTestId<HTMLButtonElement>(result, "draft-open-editor").disabled).toBe(false);
  });

  it("a reply that is no plan is shown as it came, and cannot be opened", async () => {
    const backend = createMockBackend();
    backend.install({
      draft_plan: () => ({
        plan: null, valid: false, issues: [{ path: "", kind: "syntax", message: "the reply is not JSON", severity: "error" }],
        required_providers: [], plain_english_steps: [], missing_credentials: [], references: [], attempts: 2, reply: "Sorry, I can't.", notes: [],
      }),
    });
    const { container } = render(DraftScreen);
    await fillRequest(container, "Anything", "groq");
    await fireEvent.click(byTestId(container, "draft-submit"));
    await waitFor(() => expect(byTestId(container, "draft-reply").textContent).toBe("Sorry, I can't."));
    expect(byTestId<HTMLButtonElement>(container, "draft-open-editor").disabled).toBe(true);
  });

  it("warns before asking a public provider whose key is not set", async () => {
    const backend = createMockBackend();
    backend.install();
    const { container } = render(DraftScreen);
    await fillRequest(container, "Anything", "groq");
    const warning = await waitFor(() => byTestId(container, "draft-asker-missing"));
    expect(warning.textContent).toContain("groq API key is not set");
    backend.handlers.set_credential({ provider: "groq", field: "api_key", value: "gsk-x" });
    await fillRequest(container, "Anything", "openai");
    await waitFor(() => byTestId(container, "draft-asker-missing"));
    await fillRequest(container, "Anything", "groq");
    await waitFor(() => expect(container.querySelector('[data-testid="draft-asker-missing"]')).toBeNull());
  });
});

describe("editor: dry run and re-draft", () => {
  it("a dry run shows which steps ran and what the others would have sent", async () => {
    const backend = createMockBackend();
    // The engine decides what is stubbed; the fake does not: this dry run's answer is given.
    backend.install({
      dry_run_plan: (a) => {
        const plan = a.plan as PlanFile;
        return {
          run_id: "dry-1", plan_name: plan.name, status: "success", started_at: "2026-11-20T08:00:00Z", finished_at: "2026-11-20T08:00:01Z",
          error: null,
          steps: plan.steps.map((s, n) => {
            const r = stepRecord("dry-1", n, s, "success");
            return s.provider === "webhook"
              ? { ...r, latency_ms: 0, message: "dry run: not sent", output: { dry_run: true, would_send: s.params ?? {} }, metadata: { dry_run: true } }
              : r;
          }),
        };
      },
    });
    setPendingImport({ source: "draft", plan: { ...DRAFTED_PLAN, original_prompt: "digest" } as Value, issues: [], missing: [], plainSteps: [] });
    const { container } = render(PlanEditor, { props: { planId: null } });
    await waitFor(() => expect(allByTestId(container, "step")).toHaveLength(3));
    await fireEvent.click(byTestId(container, "dry-run"));
    const panel = await waitFor(() => {
      const p = byTestId(container, "dry-run-result");
      if (p.getAttribute("data-status") === "running") throw new Error("still running");
      return p;
    });
    expect(panel.getAttribute("data-status")).toBe("success");
    const parts = allByTestId(panel, "dry-run-step").map((s) => s.getAttribute("data-stub"));
    expect(parts).toEqual(["false", "false", "true"]);
    expect(allByTestId(panel, "dry-run-step")[2].textContent).toContain("${steps.summary.output}");
    // Each step's card shows its part; only the webhook says it was not sent.
    expect(allByTestId(container, "step-dry-run").map((b) => b.textContent)).toEqual(["dry run", "dry run", "dry run: not sent"]);
    expect(backend.state.calls.some((c) => c.cmd === "create_plan" || c.cmd === "execute_plan")).toBe(false);
  });

  it("the missing-credentials notice follows the plan as it is edited", async () => {
    const backend = createMockBackend();
    backend.install();
    // Handed over with a list that is out of date: the editor works it out again.
    setPendingImport({ source: "draft", plan: DRAFTED_PLAN as Value, issues: [], missing: [], plainSteps: [] });
    const { container } = render(PlanEditor, { props: { planId: null } });
    const notice = await waitFor(() => byTestId(container, "missing-credentials"));
    expect(notice.textContent).toContain("openai.api_key");
    await waitForCall(backend.state.calls, "missing_credentials", (a) => (a.plan as { name: string }).name === "Morning digest");
    // Without the openai step nothing is missing any more.
    const removes = allByTestId<HTMLButtonElement>(container, "step-remove");
    await fireEvent.click(removes[1]);
    await waitFor(() => expect(container.querySelector('[data-testid="missing-credentials"]')).toBeNull());
  });

  it("re-drafting takes the plan's description back to the draft screen", async () => {
    const backend = createMockBackend({ plans: [{ ...DRAFTED_PLAN, original_prompt: "Summarise the top story" } as Value] });
    backend.install();
    await navigate(`/plans/${backend.state.plans[0].id}`, { force: true });
    const app = render(App);
    const button = await waitFor(() => byTestId(app.container, "redraft"));
    await fireEvent.click(button);
    await waitFor(() => expect(router.route.name).toBe("plan-draft"));
    expect(drafting.form.prompt).toBe("Summarise the top story");
    await waitFor(() => expect(byTestId<HTMLTextAreaElement>(app.container, "draft-prompt").value).toBe("Summarise the top story"));
  });
});
