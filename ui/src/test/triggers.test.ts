// "When it runs" with event triggers: each type's form writes its trigger into
// the plan (saved by the page's one Save), the backend's located problems show
// on their fields, and a saved, on plan shows its trigger's status: a webhook's
// URL (a new one after a confirm), "Check now" for the types that look for items,
// and what `trigger-changed` reports.
import { describe, expect, it } from "vitest";
import { fireEvent, render, waitFor } from "@testing-library/svelte";
import { emit } from "@tauri-apps/api/event";
import ConfirmDialog from "../components/ConfirmDialog.svelte";
import PlanEditor from "../screens/PlanEditor.svelte";
import PlansList from "../screens/PlansList.svelte";
import type { PlanFile, PlanIssue, Trigger, TriggerStatus } from "../bindings";
import { startLive } from "../lib/live.svelte";
import { TRIGGER_KINDS } from "../lib/triggers";
import { byTestId, createMockBackend, typeInto, waitForCall } from "./helpers";

const PLAN: PlanFile = {
  name: "On an event",
  status: "draft",
  steps: [{ provider: "delay", action: "wait", params: { seconds: 1 } }],
};

const CREDENTIALS = [
  { provider: "email", field: "work-inbox" },
  { provider: "telegram", field: "bot" },
  { provider: "webhook", field: "gh" },
  { provider: "http", field: "api" },
];

function setup(plan: PlanFile = PLAN, overrides: Parameters<ReturnType<typeof createMockBackend>["install"]>[0] = {}) {
  const backend = createMockBackend({ plans: [plan as never] });
  backend.state.credentials = CREDENTIALS.map((c) => ({ ...c, updated_at: "2026-01-01T00:00:00Z" }));
  backend.install(overrides);
  const planId = backend.state.plans[0].id;
  const { container: root } = render(PlanEditor, { props: { planId } });
  return { backend, planId, root };
}

async function choose(root: HTMLElement, kind: string): Promise<Element> {
  await waitFor(() => byTestId(root, "trigger-section"));
  await fireEvent.click(byTestId(root, `trigger-kind-${kind}`));
  return waitFor(() => byTestId(root, `trigger-form-${kind}`));
}

async function select(el: Element, value: string) {
  (el as HTMLSelectElement).value = value;
  await fireEvent.change(el);
}

/** Pick a saved credential in the picker inside `holder` (once the list is loaded). */
async function pickCredential(holder: HTMLElement, name: string) {
  const pick = byTestId<HTMLSelectElement>(holder, "credential-pick");
  await waitFor(() => expect([...pick.options].map((o) => o.value)).toContain(name));
  await select(pick, name);
}

async function saved(root: HTMLElement, backend: ReturnType<typeof createMockBackend>): Promise<Trigger | undefined> {
  await fireEvent.click(byTestId(root, "save-plan"));
  const args = await waitForCall(backend.state.calls, "update_plan");
  return (args.plan as PlanFile).trigger;
}

describe("event trigger kinds", () => {
  it("offers every event type with plain words and a fresh trigger of its own type", () => {
    expect(TRIGGER_KINDS.map((k) => k.label)).toEqual([
      "By hand",
      "On a schedule",
      "When a URL is called",
      "When an email arrives",
      "When a feed has a new item",
      "When the bot gets a message",
      "When an API lists a new item",
    ]);
    for (const k of TRIGGER_KINDS) {
      const t = k.fresh();
      expect(t.type).toBe(k.kind);
    }
    expect(TRIGGER_KINDS.find((k) => k.kind === "email")?.fresh()).toEqual({
      type: "email", host: "", port: 993, security: "tls", username: "", credential: "", mailbox: "INBOX", interval_s: 120,
    });
  });
});

describe("event trigger forms write the trigger into the plan", () => {
  it("a webhook: answer with the result, signed the sender's way", async () => {
    const { root, backend } = setup();
    const form = await choose(root, "webhook");
    await select(byTestId(form, "trigger-respond"), "sync");
    typeInto(byTestId(form, "trigger-wait_s"), "10");
    await fireEvent.click(byTestId(form, "trigger-signature"));
    await select(byTestId(form, "trigger-signature-scheme"), "hmac_sha256");
    typeInto(byTestId(form, "trigger-signature-header"), "X-Sig");
    await pickCredential(byTestId(form, "trigger-signature-credential"), "gh");
    expect(byTestId(root, "trigger-status").textContent).toContain("Save the plan to use this trigger");
    expect(await saved(root, backend)).toEqual({
      type: "webhook", respond: "sync", wait_s: 10, signature: { scheme: "hmac_sha256", credential: "gh", header: "X-Sig" },
    });
  });

  it("an email: server, login, password credential, and which mail matches", async () => {
    const { root, backend } = setup();
    const form = await choose(root, "email");
    typeInto(byTestId(form, "trigger-host"), "imap.example.com");
    typeInto(byTestId(form, "trigger-username"), "me@example.com");
    await pickCredential(byTestId(form, "trigger-credential"), "work-inbox");
    await select(byTestId(form, "trigger-security"), "starttls");
    expect(byTestId<HTMLInputElement>(form, "trigger-port").value).toBe("143");
    typeInto(byTestId(form, "trigger-match-from"), "billing");
    typeInto(byTestId(form, "trigger-match-keywords"), "invoice, receipt");
    await select(byTestId(form, "trigger-match-keywords_mode"), "all");
    await fireEvent.click(byTestId(form, "trigger-match-unread_only"));
    await fireEvent.click(byTestId(form, "trigger-mark_read"));
    typeInto(byTestId(form, "trigger-interval_s"), "60");
    expect(await saved(root, backend)).toEqual({
      type: "email", host: "imap.example.com", port: 143, security: "starttls", username: "me@example.com", credential: "work-inbox",
      mailbox: "INBOX", interval_s: 60, mark_read: true,
      match: { from: "billing", keywords: ["invoice", "receipt"], keywords_mode: "all", unread_only: true },
    });
  });

  it("a feed: its address and how often", async () => {
    const { root, backend } = setup();
    const form = await choose(root, "feed");
    typeInto(byTestId(form, "trigger-url"), "https://blog.example.com/feed.xml");
    expect(byTestId(form, "trigger-interval-words").textContent).toBe("every 10 minutes");
    await select(byTestId(form, "trigger-overlap"), "queue");
    expect(await saved(root, backend)).toEqual({ type: "feed", url: "https://blog.example.com/feed.xml", interval_s: 600, overlap: "queue" });
  });

  it("a Telegram bot: token credential, chat and command", async () => {
    const { root, backend } = setup();
    const form = await choose(root, "telegram");
    await pickCredential(byTestId(form, "trigger-credential"), "bot");
    typeInto(byTestId(form, "trigger-chat_id"), "123");
    typeInto(byTestId(form, "trigger-command"), "/summarize");
    expect(await saved(root, backend)).toEqual({ type: "telegram", credential: "bot", chat_id: 123, command: "/summarize" });
  });

  it("an API list: address, paths and sign-in as in an HTTP step", async () => {
    const { root, backend } = setup();
    const form = await choose(root, "poll");
    typeInto(byTestId(form, "trigger-url"), "https://api.example.com/items");
    typeInto(byTestId(form, "trigger-items"), "$.data");
    await select(byTestId(form, "param-auth"), "bearer");
    await pickCredential(byTestId(form, "variant-auth"), "api");
    expect(await saved(root, backend)).toEqual({
      type: "poll", url: "https://api.example.com/items", items: "$.data", id: "$.id", interval_s: 300,
      auth: { type: "bearer", credential: "api" },
    });
  });

  it("switching types and back keeps what was typed", async () => {
    const { root } = setup();
    let form = await choose(root, "feed");
    typeInto(byTestId(form, "trigger-url"), "https://x.example/feed");
    await choose(root, "webhook");
    form = await choose(root, "feed");
    expect(byTestId<HTMLInputElement>(form, "trigger-url").value).toBe("https://x.example/feed");
  });
});

describe("problems on their fields", () => {
  it("a missing mail server shows the backend's message on the server field", async () => {
    const hostMissing: PlanIssue = { path: "trigger.host", kind: "required", message: "the mail server is missing", severity: "error" };
    const { root } = setup(PLAN, {
      validate_plan: (a) => ((a.plan as PlanFile).trigger?.type === "email" && (a.plan as { trigger: { host: string } }).trigger.host === "" ? [hostMissing] : []),
    });
    const form = await choose(root, "email");
    const field = form.querySelector<HTMLElement>('[data-field="trigger.host"]')!;
    const err = await waitFor(() => byTestId(field, "field-error"), { timeout: 3000 });
    expect(err.getAttribute("data-path")).toBe("trigger.host");
    expect(err.textContent).toContain("the mail server is missing");
    expect(byTestId(form, "trigger-host").getAttribute("aria-invalid")).toBe("true");
    typeInto(byTestId(form, "trigger-host"), "imap.example.com");
    await waitFor(() => expect(field.querySelector('[data-testid="field-error"]')).toBeNull(), { timeout: 3000 });
  });
});

describe("a saved, on plan's event trigger status", () => {
  it("a webhook shows its URL; New URL asks first, then calls regenerate and shows the new one", async () => {
    render(ConfirmDialog);
    const { root, backend, planId } = setup({ ...PLAN, status: "active", trigger: { type: "webhook", respond: "async" } });
    const url = await waitFor(() => byTestId(root, "trigger-webhook-url"));
    expect(url.textContent).toMatch(/^http:\/\/127\.0\.0\.1:8737\/hooks\/\S+$/);
    const before = url.textContent;
    expect(byTestId(root, "trigger-health").textContent).toContain("Listening");
    expect(root.querySelector('[data-testid="trigger-check-now"]')).toBeNull();

    await fireEvent.click(byTestId(root, "trigger-new-url"));
    const dialog = await waitFor(() => byTestId(document.body, "confirm-dialog"));
    expect(dialog.textContent).toContain("stops working");
    await fireEvent.click(byTestId(dialog, "confirm-cancel"));
    expect(backend.state.calls.some((c) => c.cmd === "regenerate_webhook_url")).toBe(false);

    await fireEvent.click(byTestId(root, "trigger-new-url"));
    await fireEvent.click(await waitFor(() => byTestId(document.body, "confirm-ok")));
    await waitForCall(backend.state.calls, "regenerate_webhook_url", (a) => a.planId === planId);
    await waitFor(() => expect(byTestId(root, "trigger-webhook-url").textContent).not.toBe(before));
    expect(byTestId(root, "trigger-webhook-url").textContent).toMatch(/\/hooks\//);
  });

  it("Check now checks a feed and says what it found; the next check is shown", async () => {
    const { root, backend, planId } = setup({ ...PLAN, status: "active", trigger: { type: "feed", url: "https://blog.example.com/feed.xml", interval_s: 600 } });
    const health = await waitFor(() => byTestId(root, "trigger-health"));
    expect(health.textContent).toContain("Watching");
    byTestId(root, "trigger-next-check");
    await fireEvent.click(byTestId(root, "trigger-check-now"));
    await waitForCall(backend.state.calls, "check_trigger", (a) => a.planId === planId);
    await waitFor(() => expect(byTestId(root, "trigger-check-report").textContent).toContain("Recorded what is there now"));
    await waitFor(() => byTestId(root, "trigger-last-check"));
  });

  it("follows trigger-changed: a failing trigger shows its last error", async () => {
    const { root, planId } = setup({ ...PLAN, status: "active", trigger: { type: "telegram", credential: "bot" } });
    await startLive();
    await waitFor(() => expect(byTestId(root, "trigger-health").textContent).toContain("Watching"));
    const failing: TriggerStatus = {
      plan_id: planId, plan_name: "On an event", kind: "telegram", description: "When the bot gets a message", health: "failing",
      watched_by: null, last_check_at: new Date().toISOString(), last_item_at: null, last_error: "401 Unauthorized: the bot token is wrong",
      last_error_at: new Date().toISOString(), failures: 3, next_check_at: new Date(Date.now() + 60_000).toISOString(), note: null, queued: 0,
      webhook_url: null,
    };
    await emit("trigger-changed", { plan_id: planId, status: failing });
    await waitFor(() => expect(byTestId(root, "trigger-health").textContent).toContain("Failing (3 checks in a row): 401 Unauthorized"));
  });

  it("an off plan with an event trigger keeps the Turn on button and no status", async () => {
    const { root, backend } = setup({ ...PLAN, trigger: { type: "feed", url: "https://blog.example.com/feed.xml" } });
    const status = await waitFor(() => byTestId(root, "trigger-status"));
    await waitFor(() => byTestId(status, "trigger-turn-on"));
    expect(status.querySelector('[data-testid="trigger-event-status"]')).toBeNull();
    expect(backend.state.calls.some((c) => c.cmd === "get_trigger")).toBe(false);
  });
});

describe("the plan list says the trigger in words", () => {
  it("the backend's words link to the trigger, an event plan shows where its trigger stands, a manual plan a neutral link", async () => {
    const backend = createMockBackend({
      plans: [
        { ...PLAN, name: "Feed", status: "active", trigger: { type: "feed", url: "https://blog.example.com/feed.xml", interval_s: 600 } },
        { ...PLAN, name: "Hook", status: "active", trigger: { type: "webhook", respond: "async" } },
        { ...PLAN, name: "Mail off", trigger: { type: "email", host: "h", username: "me@example.com", credential: "c", mailbox: "INBOX" } },
        { ...PLAN, name: "By hand" },
      ] as never[],
    });
    // The words come from the engine (trigger_words.rs); the list shows them as they come.
    backend.install({
      list_plans: () => (backend.handlers.list_plans({}) as { trigger: Trigger }[]).map((p) => ({ ...p, trigger_description: `Words for ${p.trigger.type}` })),
    });
    const { container } = render(PlansList);
    const row = (name: string) => container.querySelector<HTMLElement>(`[data-plan-name="${name}"]`)!;
    await waitFor(() => expect(container.querySelectorAll('[data-testid="plan-row"]')).toHaveLength(4));
    expect(byTestId(row("Feed"), "plan-schedule").textContent).toBe("Words for feed");
    expect(byTestId(row("Hook"), "plan-schedule").textContent).toBe("Words for webhook");
    expect(byTestId(row("Mail off"), "plan-schedule").textContent).toBe("Words for email");
    await waitFor(() => expect(byTestId(row("Feed"), "plan-trigger-status").textContent).toMatch(/^Next check in /));
    expect(byTestId(row("Hook"), "plan-trigger-status").textContent).toBe("On each call");
    expect(row("Mail off").querySelector('[data-testid="plan-trigger-status"]')).toBeNull();
    const change = byTestId(row("By hand"), "plan-trigger-change");
    expect(change.textContent).toBe("Change…");
    expect(container.textContent).not.toContain("Schedule…");

    // A failing trigger, as the backend reports it, shows at once.
    await startLive();
    const feedId = row("Feed").getAttribute("data-plan-id")!;
    const failing = { ...(backend.handlers.get_trigger({ planId: feedId }) as TriggerStatus), health: "failing", last_error: "HTTP 503" };
    await emit("trigger-changed", { plan_id: feedId, status: failing });
    await waitFor(() => expect(byTestId(row("Feed"), "plan-trigger-status").textContent).toBe("Failing"));
    expect(byTestId(row("Feed"), "plan-trigger-status").getAttribute("title")).toBe("HTTP 503");

    // The search finds a plan by its trigger's words.
    typeInto(byTestId(container, "plans-search"), "words for webhook");
    await waitFor(() => expect(container.querySelectorAll('[data-testid="plan-row"]')).toHaveLength(1));
  });
});
