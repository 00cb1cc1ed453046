// The selectors the end-to-end tests rely on, on each screen, against the fake backend.
import { describe, expect, it } from "vitest";
import { fireEvent, render, waitFor } from "@testing-library/svelte";
import App from "../App.svelte";
import PlansList from "../screens/PlansList.svelte";
import RunDetail from "../screens/RunDetail.svelte";
import Credentials from "../screens/Credentials.svelte";
import Settings from "../screens/Settings.svelte";
import ErrorRegion from "../components/ErrorRegion.svelte";
import { examples } from "../lib/examples";
import { showError } from "../lib/notify.svelte";
import { takePendingImport } from "../lib/handoff";
import { navigate, router } from "../lib/router.svelte";
import { startLive } from "../lib/live.svelte";
import { emit } from "@tauri-apps/api/event";
import { THREE_STEP_PLAN, allByTestId, byTestId, createMockBackend, typeInto, waitForCall } from "./helpers";

describe("navigation", () => {
  it("has the six screens, labelled exactly", async () => {
    createMockBackend().install();
    history.replaceState(null, "", "#/plans");
    const { container } = render(App);
    const labels = ["plans", "runs", "dashboard", "credentials", "integrations", "settings"].map((id) => byTestId(container, `nav-${id}`).textContent);
    expect(labels).toEqual(["Plans", "Runs", "Dashboard", "Credentials", "Integrations", "Settings"]);
    await fireEvent.click(byTestId(container, "nav-runs"));
    await waitFor(() => expect(router.route.name).toBe("runs"));
    expect(byTestId(container, "nav-runs").getAttribute("aria-current")).toBe("page");
  });
});

describe("plans list", () => {
  it("first run: teaches, and adds an example in one click", async () => {
    const backend = createMockBackend();
    backend.install();
    const { container } = render(PlansList);
    const empty = await waitFor(() => byTestId(container, "empty-state"));
    expect(empty.textContent).toContain("Create your first plan");
    const stems = examples.map((e) => e.stem);
    expect(stems).toEqual(expect.arrayContaining(["fetch-extract-post", "local-summary", "newsletter"]));
    for (const s of stems) byTestId(empty, `example-${s}`);
    await fireEvent.click(byTestId(empty, "example-newsletter"));
    const args = await waitForCall(backend.state.calls, "create_plan");
    expect((args.plan as { name: string }).name).toBe("Email Newsletter");
    const row = await waitFor(() => byTestId(container, "plan-row"));
    expect(row.getAttribute("data-plan-name")).toBe("Email Newsletter");
    for (const id of ["plan-run", "plan-edit", "plan-duplicate", "plan-delete"]) byTestId(row, id);
    byTestId(container, "new-plan");
    expect(byTestId<HTMLInputElement>(container, "import-file-input").type).toBe("file");
  });

  it("tags show on each plan; clicking one shows only the plans with it", async () => {
    const step = { provider: "logic", action: "set", params: { value: 1 } };
    const backend = createMockBackend({
      plans: [
        { name: "Weekly report", tags: ["reports", "work"], steps: [step] },
        { name: "Holiday photos", tags: ["home"], steps: [step] },
      ],
    });
    backend.install();
    const { container } = render(PlansList);
    await waitFor(() => expect(allByTestId(container, "plan-row")).toHaveLength(2));
    const chips = allByTestId(container, "plan-tag").map((c) => c.textContent).sort();
    expect(chips).toEqual(["home", "reports", "work"]);
    await fireEvent.click(allByTestId(container, "plan-tag").find((c) => c.textContent === "reports")!);
    await waitFor(() => expect(allByTestId(container, "plan-row").map((r) => r.getAttribute("data-plan-name"))).toEqual(["Weekly report"]));
    expect(byTestId<HTMLInputElement>(container, "plans-search").value).toBe("reports");
  });

  it("delete asks first", async () => {
    const backend = createMockBackend({ plans: [THREE_STEP_PLAN] });
    backend.install();
    const app = render(App);
    await navigate("/plans", { force: true });
    const row = await waitFor(() => byTestId(app.container, "plan-row"));
    await fireEvent.click(byTestId(row, "plan-delete"));
    const dialog = await waitFor(() => byTestId(document.body, "confirm-dialog"));
    expect(dialog.textContent).toContain("Release to webhook");
    expect(backend.state.calls.some((c) => c.cmd === "delete_plan")).toBe(false);
    await fireEvent.click(byTestId(dialog, "confirm-ok"));
    await waitForCall(backend.state.calls, "delete_plan");
    await waitFor(() => byTestId(app.container, "empty-state"));
  });

  it("a picked file that is valid is stored off; one with problems goes to the editor unsaved", async () => {
    const backend = createMockBackend();
    backend.install();
    const { container } = render(PlansList);
    const input = await waitFor(() => byTestId<HTMLInputElement>(container, "import-file-input"));
    const pick = async (name: string, body: unknown) => {
      const file = new File([JSON.stringify(body)], name, { type: "application/json" });
      Object.defineProperty(input, "files", { value: [file], configurable: true });
      await fireEvent.change(input);
    };
    await pick("good.json", THREE_STEP_PLAN);
    await waitForCall(backend.state.calls, "import_plan_text");
    await waitFor(() => byTestId(container, "plan-row"));
    // Stored off, with its review.
    await waitFor(() => byTestId(container, "import-review"));
    expect(backend.state.plans[0].versions[0].plan.status).toBe("draft");

    const bad = { name: "Bad", steps: [{ provider: "http", action: "request", params: {} }] };
    await pick("bad.json", bad);
    await waitFor(() => expect(router.route.name).toBe("plan-new"));
    const pending = takePendingImport();
    expect(pending).toMatchObject({ fileName: "bad.json", issues: [{ path: "steps[0].params.url", message: "is required" }] });
    expect(backend.state.calls.filter((c) => c.cmd === "import_plan_text")).toHaveLength(1);
    expect(backend.state.calls.some((c) => c.cmd === "create_plan")).toBe(false);
  });
});

describe("settings", () => {
  it("Webhooks: says when calls are received, shows the server, and saves a public address", async () => {
    const backend = createMockBackend();
    backend.install();
    const { container } = render(Settings);
    const box = await waitFor(() => byTestId(container, "settings-webhooks"));
    expect(box.textContent).toContain("only while Flowpilot runs");
    await waitFor(() => expect(byTestId(box, "settings-webhook-status").textContent).toContain("127.0.0.1:8737"));
    typeInto(byTestId(box, "settings-webhook-public"), "https://hooks.example.com");
    await fireEvent.click(byTestId(container, "settings-save"));
    const saved = await waitForCall(backend.state.calls, "set_settings");
    expect((saved.settings as { webhooks: { public_base_url: string; port: number } }).webhooks).toEqual({
      port: 8737,
      bind_address: "127.0.0.1",
      public_base_url: "https://hooks.example.com",
    });
  });
});

describe("events", () => {
  it("an open-run event (a clicked notification) opens that run", async () => {
    const backend = createMockBackend({ plans: [THREE_STEP_PLAN], runs: true });
    backend.install();
    await navigate("/plans", { force: true });
    const app = render(App);
    await waitFor(() => byTestId(app.container, "plan-row"));
    const runId = backend.state.runs[0].run.id;
    await emit("open-run", { run_id: runId });
    await waitFor(() => expect(router.route).toEqual({ name: "run", id: runId }));
    await waitFor(() => byTestId(app.container, "run-status"));
  });

  it("a run's page follows its progress live", async () => {
    const backend = createMockBackend({ plans: [{ name: "Quick", steps: [{ provider: "delay", action: "wait", params: { seconds: 0 } }] }] });
    backend.install();
    await startLive();
    const runId = backend.handlers.execute_plan({ planId: backend.state.plans[0].id }) as string;
    const { container } = render(RunDetail, { props: { runId } });
    const status = await waitFor(() => byTestId(container, "run-status"));
    expect(status.textContent).toBe("running");
    await waitFor(() => expect(byTestId(container, "run-status").textContent).toBe("success"), { timeout: 4000 });
    const step = byTestId(container, "run-step");
    expect(step.getAttribute("data-status")).toBe("success");
    expect(byTestId(step, "step-latency").textContent).toMatch(/^\d+ ms$/);
  });
});

describe("run detail", () => {
  it("shows status and a step timeline with latency and output", async () => {
    const backend = createMockBackend({ plans: [THREE_STEP_PLAN], runs: true });
    backend.install();
    const failed = backend.state.runs.find((r) => r.run.status === "failed")!;
    const { container } = render(RunDetail, { props: { runId: failed.run.id } });
    const status = await waitFor(() => byTestId(container, "run-status"));
    expect(status.textContent).toBe("failed");
    const steps = allByTestId(container, "run-step");
    expect(steps.map((s) => [s.getAttribute("data-step-number"), s.getAttribute("data-status")])).toEqual([
      ["0", "success"],
      ["1", "error"],
    ]);
    expect(byTestId(steps[0], "step-latency").textContent).toMatch(/^\d+ ms$/);
    expect(byTestId(steps[0], "step-output").textContent).toContain("tauri v2.12.0");
    expect(byTestId(steps[1], "step-attempts").textContent).toBe("2 attempts");
    expect(byTestId(steps[1], "step-error").textContent).toContain("HTTP_503");
    // A run by hand has no event to show.
    expect(container.querySelector('[data-testid="run-trigger-event"]')).toBeNull();
  });

  it("shows the event that started a run", async () => {
    const backend = createMockBackend({ plans: [THREE_STEP_PLAN], runs: true });
    backend.install();
    const r = backend.state.runs[0];
    r.trigger = { item: { title: "Invoice 42", from: "billing@example.com" } };
    const { container } = render(RunDetail, { props: { runId: r.run.id } });
    const event = await waitFor(() => byTestId(container, "run-trigger-event"));
    expect(event.textContent).toContain("What started this run");
    expect(event.textContent).toContain("Invoice 42");
  });
});

describe("credentials", () => {
  it("says which fields are set and never shows a value", async () => {
    const backend = createMockBackend();
    backend.install();
    const { container } = render(Credentials);
    const field = await waitFor(() => {
      const el = container.querySelector('[data-testid="credential-field"][data-provider="openai"][data-field="api_key"]');
      if (!el) throw new Error("not yet");
      return el as HTMLElement;
    });
    expect(field.closest('[data-testid="credential-provider"]')?.getAttribute("data-provider")).toBe("openai");
    expect(byTestId(field, "credential-state").textContent).toBe("Not set");
    // OpenAI always needs its key; a self-hosted server's is optional, and says so.
    expect(field.querySelector('[data-testid="credential-optional"]')).toBeNull();
    const local = container.querySelector('[data-testid="credential-field"][data-provider="openai_compatible"]') as HTMLElement;
    expect(byTestId(local, "credential-optional").textContent).toContain("optional");
    const input = byTestId<HTMLInputElement>(field, "credential-input");
    expect(input.type).toBe("password");
    typeInto(input, "sk-secret-123");
    await fireEvent.click(byTestId(field, "credential-save"));
    const args = await waitForCall(backend.state.calls, "set_credential");
    expect(args).toEqual({ provider: "openai", field: "api_key", value: "sk-secret-123" });
    await waitFor(() => expect(byTestId(field, "credential-state").textContent).toBe("Set"));
    expect(input.value).toBe("");
    expect(container.innerHTML).not.toContain("sk-secret-123");
    await fireEvent.click(byTestId(field, "credential-delete"));
    await waitForCall(backend.state.calls, "delete_credential");
    await waitFor(() => expect(byTestId(field, "credential-state").textContent).toBe("Not set"));
  });

  it("lets a set key also go to another address, and takes it back", async () => {
    const backend = createMockBackend();
    backend.state.credentials.push({ provider: "openai", field: "api_key", updated_at: new Date().toISOString() });
    backend.install();
    const { container } = render(Credentials);
    const origins = await waitFor(() => {
      const el = container.querySelector('[data-testid="credential-origins"][data-provider="openai"][data-field="api_key"]');
      if (!el) throw new Error("not yet");
      return el as HTMLElement;
    });
    expect(origins.textContent).toContain("Sent only to openai's own address");
    typeInto(byTestId<HTMLInputElement>(origins, "credential-origin-input"), "http://127.0.0.1:11434/v1");
    await fireEvent.click(byTestId(origins, "credential-origin-allow"));
    const args = await waitForCall(backend.state.calls, "allow_credential_origin");
    expect(args).toEqual({ provider: "openai", field: "api_key", origin: "http://127.0.0.1:11434/v1" });
    const shown = await waitFor(() => byTestId(container, "credential-origin"));
    expect(shown.textContent).toContain("http://127.0.0.1:11434");
    await fireEvent.click(byTestId(shown, "credential-origin-remove"));
    await waitForCall(backend.state.calls, "disallow_credential_origin");
    await waitFor(() => expect(container.querySelector('[data-testid="credential-origin"]')).toBeNull());
  });

  it("explains an unavailable keychain with the fix", async () => {
    createMockBackend({ keychain: false }).install();
    const { container } = render(Credentials);
    const box = await waitFor(() => byTestId(container, "keychain-unavailable"));
    expect(box.textContent).toContain("gnome-keyring");
  });
});

describe("errors", () => {
  it("backend errors show as readable messages in an alert region", async () => {
    const { container } = render(ErrorRegion);
    expect(container.querySelector('[data-testid="error"]')).toBeNull();
    showError({ code: "not_found", message: "no plan with id 42" }, "Could not open the plan");
    const region = await waitFor(() => byTestId(container, "error"));
    expect(region.getAttribute("role")).toBe("alert");
    expect(region.textContent).toContain("Could not open the plan: no plan with id 42");
  });
});
