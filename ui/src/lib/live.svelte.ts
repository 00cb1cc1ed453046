// One listener per backend event for the whole app. Screens read what arrived
// from here, so nothing is missed between a command returning and a screen
// subscribing.
import type { RunStatus, StepProgress, StepRecord, StepStatus } from "../bindings";
import { commands, events } from "../bindings";
import { call } from "./api";
import { showNotice } from "./notify.svelte";

export type LiveStep = {
  stepNumber: number;
  provider: string;
  action: string;
  attempt: number;
  /** `running` while an attempt is under way. */
  status: StepStatus | "running";
  record: StepRecord | null;
  retryInMs: number | null;
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
}>({ runs: {}, runsVersion: 0, schedulesVersion: 0, openRun: null });

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
  const run = ensureRun(p.runId);
  const prev = run.steps[p.stepNumber];
  // A late "started" must not undo a final record.
  if (p.phase === "started" && prev?.record && prev.status !== "retrying") return;
  run.steps[p.stepNumber] = {
    stepNumber: p.stepNumber,
    provider: p.provider,
    action: p.action,
    attempt: p.attempt,
    status: p.phase === "started" ? "running" : (p.status ?? p.record?.status ?? "running"),
    record: p.record ?? prev?.record ?? null,
    retryInMs: p.retryInMs,
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
      /* no event bridge (a plain browser): the screens still poll */
    }
  };
  await Promise.all([
    add(
      events.runStarted.listen((e) => {
        const run = ensureRun(e.payload.runId, e.payload.planName);
        run.planName = e.payload.planName;
        run.stepCount = e.payload.stepCount;
        run.startedAt = e.payload.startedAt;
        live.runsVersion++;
      }),
    ),
    add(events.stepProgress.listen((e) => applyStepProgress(e.payload))),
    add(
      events.runFinished.listen((e) => {
        const run = ensureRun(e.payload.runId, e.payload.planName);
        run.status = e.payload.status;
        run.error = e.payload.error;
        run.startedAt = e.payload.startedAt;
        run.finishedAt = e.payload.finishedAt;
        live.runsVersion++;
      }),
    ),
    add(
      events.scheduleChanged.listen(() => {
        live.schedulesVersion++;
      }),
    ),
    add(
      events.notice.listen((e) => {
        const n = e.payload;
        const link = n.runId ? { href: `#/runs/${encodeURIComponent(n.runId)}`, label: "Open run" } : undefined;
        showNotice(`${n.title}: ${n.body}`, n.kind === "failure" || n.kind === "auto_paused" ? "info" : "success", link, 10000);
      }),
    ),
    add(
      events.openRun.listen((e) => {
        live.openRun = e.payload.runId;
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

/** Bring the live view of a run in line with what the log says (a fallback when events are late). */
export function syncRun(detail: { run: { id: string; planName: string; status: RunStatus; error: string | null; startedAt: string; finishedAt: string | null }; steps: StepRecord[] }): void {
  const run = ensureRun(detail.run.id, detail.run.planName);
  run.status = detail.run.status;
  run.error = detail.run.error;
  run.startedAt = detail.run.startedAt;
  run.finishedAt = detail.run.finishedAt;
  for (const r of detail.steps) {
    const prev = run.steps[r.stepNumber];
    if (prev && prev.record && prev.record.attempt > r.attempt) continue;
    run.steps[r.stepNumber] = {
      stepNumber: r.stepNumber,
      provider: r.provider,
      action: r.action,
      attempt: r.attempt,
      status: r.status,
      record: r,
      retryInMs: null,
    };
  }
}
