// Dates, durations and statuses as a person reads them.
import type { RunStatus, StepStatus } from "../bindings";

export function parseDate(s: string | null | undefined): Date | null {
  if (!s) return null;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function formatDateTime(s: string | null | undefined, timeZone?: string): string {
  const d = parseDate(s);
  if (!d) return "—";
  try {
    return d.toLocaleString(undefined, {
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      timeZone: timeZone || undefined,
    });
  } catch {
    return d.toLocaleString();
  }
}

export function formatRelative(s: string | null | undefined, now = Date.now()): string {
  const d = parseDate(s);
  if (!d) return "—";
  const diff = d.getTime() - now;
  const abs = Math.abs(diff);
  const units: [number, Intl.RelativeTimeFormatUnit][] = [
    [86_400_000, "day"],
    [3_600_000, "hour"],
    [60_000, "minute"],
    [1000, "second"],
  ];
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  for (const [ms, unit] of units) {
    if (abs >= ms || unit === "second") return rtf.format(Math.round(diff / ms), unit);
  }
  return d.toLocaleString();
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  return `${Math.round(ms)} ms`;
}

export function formatDuration(startIso: string | null | undefined, endIso: string | null | undefined): string {
  const a = parseDate(startIso);
  const b = parseDate(endIso);
  if (!a || !b) return "—";
  const ms = b.getTime() - a.getTime();
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m} min ${s} s`;
}

export function formatPercent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined) return "—";
  return `${Math.round(rate * 1000) / 10}%`;
}

const RUN_LABELS: Record<RunStatus, string> = {
  running: "Running",
  success: "Succeeded",
  failed: "Failed",
  cancelled: "Cancelled",
  interrupted: "Interrupted",
};

export function runStatusLabel(s: RunStatus | null | undefined): string {
  return s ? RUN_LABELS[s] : "Never run";
}

const STEP_LABELS: Record<StepStatus | "running" | "pending", string> = {
  success: "Succeeded",
  error: "Failed",
  retrying: "Retrying",
  timeout: "Timed out",
  skipped: "Skipped",
  unknown: "Outcome unknown",
  running: "Running",
  pending: "Waiting",
};

export function stepStatusLabel(s: StepStatus | "running" | "pending" | string): string {
  return (STEP_LABELS as Record<string, string>)[s] ?? s;
}

export function pretty(v: unknown): string {
  if (v === undefined) return "";
  if (typeof v === "string") return v;
  try {
    return JSON.stringify(v, null, 2);
  } catch {
    return String(v);
  }
}

export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // The webview may not grant the async clipboard: fall back to a selection.
    const ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.className = "offscreen";
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    ta.remove();
    return ok;
  }
}

/** A step a dry run answered from its stub (it has side effects: nothing was sent). */
export function isDryRunStub(record: { metadata?: unknown }): boolean {
  const m = record.metadata;
  return typeof m === "object" && m !== null && (m as Record<string, unknown>).dry_run === true;
}
