// The run page for conditions, loops and replays: a skipped step with the values
// its condition compared, a for_each step's item rows (paged), a result taken
// over by a replay, "Run again from step N" and its refusal, and live item progress.
import { describe, expect, it } from "vitest";
import { fireEvent, render, waitFor } from "@testing-library/svelte";
import { emit } from "@tauri-apps/api/event";
import RunDetail from "../screens/RunDetail.svelte";
import type { ItemRecord, StepRecord } from "../bindings";
import { startLive } from "../lib/live.svelte";
import { router } from "../lib/router.svelte";
import { allByTestId, byTestId, createMockBackend, waitForCall } from "./helpers";

function rec(n: number, over: Partial<StepRecord> = {}): StepRecord {
  return {
    run_id: "", step_number: n, step_id: null, provider: "logic", action: "set", status: "success", attempt: 1, message: "",
    latency_ms: 5 + n, output_preview: "", output: null, metadata: {}, error: null, items: null, timestamp: "2026-11-20T08:00:00Z", ...over,
  };
}

function items(n: number, failEvery = 0): ItemRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const failed = failEvery > 0 && i % failEvery === failEvery - 1;
    return { index: i, status: failed ? "error" : "success", attempt: 1, latency_ms: i % 50, error: failed ? "HTTP_500" : null, message: failed ? "HTTP 500 from the peer" : "" };
  });
}

const PLAN = { name: "Loop and check", steps: [{ provider: "http", action: "request", params: { url: "http://127.0.0.1:9/list" } }] };

describe("run detail: conditions and loops", () => {
  it("a skipped step says its condition was false and shows the compared values", async () => {
    const backend = createMockBackend();
    backend.install();
    const run = backend.addRun({ plan_name: "Check" }, [
      rec(0, { output: "all good", output_preview: '"all good"' }),
      rec(1, {
        status: "skipped",
        message: "skipped: its condition was false",
        metadata: { condition: [{ left: "all good", op: "contains", right: "outage", holds: false }] },
      }),
    ]);
    const { container } = render(RunDetail, { props: { runId: run.id } });
    const steps = await waitFor(() => {
      const s = allByTestId(container, "run-step");
      if (s.length !== 2) throw new Error("not yet");
      return s;
    });
    expect(steps[1].getAttribute("data-status")).toBe("skipped");
    const cond = byTestId(steps[1], "step-condition");
    expect(cond.textContent).toContain("Skipped: its condition was false");
    const row = byTestId(cond, "condition-compared");
    expect(row.getAttribute("data-holds")).toBe("false");
    expect(byTestId(row, "compared-left").textContent).toBe('"all good"');
    expect(row.textContent).toContain("contains");
    expect(byTestId(row, "compared-right").textContent).toBe('"outage"');
    // A skipped step has no output to show, and is not offered for a replay (the run succeeded).
    expect(steps[1].querySelector('[data-testid="step-output"]')).toBeNull();
    expect(container.querySelector('[data-testid="step-replay"]')).toBeNull();
  });

  it("a for_each step shows its counts and item rows, 1,000 items a page at a time", async () => {
    const backend = createMockBackend();
    backend.install();
    const list = items(1000, 100);
    const run = backend.addRun({ plan_name: "Loop" }, [
      rec(0, {
        items: list,
        output: list.map((i) => ({ n: i.index })),
        metadata: { succeeded: 990, failed: 10, skipped: 0 },
        message: "990 of 1000 items succeeded, 10 failed, 0 skipped",
      }),
    ]);
    const started = performance.now();
    const { container } = render(RunDetail, { props: { runId: run.id } });
    const step = await waitFor(() => byTestId(container, "run-step"));
    expect(byTestId(step, "step-item-counts").textContent).toContain("1000 items: 990 succeeded, 10 failed, 0 skipped");
    let rows = allByTestId(step, "step-item");
    expect(rows).toHaveLength(50);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(rows[0].getAttribute("data-index")).toBe("0");
    expect(byTestId(rows[0], "item-latency").textContent).toBe("0 ms");
    expect(byTestId(step, "items-page").textContent).toBe("items 1–50 of 1000");
    await fireEvent.click(byTestId(step, "items-next"));
    rows = allByTestId(step, "step-item");
    expect(rows[0].getAttribute("data-index")).toBe("50");
    expect(rows[49].getAttribute("data-status")).toBe("error");
    expect(rows[49].textContent).toContain("HTTP_500");

    const filter = byTestId<HTMLSelectElement>(step, "items-filter");
    filter.value = "failed";
    await fireEvent.change(filter);
    rows = allByTestId(step, "step-item");
    expect(rows).toHaveLength(10);
    expect(rows.every((r) => r.getAttribute("data-status") === "error")).toBe(true);
  });

  it("a running for_each step shows its items' progress from the events", async () => {
    const backend = createMockBackend();
    backend.install();
    await startLive();
    const run = backend.addRun({ plan_name: "Loop", status: "running", finished_at: null }, []);
    const { container } = render(RunDetail, { props: { runId: run.id } });
    await waitFor(() => byTestId(container, "run-status"));
    await emit("run-started", { run_id: run.id, plan_name: "Loop", step_count: 1, started_at: run.started_at });
    await emit("step-progress", { run_id: run.id, phase: "started", step_number: 0, provider: "http", action: "request", attempt: 1, status: null, record: null, retry_in_ms: null });
    for (const [i, done] of [[0, 1], [1, 2]]) {
      await emit("item-progress", { run_id: run.id, step_number: 0, item: items(3)[i], done, total: 3 });
    }
    await waitFor(() => expect(byTestId(container, "step-item-progress").textContent).toBe("2 of 3 items"));
  });
});

describe("run detail: replays", () => {
  it("'Run again from step N' replays the failed run and opens the new run, which links back", async () => {
    const backend = createMockBackend({ plans: [{ ...PLAN, steps: [PLAN.steps[0], { provider: "logic", action: "set", params: { value: 1 } }] }] });
    backend.install();
    await startLive();
    const failedId = backend.startRun(backend.state.plans[0].id, 1);
    const { container, unmount } = render(RunDetail, { props: { runId: failedId } });
    const steps = await waitFor(() => {
      const s = allByTestId(container, "run-step");
      if (s.length !== 2) throw new Error("not yet");
      return s;
    });
    // Offered on the failed step (and at the run), not on the one that succeeded.
    expect(steps[0].querySelector('[data-testid="step-replay"]')).toBeNull();
    byTestId(container, "run-replay");
    await fireEvent.click(byTestId(steps[1], "step-replay"));
    const args = await waitForCall(backend.state.calls, "replay_run");
    expect(args).toEqual({ runId: failedId, fromStep: 2 });
    const replay = backend.state.runs.find((r) => r.run.replay_of === failedId)!.run;
    await waitFor(() => expect(router.route).toEqual({ name: "run", id: replay.id }));
    unmount();

    const view = render(RunDetail, { props: { runId: replay.id } });
    const back = await waitFor(() => byTestId(view.container, "run-replay-of-link"));
    expect(back.getAttribute("href")).toBe(`#/runs/${failedId}`);
    const first = await waitFor(() => byTestId(view.container, "step-reused"));
    expect(byTestId(first, "step-reused-link").getAttribute("href")).toBe(`#/runs/${failedId}`);
    view.unmount();

    // The original lists its replays.
    const original = render(RunDetail, { props: { runId: failedId } });
    const link = await waitFor(() => byTestId(original.container, "run-replay-link"));
    expect(link.getAttribute("data-run-id")).toBe(replay.id);
  });

  it("a refused replay shows why", async () => {
    const backend = createMockBackend({ plans: [PLAN] });
    backend.install({
      replay_run: () => {
        throw { code: "refused", message: "step 1 changed since the run (it has other params)", issues: null };
      },
    });
    const failedId = backend.startRun(backend.state.plans[0].id, 0);
    const { container } = render(RunDetail, { props: { runId: failedId } });
    const before = router.route;
    await fireEvent.click(await waitFor(() => byTestId(container, "run-replay")));
    const refused = await waitFor(() => byTestId(container, "replay-refused"));
    expect(refused.textContent).toContain("step 1 changed since the run (it has other params)");
    expect(router.route).toEqual(before);
  });
});
