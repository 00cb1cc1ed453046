// "When it runs": the schedule form (the backend's description and next 5 fire
// times, presets, policies, errors on the cron field), the one Save, and the one
// on/off switch (in the editor and in the plan list).
import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, waitFor } from "@testing-library/svelte";
import CronForm from "../components/trigger/CronForm.svelte";
import PlanEditor from "../screens/PlanEditor.svelte";
import PlansList from "../screens/PlansList.svelte";
import type { PlanFile } from "../bindings";
import type { CronTriggerSpec } from "../lib/plan";
import { allByTestId, byTestId, createMockBackend, typeInto, waitForCall } from "./helpers";

const NEXT = [
  "2036-11-23T08:00:00Z",
  "2036-11-24T08:00:00Z",
  "2036-11-25T08:00:00Z",
  "2036-11-26T08:00:00Z",
  "2036-11-27T08:00:00Z",
];

function setup(trigger: CronTriggerSpec, previewImpl?: (args: Record<string, unknown>) => unknown) {
  const backend = createMockBackend();
  const preview = vi.fn(
    previewImpl ??
      ((args: Record<string, unknown>) => ({
        description: `words for ${String(args.cronExpression)}`,
        timezone: (args.timezone as string | null) ?? "Europe/Berlin",
        next: NEXT,
        warnings: [],
      })),
  );
  backend.install({ preview_schedule: preview });
  const onchange = vi.fn();
  const view = render(CronForm, { props: { trigger, issues: [], onchange } });
  return { backend, preview, onchange, root: view.container };
}

describe("schedule form", () => {
  it("renders the backend's description and the next 5 fire times", async () => {
    const { root, preview } = setup({ type: "cron", cron_expression: "0 9 * * 1-5", timezone: "Europe/Berlin", catch_up: "run_once", overlap: "skip" });
    expect((byTestId<HTMLInputElement>(root, "schedule-cron")).value).toBe("0 9 * * 1-5");
    // cronstrue gives an instant hint while the backend answers
    expect(byTestId(root, "schedule-hint").textContent).toMatch(/09:00/);
    await waitFor(() => byTestId(root, "schedule-description"));
    expect(byTestId(root, "schedule-description").textContent).toBe("words for 0 9 * * 1-5");
    const items = allByTestId(root, "schedule-next");
    expect(items).toHaveLength(5);
    expect(items.map((i) => i.getAttribute("data-time"))).toEqual(NEXT);
    expect(items[0].textContent).toMatch(/2036/);
    expect(preview).toHaveBeenCalledWith({ cronExpression: "0 9 * * 1-5", timezone: "Europe/Berlin" });
    expect((byTestId<HTMLSelectElement>(root, "schedule-timezone")).value).toBe("Europe/Berlin");
    expect((byTestId<HTMLSelectElement>(root, "schedule-catch-up")).value).toBe("run_once");
    expect((byTestId<HTMLSelectElement>(root, "schedule-overlap")).value).toBe("skip");
  });

  it("typing, presets and policies change the trigger and the preview; nothing here saves", async () => {
    const { root, preview, onchange, backend } = setup({ type: "cron", cron_expression: "0 9 * * *" });
    const presets = allByTestId(root, "schedule-preset");
    expect(presets.map((p) => p.textContent)).toEqual(["Every 5 minutes", "Every hour", "Daily at 9:00", "Weekdays at 9:00"]);
    await fireEvent.click(presets[1]);
    expect(onchange).toHaveBeenLastCalledWith({ type: "cron", cron_expression: "0 * * * *", catch_up: "run_once", overlap: "skip" });
    await waitFor(() => expect(byTestId(root, "schedule-description").textContent).toBe("words for 0 * * * *"));

    typeInto(byTestId(root, "schedule-cron"), "*/5 * * * * *");
    const overlap = byTestId<HTMLSelectElement>(root, "schedule-overlap");
    overlap.value = "queue_one";
    await fireEvent.change(overlap);
    const catchUp = byTestId<HTMLSelectElement>(root, "schedule-catch-up");
    catchUp.value = "skip";
    await fireEvent.change(catchUp);
    await waitFor(() => expect(byTestId(root, "schedule-description").textContent).toBe("words for */5 * * * * *"));
    expect(preview).toHaveBeenLastCalledWith({ cronExpression: "*/5 * * * * *", timezone: null });
    expect(onchange).toHaveBeenLastCalledWith({ type: "cron", cron_expression: "*/5 * * * * *", catch_up: "skip", overlap: "queue_one" });
    expect(root.querySelector('[data-testid="schedule-save"]')).toBeNull();
    expect(backend.state.calls.some((c) => /plan|schedule/.test(c.cmd) && c.cmd !== "preview_schedule")).toBe(false);
  });

  it("the next runs follow the clock: a passed time is asked for again", async () => {
    let calls = 0;
    const soon = () => [new Date(Date.now() + 300).toISOString(), ...NEXT.slice(1)];
    const { root } = setup({ type: "cron", cron_expression: "* * * * * *" }, () => {
      calls++;
      return { description: "every second", timezone: "UTC", next: calls === 1 ? soon() : NEXT, warnings: [] };
    });
    await waitFor(() => expect(allByTestId(root, "schedule-next")).toHaveLength(5));
    await waitFor(() => expect(calls).toBeGreaterThan(1), { timeout: 4000 });
    await waitFor(() => expect(allByTestId(root, "schedule-next")[0].getAttribute("data-time")).toBe(NEXT[0]));
  });

  it("a bad expression shows the backend's message on the cron field", async () => {
    const { root } = setup({ type: "cron", cron_expression: "0 9 * *" }, () => {
      throw { code: "invalid_plan", message: "invalid", issues: [{ path: "trigger.cron_expression", message: "a cron expression has 5 fields; this one has 4" }] };
    });
    await waitFor(() => byTestId(root, "field-error"));
    const err = byTestId(root, "field-error");
    expect(err.getAttribute("data-path")).toBe("trigger.cron_expression");
    expect(err.textContent).toContain("this one has 4");
    expect(byTestId(root, "schedule-cron").getAttribute("aria-invalid")).toBe("true");
    expect(allByTestId(root, "schedule-next")).toHaveLength(0);
  });

  it("a schedule that is valid but suspicious shows a warning, not an error", async () => {
    const { root } = setup({ type: "cron", cron_expression: "0 0 30 2 *", catch_up: "run_once", overlap: "skip" }, () => ({
      description: "At 00:00 on day 30 of February",
      timezone: "Europe/Berlin",
      next: [],
      warnings: [{ path: "trigger.cron_expression", kind: "suspicious", message: "this schedule never fires", severity: "warning" }],
    }));
    const warning = await waitFor(() => byTestId(root, "field-warning"));
    expect(warning.getAttribute("data-kind")).toBe("suspicious");
    expect(warning.textContent).toContain("never fires");
    expect(root.querySelector('[data-testid="field-error"]')).toBeNull();
    expect(byTestId(root, "schedule-cron").getAttribute("aria-invalid")).toBe("false");
  });
});

const HOURLY: PlanFile = {
  name: "Hourly",
  status: "draft",
  steps: [{ provider: "delay", action: "wait", params: { seconds: 1 } }],
};

describe("one Save, one switch", () => {
  it("a schedule chosen in the editor is saved by the page's Save; an off plan says so there, and one click turns it on", async () => {
    const backend = createMockBackend({ plans: [HOURLY] });
    backend.install();
    const planId = backend.state.plans[0].id;
    const { container: root } = render(PlanEditor, { props: { planId } });
    await waitFor(() => byTestId(root, "trigger-section"));
    // By hand: no switch, nothing to say.
    expect(root.querySelector('[data-testid="plan-on"]')).toBeNull();
    await fireEvent.click(byTestId(root, "trigger-kind-cron"));
    typeInto(await waitFor(() => byTestId(root, "schedule-cron")), "0 * * * *");
    expect(byTestId(root, "trigger-status").textContent).toContain("Save the plan");
    await fireEvent.click(byTestId(root, "save-plan"));
    const saved = await waitForCall(backend.state.calls, "update_plan");
    expect((saved.plan as PlanFile).trigger).toMatchObject({ type: "cron", cron_expression: "0 * * * *" });

    // Saved, but off: said where the person saves, with the click that turns it on.
    const notice = await waitFor(() => byTestId(root, "plan-off-notice"));
    expect(notice.textContent).toContain("off");
    expect(byTestId<HTMLInputElement>(root, "plan-on").checked).toBe(false);
    const versions = backend.state.plans[0].versions.length;
    await fireEvent.click(byTestId(notice, "turn-on"));
    await waitForCall(backend.state.calls, "set_plan_on", (a) => a.id === planId && a.on === true);
    await waitFor(() => expect(root.querySelector('[data-testid="plan-off-notice"]')).toBeNull());
    expect(byTestId<HTMLInputElement>(root, "plan-on").checked).toBe(true);
    expect(backend.state.plans[0].versions.length).toBe(versions);
    expect(root.querySelector('[data-testid="unsaved"]')).toBeNull();
    await waitFor(() => expect(byTestId(root, "trigger-status").textContent).toContain("next run"));
  });

  it("a new plan with a schedule is created on once turned on", async () => {
    const backend = createMockBackend();
    backend.install();
    const { container: root } = render(PlanEditor, { props: { planId: null } });
    await waitFor(() => byTestId(root, "trigger-section"));
    typeInto(byTestId(root, "plan-name"), "Fresh");
    await fireEvent.click(byTestId(root, "trigger-kind-cron"));
    const notice = await waitFor(() => byTestId(root, "plan-off-notice"));
    expect(notice.textContent).toContain("created");
    await fireEvent.click(byTestId(notice, "turn-on"));
    expect(root.querySelector('[data-testid="plan-off-notice"]')).toBeNull();
    expect(backend.state.calls.some((c) => c.cmd === "set_plan_on")).toBe(false);
  });

  it("the plan list has one switch (no pause), which turns a paused plan on", async () => {
    const backend = createMockBackend({
      plans: [{ ...HOURLY, status: "active", trigger: { type: "cron", cron_expression: "0 * * * *" } }, { ...HOURLY, name: "By hand" }],
    });
    backend.state.plans[0].paused = true;
    backend.install();
    const { container } = render(PlansList);
    const row = await waitFor(() => container.querySelector<HTMLElement>('[data-plan-name="Hourly"]') ?? Promise.reject(new Error("no row")));
    expect(row.querySelector('[data-testid="plan-pause"], [data-testid="plan-resume"]')).toBeNull();
    const sw = byTestId<HTMLInputElement>(row, "plan-enabled");
    expect(sw.checked).toBe(false);
    expect(row.getAttribute("data-on")).toBe("false");
    byTestId(row, "plan-paused");
    await fireEvent.click(sw);
    await waitForCall(backend.state.calls, "set_plan_on", (a) => a.on === true);
    await waitFor(() => expect(container.querySelector('[data-plan-name="Hourly"]')?.getAttribute("data-on")).toBe("true"));
    // A plan run by hand has no switch.
    const manual = container.querySelector<HTMLElement>('[data-plan-name="By hand"]');
    expect(manual?.querySelector('[data-testid="plan-enabled"]')).toBeNull();
    expect(manual?.textContent).toContain("By hand");
  });
});
