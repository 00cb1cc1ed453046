// The trigger types a plan can have, in the order the editor offers them, with a
// fresh trigger of each. (A trigger in words comes from the engine: the plan
// summary's `trigger_description`, or `describeTrigger`.)
import type { PlanIssue, Trigger, TriggerStatus } from "../bindings";

export type TriggerKind = Trigger["type"];
export type EventKind = Exclude<TriggerKind, "manual" | "cron">;
export type TriggerOf<K extends TriggerKind> = Extract<Trigger, { type: K }>;

export type TriggerChoice = {
  kind: TriggerKind;
  label: string;
  hint: string;
  fresh: () => Trigger;
};

export const TRIGGER_KINDS: TriggerChoice[] = [
  { kind: "manual", label: "By hand", hint: "When you start it", fresh: () => ({ type: "manual" }) },
  {
    kind: "cron",
    label: "On a schedule",
    hint: "Every day at 9:00, every hour…",
    fresh: () => ({ type: "cron", cron_expression: "0 9 * * *", catch_up: "run_once", overlap: "skip" }),
  },
  {
    kind: "webhook",
    label: "When a URL is called",
    hint: "Another app calls the plan's own address",
    fresh: () => ({ type: "webhook", respond: "async" }),
  },
  {
    kind: "email",
    label: "When an email arrives",
    hint: "A new mail in a mailbox (IMAP)",
    fresh: () => ({
      type: "email",
      host: "",
      port: 993,
      security: "tls",
      username: "",
      credential: "",
      mailbox: "INBOX",
      interval_s: 120,
    }),
  },
  {
    kind: "feed",
    label: "When a feed has a new item",
    hint: "A blog or news feed (RSS, Atom)",
    fresh: () => ({ type: "feed", url: "", interval_s: 600 }),
  },
  {
    kind: "telegram",
    label: "When the bot gets a message",
    hint: "A message to your Telegram bot",
    fresh: () => ({ type: "telegram", credential: "" }),
  },
  {
    kind: "poll",
    label: "When an API lists a new item",
    hint: "A new entry in a web service's list",
    fresh: () => ({ type: "poll", url: "", items: "$.items", id: "$.id", interval_s: 300 }),
  },
];

export function triggerKind(t: Trigger | undefined | null): TriggerKind {
  return t?.type ?? "manual";
}

export function isEventKind(kind: TriggerKind): kind is EventKind {
  return kind !== "manual" && kind !== "cron";
}

/** The event triggers that look for new items every so often ("Check now" applies). */
export function isPolling(kind: TriggerKind): boolean {
  return kind === "email" || kind === "feed" || kind === "telegram" || kind === "poll";
}

/** Where an event trigger stands, in words. */
export function healthWords(s: TriggerStatus): string {
  switch (s.health) {
    case "watching":
      return s.kind === "webhook" ? "Listening: each call to its URL starts a run." : "Watching: each new item starts a run.";
    case "failing":
      return `Failing${s.failures > 1 ? ` (${s.failures} checks in a row)` : ""}: ${s.last_error ?? "the last check failed"}. It tries again by itself.`;
    case "inactive":
      return "Not watched: the plan is off, so nothing starts it.";
    case "not_running":
      return "Not running: triggers are watched only while Flowpilot runs (the tray app or flowpilot-cli serve).";
    default:
      return String(s.health);
  }
}

/** The issues of one field of the trigger (`trigger.host`), with those inside it. */
export function issuesAt(issues: PlanIssue[], path: string): PlanIssue[] {
  return issues.filter((i) => i.path === path || i.path.startsWith(path + ".") || i.path.startsWith(path + "["));
}

/** The issues under none of the given fields. */
export function issuesBesides(issues: PlanIssue[], paths: string[]): PlanIssue[] {
  return issues.filter((i) => i.path.startsWith("trigger.") && !paths.some((p) => i.path === p || i.path.startsWith(p + ".") || i.path.startsWith(p + "[")));
}

/** A copy of `t` with `patch` applied; an `undefined` value removes the key. */
export function patched<T extends Trigger>(t: T, patch: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...t };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out as T;
}

/** An optional text field: empty is left out. */
export function optText(s: string): string | undefined {
  return s.trim() === "" ? undefined : s;
}

/** A number field: empty (or not a number) is left out. */
export function optNumber(s: string): number | undefined {
  if (s.trim() === "") return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}
