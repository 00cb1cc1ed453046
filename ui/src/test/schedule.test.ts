// The schedule panel: the backend's description and next 5 fire times, presets,
// the policies, and errors on the cron field.
import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, waitFor } from "@testing-library/svelte";
import SchedulePanel from "../components/SchedulePanel.svelte";
import type { Trigger } from "../bindings";
import { allByTestId, byTestId, createMockBackend, typeInto, waitForCall } from "./helpers";

const NEXT = [
  "2026-11-23T08:00:00Z",
  "2026-11-24T08:00:00Z",
  "2026-11-25T08:00:00Z",
  "2026-11-26T08:00:00Z",
  "2026-11-27T08:00:00Z",
];

function setup(trigger: Trigger | undefined, previewImpl?: (args: Record<string, unknown>) => unknown) {
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
  const onsave = vi.fn(async () => true);
  const view = render(SchedulePanel, { props: { trigger, planId: null, planStatus: "draft", issues: [], onchange, onsave } });
  return { backend, preview, onchange, onsave, root: view.container };
}

describe("schedule preview", () => {
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
    expect(items[0].textContent).toMatch(/2026/);
    expect(preview).toHaveBeenCalledWith({ cronExpression: "0 9 * * 1-5", timezone: "Europe/Berlin" });
    expect((byTestId<HTMLSelectElement>(root, "schedule-timezone")).value).toBe("Europe/Berlin");
    expect((byTestId<HTMLSelectElement>(root, "schedule-catch-up")).value).toBe("run_once");
    expect((byTestId<HTMLSelectElement>(root, "schedule-overlap")).value).toBe("skip");
  });

  it("typing, presets and policies update the trigger and the preview", async () => {
    const { root, preview, onchange, onsave } = setup(undefined);
    expect(allByTestId(root, "schedule-next")).toHaveLength(0);
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

    await fireEvent.click(byTestId(root, "schedule-save"));
    // A draft plan is turned on with its schedule unless the box is cleared.
    expect(onsave).toHaveBeenCalledWith({ type: "cron", cron_expression: "*/5 * * * * *", catch_up: "skip", overlap: "queue_one" }, true);
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

  it("pause and resume a saved schedule", async () => {
    const backend = createMockBackend({
      plans: [{ name: "Hourly", status: "active", steps: [{ provider: "delay", action: "wait", params: { seconds: 1 } }], trigger: { type: "cron", cron_expression: "0 * * * *" } }],
    });
    backend.install();
    const planId = backend.state.plans[0].id;
    const view = render(SchedulePanel, {
      props: { trigger: { type: "cron", cron_expression: "0 * * * *" }, planId, planStatus: "active", issues: [], onchange: () => {}, onsave: async () => true },
    });
    const pause = await waitFor(() => byTestId(view.container, "schedule-pause"));
    await fireEvent.click(pause);
    await waitForCall(backend.state.calls, "pause_schedule", (a) => a.planId === planId);
    const resume = await waitFor(() => byTestId(view.container, "schedule-resume"));
    await fireEvent.click(resume);
    await waitForCall(backend.state.calls, "resume_schedule", (a) => a.planId === planId);
    await waitFor(() => byTestId(view.container, "schedule-pause"));
  });
});

describe("warnings", () => {
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
