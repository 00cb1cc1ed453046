// What a new user tripped over (issue 14), against the fake backend: the auth
// form with saved credentials, "Quote it", what a step sent, importing a plan
// whose name exists, errors that stay on their screen, friendly prompts.
import { describe, expect, it } from "vitest";
import { fireEvent, render, waitFor } from "@testing-library/svelte";
import App from "../App.svelte";
import PlanEditor from "../screens/PlanEditor.svelte";
import PlansList from "../screens/PlansList.svelte";
import RunDetail from "../screens/RunDetail.svelte";
import ConfirmDialog from "../components/ConfirmDialog.svelte";
import Settings from "../screens/Settings.svelte";
import type { PlanFile, PlanIssue, StepRecord, Value } from "../bindings";
import { navigate, router } from "../lib/router.svelte";
import { startLive } from "../lib/live.svelte";
import { emit } from "@tauri-apps/api/event";
import { showError } from "../lib/notify.svelte";
import { allByTestId, byTestId, createMockBackend, param, stepCard, typeInto, waitForCall } from "./helpers";

const FETCH: Value = {
  name: "Authed",
  steps: [{ id: "fetch", provider: "http", action: "request", params: { method: "GET", url: "http://127.0.0.1:9/news" } }],
};

async function editor(plans: Value[]) {
  const backend = createMockBackend({ plans });
  backend.state.credentials.push({ provider: "http", field: "news_token", updated_at: "2026-11-20T08:00:00Z" });
  backend.state.credentials.push({ provider: "openai", field: "api_key", updated_at: "2026-11-20T08:00:00Z" });
  return backend;
}

describe("the auth form", () => {
  it("offers the kinds, the saved http credentials and a new one; a misspelled name is flagged with the likely one", async () => {
    const backend = await editor([FETCH]);
    backend.install();
    const { container: root } = render(PlanEditor, { props: { planId: backend.state.plans[0].id } });
    const auth = await waitFor(() => param(root, 0, "auth"));
    const kinds = auth.control as HTMLSelectElement;
    expect(Array.from(kinds.options).map((o) => o.value)).toEqual(["", "bearer", "basic", "header", "query"]);
    kinds.value = "header";
    await fireEvent.change(kinds);
    const pick = await waitFor(() => byTestId<HTMLSelectElement>(auth.field, "credential-pick"));
    // Only the credentials saved for http: not openai's key.
    await waitFor(() => expect(Array.from(pick.options).map((o) => o.textContent)).toContain("news_token"));
    expect(Array.from(pick.options).map((o) => o.textContent)).not.toContain("api_key");
    pick.value = "news_token";
    await fireEvent.change(pick);
    typeInto(byTestId(auth.field, "auth-name"), "X-API-Key");
    await fireEvent.click(byTestId(root, "save-plan"));
    const saved = await waitForCall(backend.state.calls, "update_plan");
    expect((saved.plan as PlanFile).steps[0].params?.auth).toEqual({ type: "header", credential: "news_token", name: "X-API-Key" });

    // A name no credential has: flagged on the field, with the saved one it likely meant.
    const plan = backend.state.plans[0].versions.at(-1)!.plan;
    const typo = structuredClone(plan);
    typo.steps[0].params = { ...typo.steps[0].params, auth: { type: "bearer", credential: "news_tokn" } };
    backend.handlers.update_plan({ id: backend.state.plans[0].id, plan: typo });
    const again = render(PlanEditor, { props: { planId: backend.state.plans[0].id } });
    const unknown = await waitFor(() => byTestId(again.container, "credential-unknown"));
    expect(unknown.textContent).toContain("news_tokn");
    await fireEvent.click(byTestId(unknown, "credential-suggestion"));
    await waitFor(() => expect(again.container.querySelector('[data-testid="credential-unknown"]')).toBeNull());

    // "New credential…": saved under http, then chosen.
    const pick2 = byTestId<HTMLSelectElement>(again.container, "credential-pick");
    pick2.value = pick2.options[pick2.options.length - 1].value;
    await fireEvent.change(pick2);
    typeInto(byTestId(again.container, "credential-new-name"), "feed_token");
    typeInto(byTestId(again.container, "credential-new-secret"), "s3cret");
    await fireEvent.submit(byTestId(again.container, "credential-new"));
    await waitForCall(backend.state.calls, "set_credential", (a) => a.provider === "http" && a.field === "feed_token");
    await waitFor(() => expect(byTestId<HTMLSelectElement>(again.container, "credential-pick").value).toBe("feed_token"));
  });
});

describe("one-click fixes", () => {
  it("an unquoted reference is an error on its field with “Quote it”, which puts the fix in place", async () => {
    const backend = createMockBackend({
      plans: [
        {
          name: "Post",
          steps: [
            { id: "s", provider: "logic", action: "set", params: { value: "x" } },
            { provider: "webhook", action: "post_request", params: { url: "http://127.0.0.1:9/hook", payload: '{"text": ${steps.s.output}}' } },
          ],
        },
      ],
    });
    const issue: PlanIssue = {
      path: "steps[1].params.payload",
      kind: "unquoted_reference",
      message: "this is JSON with a reference outside quotes, so it would be sent as text",
      severity: "error",
      fix: { text: "${steps.s.output}" },
    };
    backend.install({
      validate_plan: (a) => {
        const payload = (a.plan as PlanFile).steps[1]?.params?.payload;
        return typeof payload === "string" ? [issue] : [];
      },
    });
    const { container: root } = render(PlanEditor, { props: { planId: backend.state.plans[0].id } });
    const payload = await waitFor(() => param(root, 1, "payload"));
    const fix = await waitFor(() => byTestId(payload.field, "issue-fix"));
    expect(fix.textContent).toBe("Quote it");
    expect(payload.field.textContent).not.toContain("Not valid JSON: it is sent as text");
    await fireEvent.click(fix);
    await waitFor(() => expect(JSON.parse((param(root, 1, "payload").control as HTMLTextAreaElement).value)).toEqual({ text: "${steps.s.output}" }));
    await waitFor(() => expect(root.querySelector('[data-testid="issue-fix"]')).toBeNull());
  });
});

describe("what a step sent", () => {
  it("an HTTP step shows method, address, headers and body beside what came back; others their params", async () => {
    const backend = createMockBackend();
    backend.install();
    const rec = (n: number, over: Partial<StepRecord>): StepRecord => ({
      run_id: "", step_number: n, provider: "http", action: "request", status: "success", attempt: 1, message: "", latency_ms: 4,
      output_preview: "", output: null, metadata: {}, timestamp: "2026-11-20T08:00:00Z", ...over,
    });
    const run = backend.addRun({ plan_name: "Sent" }, [
      rec(0, {
        input: { method: "POST", url: "http://127.0.0.1:9/items", headers: { "X-Trace": "1" }, body: { title: "hi" }, auth: { type: "bearer", credential: "news_token" } },
        output: { id: 7 },
        output_preview: '{"id":7}',
      }),
      rec(1, { provider: "logic", action: "set", input: { value: "done" }, output: "done", output_preview: '"done"' }),
    ]);
    const { container } = render(RunDetail, { props: { runId: run.id } });
    const steps = await waitFor(() => {
      const s = allByTestId(container, "run-step");
      if (s.length !== 2) throw new Error("not yet");
      return s;
    });
    const sent = byTestId(steps[0], "step-input");
    expect(byTestId(sent, "sent-method").textContent).toBe("POST");
    expect(byTestId(sent, "sent-url").textContent).toBe("http://127.0.0.1:9/items");
    expect(byTestId(sent, "sent-header").textContent).toContain("X-Trace");
    expect(sent.textContent).toContain("Bearer ***");
    expect(JSON.parse(byTestId(sent, "sent-body").textContent ?? "")).toEqual({ title: "hi" });
    byTestId(steps[0], "step-output");
    expect(JSON.parse(byTestId(steps[1], "sent-params").textContent ?? "")).toEqual({ value: "done" });
  });
});

describe("importing a plan whose name exists", () => {
  it("asks: a copy sits beside it, a replacement is a new version, cancel changes nothing", async () => {
    const backend = createMockBackend({ plans: [FETCH] });
    backend.install();
    render(ConfirmDialog);
    const { container } = render(PlansList);
    const input = await waitFor(() => byTestId<HTMLInputElement>(container, "import-file-input"));
    const pick = async () => {
      const file = new File([JSON.stringify(FETCH)], "authed.json", { type: "application/json" });
      Object.defineProperty(input, "files", { value: [file], configurable: true });
      await fireEvent.change(input);
      return waitFor(() => byTestId(document.body, "confirm-dialog"));
    };
    let dialog = await pick();
    expect(dialog.textContent).toContain("“Authed” exists");
    await fireEvent.click(byTestId(dialog, "confirm-import-copy"));
    await waitForCall(backend.state.calls, "import_plan_copy");
    await waitFor(() => container.querySelector('[data-plan-name="Authed (copy)"]') ?? Promise.reject(new Error("no copy")));

    dialog = await pick();
    await fireEvent.click(byTestId(dialog, "confirm-import-replace"));
    // A new version of the plan of that name, stored by the import (off), not update_plan.
    await waitForCall(backend.state.calls, "import_plan_text");
    expect(backend.state.calls.some((c) => c.cmd === "update_plan" || c.cmd === "create_plan")).toBe(false);
    expect(backend.state.plans[0].versions).toHaveLength(2);

    dialog = await pick();
    await fireEvent.click(byTestId(dialog, "confirm-cancel"));
    await waitFor(() => expect(document.querySelector('[data-testid="confirm-dialog"]')).toBeNull());
    expect(backend.state.plans).toHaveLength(2);
    expect(backend.state.plans[0].versions).toHaveLength(2);
    // One import control.
    expect(allByTestId(container, "import-plan")).toHaveLength(1);
  });
});

describe("errors and prompts", () => {
  it("an error belongs to the screen that raised it", async () => {
    createMockBackend().install();
    await navigate("/plans", { force: true });
    const app = render(App);
    showError({ code: "invalid_plan", message: "x", issues: [{ path: "a", kind: "required", message: "is required", severity: "error" }] });
    await waitFor(() => byTestId(app.container, "error"));
    await fireEvent.click(byTestId(app.container, "nav-runs"));
    await waitFor(() => expect(app.container.querySelector('[data-testid="error"]')).toBeNull());
  });

  it("a new empty step asks for its provider and action in words", async () => {
    const backend = createMockBackend();
    backend.install();
    const { container: root } = render(PlanEditor, { props: { planId: null } });
    await waitFor(() => byTestId(root, "add-step"));
    await fireEvent.click(byTestId(root, "add-step"));
    await waitFor(() => expect(allByTestId(stepCard(root, 0), "field-error").length).toBeGreaterThan(0));
    const texts = allByTestId(stepCard(root, 0), "field-error").map((e) => e.textContent ?? "");
    expect(texts).toContain("Choose a provider");
    expect(texts.join(" ")).not.toMatch(/non-empty|anyOf|schema|must be/);
    // Titles first, ids second.
    const provider = byTestId<HTMLSelectElement>(stepCard(root, 0), "step-provider");
    expect(Array.from(provider.options).map((o) => o.textContent)).toContain("HTTP request · http");
  });
});

describe("Run now on a new plan", () => {
  it("creates it and shows the same live run panel as on a saved plan", async () => {
    const backend = createMockBackend();
    backend.install();
    await startLive();
    await navigate("/plans/new", { force: true });
    const app = render(App);
    const name = await waitFor(() => byTestId(app.container, "plan-name"));
    typeInto(name, "Scratch");
    await fireEvent.click(byTestId(app.container, "add-step"));
    const card = await waitFor(() => stepCard(app.container, 0));
    const provider = byTestId<HTMLSelectElement>(card, "step-provider");
    provider.value = "delay";
    await fireEvent.change(provider);
    typeInto(await waitFor(() => param(app.container, 0, "seconds").control), "0");
    await fireEvent.click(byTestId(app.container, "run-now"));
    await waitForCall(backend.state.calls, "execute_plan");
    await waitFor(() => expect(router.route.name).toBe("plan-edit"));
    const panel = await waitFor(() => byTestId(app.container, "editor-run"));
    await waitFor(() => expect(byTestId(panel, "run-status").textContent).toBe("success"), { timeout: 4000 });
    expect(backend.state.calls.filter((c) => c.cmd === "execute_plan")).toHaveLength(1);
  });
});

describe("closing and quitting", () => {
  it("Settings keeps running on close by choice, and quits after asking", async () => {
    const backend = createMockBackend();
    backend.install();
    render(ConfirmDialog);
    const { container } = render(Settings);
    const keep = await waitFor(() => byTestId<HTMLInputElement>(container, "settings-keep-running"));
    expect(keep.checked).toBe(true);
    await fireEvent.click(keep);
    await fireEvent.click(byTestId(container, "settings-save"));
    const saved = await waitForCall(backend.state.calls, "set_settings");
    expect((saved.settings as { keep_running_when_closed: boolean }).keep_running_when_closed).toBe(false);

    await fireEvent.click(byTestId(container, "quit-app"));
    const dialog = await waitFor(() => byTestId(document.body, "confirm-dialog"));
    expect(backend.state.calls.some((c) => c.cmd === "quit_app")).toBe(false);
    await fireEvent.click(byTestId(dialog, "confirm-ok"));
    await waitForCall(backend.state.calls, "quit_app");
  });

  it("without a tray host, Settings says so and closing the window asks", async () => {
    const backend = createMockBackend();
    backend.state.trayHost = "missing";
    backend.install();
    await startLive();
    render(ConfirmDialog);
    const { container } = render(Settings);
    const note = await waitFor(() => byTestId(container, "settings-no-tray"));
    expect(note.textContent).toContain("no tray icons");

    // Cancel keeps the window open (the backend hears "stay").
    await emit("close-asked", { tray: "missing" });
    let dialog: Element = await waitFor(() => byTestId(document.body, "confirm-dialog"));
    expect(dialog.textContent).toContain("without a tray icon");
    await fireEvent.click(byTestId(dialog, "confirm-cancel"));
    expect((await waitForCall(backend.state.calls, "answer_close")).answer).toBe("stay");

    // "Keep running in the background".
    backend.state.calls.length = 0;
    await emit("close-asked", { tray: "missing" });
    dialog = await waitFor(() => byTestId(document.body, "confirm-dialog"));
    await fireEvent.click(byTestId(dialog, "confirm-keep-running"));
    expect((await waitForCall(backend.state.calls, "answer_close")).answer).toBe("keep_running");

    // "Quit Flowpilot".
    backend.state.calls.length = 0;
    await emit("close-asked", { tray: "missing" });
    dialog = await waitFor(() => byTestId(document.body, "confirm-dialog"));
    await fireEvent.click(byTestId(dialog, "confirm-quit"));
    expect((await waitForCall(backend.state.calls, "answer_close")).answer).toBe("quit");
  });

  it("with a tray host, Settings has no such note", async () => {
    const backend = createMockBackend();
    backend.install();
    const { container } = render(Settings);
    await waitForCall(backend.state.calls, "tray_host");
    await waitFor(() => byTestId(container, "settings-keep-running"));
    expect(container.querySelector('[data-testid="settings-no-tray"]')).toBeNull();
  });
});
