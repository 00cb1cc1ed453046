// Runs: the run log, runs at once or step by step, replays, dry runs, the stats.
import { emit } from "@tauri-apps/api/event";
import type { PlanFile, RunRow, RunStatus, StepRecord, Value } from "../../bindings";
import { type Handler, type MockState, type StoredPlan, fail, id, mustBeValid, now } from "./state";
import type { Plans } from "./plans";

/** A canned output per provider (nothing is resolved or evaluated). */
function fakeOutput(s: PlanFile["steps"][number], n: number): Value {
  if (s.provider === "http") return [{ name: "tauri v2.12.0", id: 1 }, { name: "tauri v2.11.3", id: 2 }];
  if (s.action === "extract") return "tauri v2.12.0";
  if (s.action === "chat_completion") return `A short answer for step ${n + 1}.`;
  if (s.provider === "webhook") return { status: 200, body: "ok" };
  return (s.params?.value as Value | undefined) ?? null;
}

export function stepRecord(runId: string, n: number, s: PlanFile["steps"][number], status: StepRecord["status"], attempt = 1): StepRecord {
  const output = status === "success" ? fakeOutput(s, n) : null;
  return {
    run_id: runId,
    step_number: n,
    step_id: s.id ?? null,
    provider: s.provider,
    action: s.action,
    status,
    attempt,
    message: status === "success" ? "" : "HTTP 503 from https://api.example.com/send",
    latency_ms: 80 + ((n * 137 + attempt * 51) % 900),
    output_preview: JSON.stringify(output).slice(0, 500),
    output,
    metadata: {},
    error: status === "success" ? null : "HTTP_503",
    items: null,
    timestamp: now(),
  };
}

/** The run log of one backend. */
export function createRuns(state: MockState, plans: Plans) {
  const { docOf } = plans;

  /** Put a run into the log as given (tests, and the mock's sample runs). */
  function addRun(run: Partial<RunRow> & { plan_name: string }, steps: StepRecord[]): RunRow {
    const row: RunRow = {
      id: run.id ?? id("run"),
      plan_id: run.plan_id ?? null,
      plan_name: run.plan_name,
      plan_version: run.plan_version ?? 1,
      trigger_kind: run.trigger_kind ?? "manual",
      scheduled_for: run.scheduled_for ?? null,
      replay_of: run.replay_of ?? null,
      status: run.status ?? "success",
      started_at: run.started_at ?? now(),
      finished_at: run.finished_at === undefined ? now() : run.finished_at,
      error: run.error ?? null,
      in_flight: run.in_flight ?? null,
    };
    state.runs.push({ run: row, steps: steps.map((s) => ({ ...s, run_id: row.id })) });
    return row;
  }

  /** A run of a stored plan; `live`: step by step with events, else at once. */
  function startRun(p: StoredPlan, opts: { live: boolean; failAt?: number; startedAt?: string; trigger?: string; replay?: { of: string; from: number } }): string {
    const { live, failAt = -1, startedAt = now(), trigger = "manual", replay } = opts;
    const doc = docOf(p);
    const steps = doc.steps;
    const run = addRun(
      { plan_id: p.id, plan_name: doc.name, plan_version: p.versions.length, trigger_kind: trigger, status: "running", started_at: startedAt, finished_at: null, replay_of: replay?.of ?? null },
      [],
    );
    const entry = state.runs[state.runs.length - 1];
    const runId = run.id;
    const finish = (status: RunStatus, error: string | null) => {
      entry.run.status = status;
      entry.run.finished_at = live ? now() : new Date(Date.parse(startedAt) + 2400).toISOString();
      entry.run.error = error;
      if (live) void emit("run-finished", { run_id: runId, plan_name: doc.name, status, error, started_at: startedAt, finished_at: entry.run.finished_at });
    };
    const taken = (n: number): StepRecord | null => {
      if (!replay || n >= replay.from) return null;
      const before = state.runs.find((r) => r.run.id === replay.of)?.steps.filter((s) => s.step_number === n && s.status !== "retrying").pop();
      return before ? { ...before, run_id: runId, metadata: { ...(before.metadata ?? {}), reused_from_run: replay.of } } : null;
    };
    if (!live) {
      steps.forEach((s, n) => {
        if (failAt >= 0 && n > failAt) return;
        if (n === failAt) entry.steps.push(stepRecord(runId, n, s, "retrying", 1), stepRecord(runId, n, s, "error", 2));
        else entry.steps.push(taken(n) ?? stepRecord(runId, n, s, "success"));
      });
      finish(failAt >= 0 ? "failed" : "success", failAt >= 0 ? `HTTP 503 (step ${failAt + 1} of ${steps.length}, http.request)` : null);
      return runId;
    }
    void emit("run-started", { run_id: runId, plan_name: doc.name, step_count: steps.length, started_at: startedAt });
    let n = 0;
    const progress = (phase: string, r: StepRecord | null) =>
      emit("step-progress", { run_id: runId, phase, step_number: n, provider: steps[n].provider, action: steps[n].action, attempt: 1, status: r?.status ?? null, record: r, retry_in_ms: null });
    const next = () => {
      if (entry.run.status !== "running") return;
      if (n >= steps.length) return finish("success", null);
      const reused = taken(n);
      if (reused) {
        entry.steps.push(reused);
        void progress("finished", reused);
        n++;
        return next();
      }
      void progress("started", null);
      setTimeout(() => {
        if (entry.run.status !== "running") return;
        const r = stepRecord(runId, n, steps[n], "success");
        entry.steps.push(r);
        void progress("finished", r);
        n++;
        next();
      }, 700);
    };
    setTimeout(next, 200);
    return runId;
  }

  function detailOf(runId: string) {
    const r = state.runs.find((x) => x.run.id === runId);
    if (!r) fail("not_found", `no run ${runId}`);
    const replays = state.runs.filter((x) => x.run.replay_of === runId).map((x) => ({ ...x.run })).reverse();
    return { run: { ...r.run }, steps: [...r.steps], replays, trigger: r.trigger ?? null };
  }

  return { addRun, startRun, detailOf };
}

export type Runs = ReturnType<typeof createRuns>;

/** Running plans and steps, replaying, cancelling, the run log and its stats. */
export function runHandlers(state: MockState, plans: Plans, runs: Runs): Record<string, Handler> {
  const { current } = plans;
  const { startRun, detailOf } = runs;
  return {
    execute_plan: (a) => startRun(current(String(a.planId)), { live: true }),
    replay_run: (a) => {
      const original = detailOf(String(a.runId));
      const p = current(String(original.run.plan_id));
      const firstFailed = original.steps.find((s) => s.status === "error" || s.status === "timeout")?.step_number ?? 0;
      const from = typeof a.fromStep === "number" ? a.fromStep - 1 : firstFailed;
      return startRun(p, { live: true, trigger: "replay", replay: { of: original.run.id, from } });
    },
    execute_step: (a) => {
      const step = a.step as PlanFile["steps"][number];
      mustBeValid({ name: "step test", steps: [step] });
      return stepRecord("test", 0, step, "success");
    },
    execute_step_with_trigger: (a) => {
      const step = a.step as PlanFile["steps"][number];
      mustBeValid({ name: "step test", steps: [step] });
      return stepRecord("test", 0, step, "success");
    },
    cancel_run: (a) => {
      const r = state.runs.find((x) => x.run.id === a.runId);
      if (!r || r.run.status !== "running") return false;
      r.run.status = "cancelled";
      r.run.finished_at = now();
      void emit("run-finished", { run_id: r.run.id, plan_name: r.run.plan_name, status: "cancelled", error: "the run was cancelled", started_at: r.run.started_at, finished_at: r.run.finished_at });
      return true;
    },
    list_runs: (a) => {
      const f = a.filter as { plan_id: string | null; status: string | null; since: string | null; until: string | null };
      const page = a.page as { limit: number; offset: number };
      const all = state.runs
        .map((r) => r.run)
        .filter((r) => (!f.plan_id || r.plan_id === f.plan_id) && (!f.status || r.status === f.status) && (!f.since || r.started_at >= f.since) && (!f.until || r.started_at < f.until))
        .sort((x, y) => y.started_at.localeCompare(x.started_at));
      return { runs: all.slice(page.offset, page.offset + page.limit), total: all.length };
    },
    get_run: (a) => detailOf(String(a.runId)),
    stats: () => {
      const runs = state.runs.map((r) => r.run);
      const count = (s: RunStatus) => runs.filter((r) => r.status === s).length;
      const finals = state.runs.flatMap((r) => r.steps.filter((s) => s.status !== "retrying" && s.status !== "skipped"));
      const byProvider = new Map<string, StepRecord[]>();
      for (const s of finals) byProvider.set(s.provider, [...(byProvider.get(s.provider) ?? []), s]);
      return {
        since: now(-86_400_000),
        runs: { total: runs.length, running: count("running"), success: count("success"), failed: count("failed"), cancelled: count("cancelled"), interrupted: count("interrupted") },
        providers: [...byProvider.entries()].map(([provider, list]) => ({
          provider,
          total: list.length,
          successes: list.filter((s) => s.status === "success").length,
          success_rate: list.filter((s) => s.status === "success").length / list.length,
          avg_latency_ms: list.reduce((t, s) => t + s.latency_ms, 0) / list.length,
          max_latency_ms: Math.max(...list.map((s) => s.latency_ms)),
        })),
        slowest_steps: [...finals].sort((x, y) => y.latency_ms - x.latency_ms).slice(0, 5).map((s) => ({
          run_id: s.run_id,
          plan_name: state.runs.find((r) => r.run.id === s.run_id)?.run.plan_name ?? "",
          step_number: s.step_number,
          provider: s.provider,
          action: s.action,
          latency_ms: s.latency_ms,
        })),
      };
    },
  };
}

/** Dry runs: every step gets its canned output at once. */
export function dryRunHandlers(): Record<string, Handler> {
  return {
    dry_run_plan: (a) => {
      const plan = mustBeValid(a.plan);
      const started = now();
      return {
        run_id: "dry-run-1",
        plan_name: plan.name,
        status: "success",
        started_at: started,
        finished_at: now(),
        error: null,
        steps: plan.steps.map((s, n) => stepRecord("dry-run-1", n, s, "success")),
      };
    },
    cancel_dry_run: () => false,
  };
}
