// A run as its page shows it: one row per step from the log, brought up to date
// by the live events, and what a step's record says in words (a skipped
// condition's compared values, a loop's counts, a result taken over by a replay).
import type { CompareOp, RunStatus, StepRecord, Value } from "../bindings";
import type { LiveRun } from "./live.svelte";
import { isObject } from "./plan";

export type StepRow = {
  stepNumber: number;
  provider: string;
  action: string;
  stepId: string | null;
  /** The final status, `running`, `pending` (not reached yet) or `not_run`. */
  status: string;
  final: StepRecord | null;
  attempts: StepRecord[];
  attempt: number;
  /** A running `for_each` step's items so far. */
  items: { done: number; total: number; failed: number } | null;
};

export type PlanStepInfo = { provider: string; action: string; id?: string | null };

/** Rows for a run: the log's records, plus records and progress that arrived as events since. */
export function stepRows(
  detail: { run: { status: RunStatus }; steps: StepRecord[] } | null,
  liveRun: LiveRun | undefined,
  planSteps: PlanStepInfo[],
): StepRow[] {
  const records = [...(detail?.steps ?? [])];
  for (const ls of Object.values(liveRun?.steps ?? {})) {
    const r = ls.record;
    if (r && !records.some((x) => x.step_number === r.step_number && x.attempt === r.attempt && x.status === r.status)) records.push(r);
  }
  records.sort(
    (a, b) => a.step_number - b.step_number || a.attempt - b.attempt || Number(a.status !== "retrying") - Number(b.status !== "retrying"),
  );
  const byStep = new Map<number, StepRecord[]>();
  for (const r of records) {
    const list = byStep.get(r.step_number) ?? [];
    list.push(r);
    byStep.set(r.step_number, list);
  }
  const running = (liveRun?.status ?? detail?.run.status) === "running";
  const liveSteps = liveRun?.steps ?? {};
  const count = Math.max(
    byStep.size ? Math.max(...byStep.keys()) + 1 : 0,
    running ? (liveRun?.stepCount ?? planSteps.length) : 0,
    ...Object.keys(liveSteps).map((k) => Number(k) + 1),
  );
  const out: StepRow[] = [];
  for (let n = 0; n < count; n++) {
    const attempts = byStep.get(n) ?? [];
    const last = attempts[attempts.length - 1] ?? null;
    const ls = liveSteps[n];
    const plan = planSteps[n];
    let status: string = last?.status ?? (running ? "pending" : "not_run");
    if (running && ls && (ls.status === "running" || (ls.record && (!last || ls.record.attempt > last.attempt)))) {
      status = ls.status;
    }
    out.push({
      stepNumber: n,
      provider: last?.provider || ls?.provider || plan?.provider || "",
      action: last?.action || ls?.action || plan?.action || "",
      stepId: last?.step_id ?? plan?.id ?? null,
      status,
      final: last,
      attempts,
      attempt: Math.max(last?.attempt ?? 0, ls?.attempt ?? 0),
      items: status === "running" ? (ls?.items ?? null) : null,
    });
  }
  return out;
}

/** One comparison of a skipped step's condition, as the log keeps it. */
export type Compared = { left: Value; op: CompareOp; right?: Value; holds: boolean };

/** The comparisons a `when` made (metadata.condition), or null. */
export function comparedOf(record: StepRecord): Compared[] | null {
  const c = record.metadata?.condition;
  if (!Array.isArray(c)) return null;
  return c.filter(isObject).map((x) => ({
    left: x.left ?? null,
    op: String(x.op) as CompareOp,
    right: "right" in x ? x.right : undefined,
    holds: x.holds === true,
  }));
}

/** The run a replay took this step's result over from (metadata.reused_from_run), or null. */
export function reusedFrom(record: StepRecord): string | null {
  const v = record.metadata?.reused_from_run;
  return typeof v === "string" ? v : null;
}

/** A `for_each` step's counts (metadata), or null. */
export function itemCounts(record: StepRecord): { succeeded: number; failed: number; skipped: number; total: number } | null {
  if (!record.items) return null;
  const m = record.metadata ?? {};
  const items = record.items;
  const count = (key: string, statuses: string[]) =>
    typeof m[key] === "number" ? (m[key] as number) : items.filter((i) => statuses.includes(i.status)).length;
  return {
    succeeded: count("succeeded", ["success"]),
    failed: count("failed", ["error", "timeout"]),
    skipped: count("skipped", ["skipped"]),
    total: items.length,
  };
}

/** Whether "Run again from here" is offered on a step of a run with `runStatus`. */
export function replayableRun(runStatus: RunStatus): boolean {
  return runStatus === "failed" || runStatus === "interrupted" || runStatus === "cancelled";
}

/** The steps a replay may start from: the failed ones, and where an unfinished run stopped. */
export function replayableSteps(rows: StepRow[], runStatus: RunStatus): Set<number> {
  const out = new Set<number>();
  if (!replayableRun(runStatus)) return out;
  for (const r of rows) if (r.status === "error" || r.status === "timeout") out.add(r.stepNumber);
  if (runStatus !== "failed") {
    const stopped = rows.find((r) => !r.final || r.final.status === "retrying");
    if (stopped) out.add(stopped.stepNumber);
  }
  return out;
}
