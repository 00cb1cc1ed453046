// One listener per backend event for the whole app. Screens read what arrived
// from here, so nothing is missed between a command returning and a screen
// subscribing. Run progress reaches the screens only this way (none polls).
import type { ItemProgress, RunStatus, StepProgress, StepRecord, StepStatus, TriggerStatus, WebhookServerStatus } from "../bindings";
import { commands, events } from "../bindings";
import { call } from "./api";
import { showNotice } from "./notify.svelte";
import { askOnClose } from "./close-question";

export type LiveStep = {
  stepNumber: number;
  provider: string;
  action: string;
  attempt: number;
  /** `running` while an attempt is under way. */
  status: StepStatus | "running";
  record: StepRecord | null;
  retryInMs: number | null;
  /** A `for_each` step's items so far. */
  items: { done: number; total: number; failed: number } | null;
};

export type LiveRun = {
  runId: string;
  planName: string;
  stepCount: number | null;
  status: RunStatus;
  error: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  steps: Record<number, LiveStep>;
};

export const live = $state<{
  runs: Record<string, LiveRun>;
  /** Bumped when a run starts or finishes: lists reload. */
  runsVersion: number;
  /** Bumped when a schedule changes. */
  schedulesVersion: number;
  /** A run a notification asked to open. */
  openRun: string | null;
  /** The latest status of each plan's event trigger that changed (by plan id). */
  triggers: Record<string, TriggerStatus>;
  /** The webhook server's status, once it changed. */
  webhookServer: WebhookServerStatus | null;
}>({ runs: {}, runsVersion: 0, schedulesVersion: 0, openRun: null, triggers: {}, webhookServer: null });

function ensureRun(runId: string, planName = ""): LiveRun {
  let run = live.runs[runId];
  if (!run) {
    live.runs[runId] = {
      runId,
      planName,
      stepCount: null,
      status: "running",
      error: null,
      startedAt: null,
      finishedAt: null,
      steps: {},
    };
    run = live.runs[runId];
  }
  return run;
}

export function applyStepProgress(p: StepProgress): void {
  const run = ensureRun(p.run_id);
  const prev = run.steps[p.step_number];
  // A late "started" must not undo a final record.
  if (p.phase === "started" && prev?.record && prev.status !== "retrying") return;
  run.steps[p.step_number] = {
    stepNumber: p.step_number,
    provider: p.provider,
    action: p.action,
    attempt: p.attempt,
    status: p.phase === "started" ? "running" : (p.status ?? p.record?.status ?? "running"),
    record: p.record ?? prev?.record ?? null,
    retryInMs: p.retry_in_ms,
    items: prev?.items ?? null,
  };
}

export function applyItemProgress(p: ItemProgress): void {
  const run = ensureRun(p.run_id);
  const step = run.steps[p.step_number];
  const failed = (step?.items?.failed ?? 0) + (p.item.status === "error" || p.item.status === "timeout" ? 1 : 0);
  const items = { done: Math.max(p.done, step?.items?.done ?? 0), total: p.total, failed };
  if (step) step.items = items;
  else
    run.steps[p.step_number] = {
      stepNumber: p.step_number,
      provider: "",
      action: "",
      attempt: 1,
      status: "running",
      record: null,
      retryInMs: null,
      items,
    };
}

let started = false;
const unlisteners: (() => void)[] = [];

/** Listen to every backend event (once). */
export async function startLive(): Promise<void> {
  if (started) return;
  started = true;
  const add = async (p: Promise<() => void>) => {
    try {
      unlisteners.push(await p);
    } catch {
      /* no event bridge: nothing live to show */
    }
  };
  await Promise.all([
    add(
      events.runStarted.listen((e) => {
        const run = ensureRun(e.payload.run_id, e.payload.plan_name);
        run.planName = e.payload.plan_name;
        run.stepCount = e.payload.step_count;
        run.startedAt = e.payload.started_at;
        live.runsVersion++;
      }),
    ),
    add(events.stepProgress.listen((e) => applyStepProgress(e.payload))),
    add(events.itemProgress.listen((e) => applyItemProgress(e.payload))),
    add(
      events.runFinished.listen((e) => {
        const run = ensureRun(e.payload.run_id, e.payload.plan_name);
        run.status = e.payload.status;
        run.error = e.payload.error;
        run.startedAt = e.payload.started_at;
        run.finishedAt = e.payload.finished_at;
        live.runsVersion++;
      }),
    ),
    add(
      events.scheduleChanged.listen(() => {
        live.schedulesVersion++;
      }),
    ),
    add(
      events.triggerChanged.listen((e) => {
        live.triggers[e.payload.plan_id] = e.payload.status;
      }),
    ),
    add(
      events.webhookServerChanged.listen((e) => {
        live.webhookServer = e.payload.status;
      }),
    ),
    add(
      events.notice.listen((e) => {
        const n = e.payload;
        const link = n.run_id ? { href: `#/runs/${encodeURIComponent(n.run_id)}`, label: "Open run" } : undefined;
        showNotice(`${n.title}: ${n.body}`, n.kind === "failure" || n.kind === "auto_paused" || n.kind === "keeps_running" ? "info" : "success", link);
      }),
    ),
    add(
      events.openRun.listen((e) => {
        live.openRun = e.payload.run_id;
      }),
    ),
    add(
      events.closeAsked.listen(() => {
        void askOnClose();
      }),
    ),
  ]);
  // A notification clicked before the window listened.
  try {
    const pending = await call(commands.takeOpenRun());
    if (pending) live.openRun = pending;
  } catch {
    /* nothing to open */
  }
}

export function stopLive(): void {
  for (const u of unlisteners.splice(0)) {
    try {
      u();
    } catch {
      /* the bridge is gone already */
    }
  }
  started = false;
}
