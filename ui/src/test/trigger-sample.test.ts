// An event trigger's sample in the editor: "Fetch a sample" (the newest items,
// no cursor moved) and, for a webhook, "Listen for a test event" with Stop. The
// sample feeds the reference picker (`${trigger.item.title}` with its value)
// and "Test step"; without one, the last run's event does. And the fields every
// trigger type has besides the basics (email text/IDLE/existing mail, API headers).
import { describe, expect, it } from "vitest";
import { fireEvent, render, waitFor } from "@testing-library/svelte";
import PlanEditor from "../screens/PlanEditor.svelte";
import type { PlanFile, RunDetail, Trigger, Value } from "../bindings";
import { allByTestId, byTestId, createMockBackend, param, stepCard, typeInto, waitForCall } from "./helpers";

const FEED: Trigger = { type: "feed", url: "https://blog.example.com/feed.xml", interval_s: 600 };
const HOOK: Trigger = { type: "webhook", respond: "async" };

function plan(trigger: Trigger, status: PlanFile["status"] = "draft"): PlanFile {
  return {
    name: "Tell the team",
    status,
    trigger,
    steps: [{ provider: "webhook", action: "post_request", params: { url: "http://127.0.0.1:9/hook", payload: { text: "hi" } } }],
  };
}

const ITEMS: Value[] = [
  { type: "feed", item: { id: "p2", title: "Second post", link: "https://blog.example.com/p2" } },
  { type: "feed", item: { id: "p1", title: "First post", link: "https://blog.example.com/p1" } },
];

function setup(doc: PlanFile, overrides: Parameters<ReturnType<typeof createMockBackend>["install"]>[0] = {}) {
  const backend = createMockBackend({ plans: [doc as never] });
  backend.install(overrides);
  const planId = backend.state.plans[0].id;
  const { container: root } = render(PlanEditor, { props: { planId } });
  return { backend, planId, root };
}

/** The options of the picker of step 0's `url`, opened. */
async function pickerOptions(root: HTMLElement): Promise<{ menu: HTMLElement; refs: (string | null)[] }> {
  const toggle = byTestId(param(root, 0, "url").field, "ref-picker");
  if (stepCard(root, 0).querySelector('[data-testid="ref-menu"]')) await fireEvent.click(toggle);
  await fireEvent.click(toggle);
  const menu = byTestId(stepCard(root, 0), "ref-menu");
  return { menu, refs: allByTestId(menu, "ref-option").map((b) => b.getAttribute("data-ref")) };
}

function option(menu: HTMLElement, ref: string): HTMLElement {
  const found = allByTestId(menu, "ref-option").find((b) => b.getAttribute("data-ref") === ref);
  if (!found) throw new Error(`no option ${ref}`);
  return found;
}

describe("Fetch a sample", () => {
  it("fetches the trigger as typed, shows the newest item, and the picker offers its fields with their values", async () => {
    const { root, backend } = setup(plan(FEED), { fetch_trigger_sample: () => ({ events: ITEMS, note: null }) });
    await waitFor(() => byTestId(root, "trigger-form-feed"));
    // Before a sample: the trigger's item is offered, without values, and says how to get them.
    let { menu, refs } = await pickerOptions(root);
    expect(refs).toEqual(["${trigger.item}"]);
    expect(menu.textContent).toContain("Fetch a sample");

    await fireEvent.click(byTestId(root, "trigger-fetch-sample"));
    const args = await waitForCall(backend.state.calls, "fetch_trigger_sample");
    expect(args.trigger).toEqual(FEED);
    await waitFor(() => expect(byTestId(root, "trigger-sample-value").textContent).toContain("Second post"));
    const pick = byTestId<HTMLSelectElement>(root, "trigger-sample-pick");
    expect([...pick.options].map((o) => o.textContent)).toEqual(["Second post (newest)", "First post"]);
    // Fetching a sample starts nothing and checks nothing.
    expect(backend.state.calls.some((c) => c.cmd === "execute_plan" || c.cmd === "check_trigger")).toBe(false);

    ({ menu, refs } = await pickerOptions(root));
    expect(refs).toContain("${trigger.item.title}");
    expect(refs).toContain("${trigger.item.link}");
    expect(menu.textContent).toContain("Values from the sample");
    expect(byTestId(option(menu, "${trigger.item.title}"), "ref-preview").textContent).toBe('"Second post"');

    // Another item of the sample gives the picker its values.
    pick.value = "1";
    await fireEvent.change(pick);
    ({ menu } = await pickerOptions(root));
    expect(byTestId(option(menu, "${trigger.item.title}"), "ref-preview").textContent).toBe('"First post"');

    // Picking inserts the reference into the field.
    await fireEvent.click(option(menu, "${trigger.item.title}"));
    await waitFor(() => expect((param(root, 0, "url").control as HTMLInputElement).value).toContain("${trigger.item.title}"));
  });

  it("says when the sample was fetched with settings the trigger no longer has", async () => {
    const { root, backend } = setup(plan(FEED), { fetch_trigger_sample: () => ({ events: ITEMS, note: null }) });
    await waitFor(() => byTestId(root, "trigger-fetch-sample"));
    await fireEvent.click(byTestId(root, "trigger-fetch-sample"));
    await waitFor(() => byTestId(root, "trigger-sample-value"));
    expect(root.querySelector('[data-testid="trigger-sample-stale"]')).toBeNull();

    // How often it checks changes no item: the sample stays as it is.
    typeInto(byTestId(root, "trigger-interval_s"), "900");
    await waitFor(() => expect(byTestId(root, "trigger-interval-words").textContent).toContain("15"));
    expect(root.querySelector('[data-testid="trigger-sample-stale"]')).toBeNull();

    // Another feed: the sample is still shown (its fields are worth picking), and says it is of the old one.
    typeInto(byTestId(root, "trigger-url"), "https://other.example.com/feed.xml");
    await waitFor(() => expect(byTestId(root, "trigger-sample-stale").textContent).toContain("Fetch a sample again"));
    let { menu } = await pickerOptions(root);
    expect(menu.textContent).toContain("Values from the sample fetched before the trigger changed");

    // Back to the address it was fetched from: it is that feed's sample again.
    typeInto(byTestId(root, "trigger-url"), FEED.url);
    await waitFor(() => expect(root.querySelector('[data-testid="trigger-sample-stale"]')).toBeNull());

    // Fetched again for the new address: current, fetched as typed.
    typeInto(byTestId(root, "trigger-url"), "https://other.example.com/feed.xml");
    await waitFor(() => byTestId(root, "trigger-sample-stale"));
    backend.state.calls.length = 0;
    await fireEvent.click(byTestId(root, "trigger-fetch-sample"));
    const args = await waitForCall(backend.state.calls, "fetch_trigger_sample");
    expect((args.trigger as { url: string }).url).toBe("https://other.example.com/feed.xml");
    await waitFor(() => expect(root.querySelector('[data-testid="trigger-sample-stale"]')).toBeNull());
    ({ menu } = await pickerOptions(root));
    expect(menu.textContent).toContain("Values from the sample");
    expect(menu.textContent).not.toContain("fetched before");
  });

  it("Test step runs with the sample as ${trigger}", async () => {
    const { root, backend } = setup(plan(FEED), { fetch_trigger_sample: () => ({ events: ITEMS, note: null }) });
    await waitFor(() => byTestId(root, "trigger-fetch-sample"));
    await fireEvent.click(byTestId(root, "trigger-fetch-sample"));
    await waitFor(() => byTestId(root, "trigger-sample-value"));
    await fireEvent.click(byTestId(stepCard(root, 0), "step-test"));
    const args = await waitForCall(backend.state.calls, "execute_step_with_trigger");
    expect(args.trigger).toEqual(ITEMS[0]);
    expect(backend.state.calls.some((c) => c.cmd === "execute_step")).toBe(false);
  });

  it("says why when the source cannot be read, and what an empty source means", async () => {
    let fail = true;
    const { root } = setup(plan(FEED), {
      fetch_trigger_sample: () => {
        if (fail) throw { code: "bad_input", message: "HTTP 404 from https://blog.example.com/feed.xml" };
        return { events: [], note: "The source has nothing in it yet." };
      },
    });
    await waitFor(() => byTestId(root, "trigger-fetch-sample"));
    await fireEvent.click(byTestId(root, "trigger-fetch-sample"));
    await waitFor(() => expect(byTestId(root, "trigger-sample-error").textContent).toContain("HTTP 404"));
    fail = false;
    await fireEvent.click(byTestId(root, "trigger-fetch-sample"));
    await waitFor(() => expect(byTestId(root, "trigger-sample-note").textContent).toContain("nothing in it yet"));
    expect(root.querySelector('[data-testid="trigger-sample-error"]')).toBeNull();
  });

  it("without a sample, the last run's event gives the picker its values", async () => {
    const last = (planId: string): RunDetail => ({
      run: { id: "run-last", plan_id: planId, plan_name: "Tell the team", plan_version: 1, trigger_kind: "feed", scheduled_for: null,
        replay_of: null, status: "success", started_at: "2026-11-20T08:00:00Z", finished_at: "2026-11-20T08:00:01Z", error: null, in_flight: null },
      steps: [],
      replays: [],
      trigger: { item: { title: "From the last run" } },
    });
    const backend = createMockBackend({ plans: [plan(FEED) as never] });
    const planId = backend.state.plans[0].id;
    backend.install({ list_runs: () => ({ runs: [last(planId).run], total: 1 }), get_run: () => last(planId) });
    const { container: root } = render(PlanEditor, { props: { planId } });
    await waitFor(() => param(root, 0, "url"));
    await waitForCall(backend.state.calls, "get_run");
    const { menu } = await pickerOptions(root);
    expect(menu.textContent).toContain("Values from the last run");
    expect(byTestId(option(menu, "${trigger.item.title}"), "ref-preview").textContent).toBe('"From the last run"');
  });

  it("a plan started by hand offers no trigger values", async () => {
    const { root } = setup(plan({ type: "manual" }));
    await waitFor(() => param(root, 0, "url"));
    expect(root.querySelector('[data-testid="trigger-sample"]')).toBeNull();
    const { refs } = await pickerOptions(root);
    expect(refs).toEqual([]);
  });
});

describe("Listen for a test event", () => {
  it("needs the plan saved as a webhook plan first", async () => {
    const { root } = setup(plan({ type: "manual" }));
    await waitFor(() => byTestId(root, "trigger-section"));
    await fireEvent.click(byTestId(root, "trigger-kind-webhook"));
    const listen = await waitFor(() => byTestId<HTMLButtonElement>(root, "trigger-listen"));
    expect(listen.disabled).toBe(true);
    expect(byTestId(root, "trigger-sample").textContent).toContain("Save the plan first");
  });

  it("waits for the next call to the URL, can be stopped, and a call becomes the sample", async () => {
    const call: Value = { type: "webhook", payload: { message: "deploy finished", count: 2 }, headers: { "content-type": "application/json" }, query: {} };
    let answer: ((v: Value | null) => void) | undefined;
    const { root, backend, planId } = setup(plan(HOOK), {
      listen_for_test_event: () => new Promise<Value | null>((resolve) => (answer = resolve)),
    });
    const listen = await waitFor(() => byTestId<HTMLButtonElement>(root, "trigger-listen"));
    await waitFor(() => expect(byTestId(root, "trigger-sample-url").textContent).toMatch(/^http:\/\/127\.0\.0\.1:8737\/hooks\//));
    expect(listen.disabled).toBe(false);

    // Listening, then Stop: the backend stops waiting, and nothing was recorded.
    await fireEvent.click(listen);
    await waitForCall(backend.state.calls, "listen_for_test_event", (a) => a.planId === planId);
    await waitFor(() => expect(byTestId(root, "trigger-listening").textContent).toContain("/hooks/"));
    await fireEvent.click(byTestId(root, "trigger-stop-listening"));
    await waitForCall(backend.state.calls, "stop_listening", (a) => a.planId === planId);
    answer?.(null);
    await waitFor(() => byTestId(root, "trigger-listen"));
    expect(root.querySelector('[data-testid="trigger-sample-value"]')).toBeNull();

    // Listening again, and a call comes: it is shown, and the picker offers its body's fields.
    await fireEvent.click(byTestId(root, "trigger-listen"));
    await waitFor(() => byTestId(root, "trigger-listening"));
    answer?.(call);
    await waitFor(() => expect(byTestId(root, "trigger-sample-value").textContent).toContain("deploy finished"));
    expect(backend.state.calls.some((c) => c.cmd === "execute_plan")).toBe(false);
    const { menu, refs } = await pickerOptions(root);
    expect(refs).toContain("${trigger.payload.message}");
    expect(refs).toContain("${trigger.headers}");
    expect(refs).toContain("${trigger.query}");
    expect(menu.textContent).toContain("Values from the test event");
    expect(byTestId(option(menu, "${trigger.payload.message}"), "ref-preview").textContent).toBe('"deploy finished"');
  });
});

describe("every field of the trigger types", () => {
  it("an email: words in the text, no IDLE, and the newest existing mails on activation", async () => {
    const { root, backend } = setup(plan({ type: "email", host: "imap.example.com", username: "me@example.com", credential: "work", mailbox: "INBOX", interval_s: 120 }));
    const form = await waitFor(() => byTestId(root, "trigger-form-email"));
    typeInto(byTestId(form, "trigger-match-body"), "overdue");
    expect(byTestId<HTMLInputElement>(form, "trigger-idle").checked).toBe(true);
    await fireEvent.click(byTestId(form, "trigger-idle"));
    typeInto(byTestId(form, "trigger-run_existing"), "3");
    await fireEvent.click(byTestId(root, "save-plan"));
    const args = await waitForCall(backend.state.calls, "update_plan");
    expect((args.plan as PlanFile).trigger).toEqual({
      type: "email", host: "imap.example.com", username: "me@example.com", credential: "work", mailbox: "INBOX", interval_s: 120,
      match: { body: "overdue" }, idle: false, run_existing: 3,
    });
  });

  it("an API list: extra request headers as text", async () => {
    const { root, backend } = setup(plan({ type: "poll", url: "https://api.example.com/items", items: "$.items", id: "$.id", interval_s: 300 }));
    const form = await waitFor(() => byTestId(root, "trigger-form-poll"));
    const headers = byTestId(form, "trigger-headers");
    typeInto(byTestId(headers, "kv-new-key"), "Accept");
    typeInto(byTestId(headers, "kv-new-value"), "application/json");
    await fireEvent.click([...headers.querySelectorAll("button")].find((b) => b.textContent === "Add")!);
    typeInto(byTestId(form, "trigger-run_existing"), "0");
    await fireEvent.click(byTestId(root, "save-plan"));
    const args = await waitForCall(backend.state.calls, "update_plan");
    expect((args.plan as PlanFile).trigger).toEqual({
      type: "poll", url: "https://api.example.com/items", items: "$.items", id: "$.id", interval_s: 300, headers: { Accept: "application/json" },
    });
  });

  it("a feed and a Telegram bot take the newest existing items too", async () => {
    const { root, backend } = setup(plan(FEED));
    const form = await waitFor(() => byTestId(root, "trigger-form-feed"));
    typeInto(byTestId(form, "trigger-run_existing"), "2");
    await fireEvent.click(byTestId(root, "trigger-kind-telegram"));
    const tg = await waitFor(() => byTestId(root, "trigger-form-telegram"));
    typeInto(byTestId(tg, "trigger-run_existing"), "5");
    await fireEvent.click(byTestId(root, "trigger-kind-feed"));
    await fireEvent.click(byTestId(root, "save-plan"));
    const args = await waitForCall(backend.state.calls, "update_plan");
    expect((args.plan as PlanFile).trigger).toEqual({ ...FEED, run_existing: 2 });
  });
});
