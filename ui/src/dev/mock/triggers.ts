// Schedules and triggers: their words, previews, statuses, and the webhook URLs.
import { emit } from "@tauri-apps/api/event";
import cronstrue from "cronstrue";
import type { PlanFile, ScheduledJob, Trigger, TriggerStatus, Value } from "../../bindings";
import { type Handler, type MockState, type StoredPlan, fail, now } from "./state";
import type { Plans } from "./plans";

export function preview(expr: string, tz: string | null) {
  let description: string;
  try {
    description = cronstrue.toString(expr, { use24HourTimeFormat: true });
  } catch (e) {
    fail("invalid_plan", "invalid schedule", [{ path: "trigger.cron_expression", kind: "bad_cron", message: String(e), severity: "error" }]);
  }
  const start = Math.ceil(Date.now() / 3_600_000) * 3_600_000;
  return {
    description,
    timezone: tz || "Europe/Berlin",
    next: [0, 1, 2, 3, 4].map((i) => new Date(start + i * 3_600_000).toISOString()),
    warnings: [],
  };
}

/** The plans list's words for a trigger (the app's own come from the engine). */
export function describeTrigger(t: Trigger): string {
  if (t.type === "manual") return "Only when run by hand";
  if (t.type === "cron") {
    try {
      return `On a schedule: ${cronstrue.toString(t.cron_expression, { use24HourTimeFormat: true })}`;
    } catch {
      return `On the schedule \`${t.cron_expression}\``;
    }
  }
  if (t.type === "webhook") return "When this URL is called";
  if (t.type === "email") return `When an email arrives in ${t.mailbox ?? "INBOX"}${t.username ? ` of ${t.username}` : ""}`;
  if (t.type === "feed") return `When the feed ${t.url} has a new item`;
  if (t.type === "telegram") return `When the Telegram bot gets ${t.command || "a message"}`;
  return `When a new item appears at ${t.url}`;
}

const WEBHOOK_BASE = "http://127.0.0.1:8737";

/** One backend's webhook tokens and trigger checks. */
export function createTriggers(plans: Plans) {
  const { docOf, summary } = plans;

  // Each webhook plan's token, made on first use; a new one on "New URL".
  const hookTokens = new Map<string, string>();
  let tokenCounter = 0;
  function hookToken(pid: string): string {
    let t = hookTokens.get(pid);
    if (!t) {
      tokenCounter++;
      t = `tok${tokenCounter}${"x".repeat(20)}`.slice(0, 24);
      hookTokens.set(pid, t);
    }
    return t;
  }
  const lastChecks = new Map<string, string>();

  /** A plan's trigger status: watching while it is active (as if the tray app ran), else inactive. */
  function triggerStatus(p: StoredPlan): TriggerStatus | null {
    const doc = docOf(p);
    const t = doc.trigger;
    if (!t || t.type === "manual") return null;
    const active = doc.status === "active";
    const polling = t.type !== "webhook" && t.type !== "cron";
    const interval = polling && "interval_s" in t && typeof t.interval_s === "number" ? t.interval_s : 120;
    const last = lastChecks.get(p.id) ?? null;
    return {
      plan_id: p.id,
      plan_name: doc.name,
      kind: t.type,
      description: describeTrigger(t),
      health: active ? "watching" : "inactive",
      watched_by: active ? "this app" : null,
      last_check_at: last,
      last_item_at: null,
      last_error: null,
      last_error_at: null,
      failures: 0,
      next_check_at: active && polling ? new Date(Date.parse(last ?? now()) + interval * 1000).toISOString() : null,
      note: null,
      queued: 0,
      webhook_url: t.type === "webhook" ? `${WEBHOOK_BASE}/hooks/${hookToken(p.id)}` : null,
    };
  }
  function schedule(p: StoredPlan): ScheduledJob | null {
    const doc = docOf(p);
    const trig = doc.trigger;
    if (!trig || trig.type !== "cron") return null;
    const pr = preview(trig.cron_expression, trig.timezone ?? null);
    const s = summary(p);
    return {
      plan_id: p.id,
      plan_name: doc.name,
      cron_expression: trig.cron_expression,
      timezone: pr.timezone,
      description: pr.description,
      next_run_at: p.paused || doc.status !== "active" ? null : pr.next[0],
      last_run_status: s.last_run_status,
      last_run_at: s.last_run_at,
      paused: p.paused,
      active: doc.status === "active",
      missed_total: 0,
    };
  }

  return { hookTokens, hookToken, lastChecks, triggerStatus, schedule };
}

export type Triggers = ReturnType<typeof createTriggers>;

export function triggerHandlers(state: MockState, plans: Plans, triggers: Triggers): Record<string, Handler> {
  const { current, docOf, store } = plans;
  const { hookTokens, hookToken, lastChecks, triggerStatus, schedule } = triggers;
  return {
    list_schedules: () => state.plans.map(schedule).filter(Boolean),
    get_schedule: (a) => schedule(current(String(a.planId))),
    set_schedule: (a) => {
      const p = current(String(a.planId));
      const doc = { ...docOf(p) };
      const t = a.trigger as Omit<Extract<PlanFile["trigger"], { type: "cron" }>, "type"> | null;
      doc.trigger = t ? { type: "cron", ...t } : { type: "manual" };
      return store(doc, p);
    },
    pause_schedule: (a) => {
      current(String(a.planId)).paused = true;
      return null;
    },
    resume_schedule: (a) => {
      current(String(a.planId)).paused = false;
      return null;
    },
    pause_all_schedules: () => null,
    resume_all_schedules: () => null,
    preview_schedule: (a) => preview(String(a.cronExpression), (a.timezone as string | null) ?? null),
    list_triggers: () => state.plans.map(triggerStatus).filter((s) => s !== null && s.kind !== "cron"),
    get_trigger: (a) => {
      const st = triggerStatus(current(String(a.planId)));
      if (!st) fail("bad_input", "the plan has no trigger besides starting it by hand");
      return st;
    },
    describe_trigger: (a) => describeTrigger(a.trigger as Trigger),
    check_trigger: (a) => {
      const p = current(String(a.planId));
      const t = docOf(p).trigger;
      if (docOf(p).status !== "active") fail("bad_input", "the plan is off: turn it on to check its trigger");
      if (!t || t.type === "manual" || t.type === "cron" || t.type === "webhook") fail("bad_input", "the plan's trigger does not look for new items");
      const first = !lastChecks.has(p.id);
      lastChecks.set(p.id, now());
      void emit("trigger-changed", { plan_id: p.id, status: triggerStatus(p) });
      return { baseline: first, new_items: 0, passed_over: 0, more_waiting: false, error: null, note: null };
    },
    fetch_trigger_sample: (a) => {
      const t = a.trigger as Trigger;
      const item: Value = t.type === "email"
        ? { message_id: "<1@example.com>", from: "Ada <ada@example.com>", to: ["me@example.com"], cc: [], subject: "Invoice 42", date: now(), text: "Please find the invoice attached.", html: null, attachments: [] }
        : t.type === "feed"
          ? { id: "https://blog.example.com/p/1", title: "A new post", link: "https://blog.example.com/p/1", published: now(), updated: null, summary: "What is new.", content: null, authors: ["Ada"] }
          : t.type === "telegram"
            ? { update_id: 1, message_id: 7, chat: { id: 123, type: "private" }, text: "/summarize today", date: 1700000000 }
            : { id: 1, title: "An item" };
      return { events: [{ type: t.type, item }], note: null };
    },
    listen_for_test_event: () => ({ type: "webhook", payload: { hello: "world" }, headers: { "content-type": "application/json" }, query: {} }),
    stop_listening: () => null,
    regenerate_webhook_url: (a) => {
      const p = current(String(a.planId));
      if (docOf(p).trigger?.type !== "webhook") fail("bad_input", "the plan is not started by a webhook");
      hookTokens.delete(p.id);
      const url = `${WEBHOOK_BASE}/hooks/${hookToken(p.id)}`;
      void emit("trigger-changed", { plan_id: p.id, status: triggerStatus(p) });
      return url;
    },
    webhook_server: () => ({ listening: true, address: "127.0.0.1:8737", base_url: WEBHOOK_BASE, error: null, exposure: null }),
  };
}
