// An in-memory stand-in for the Rust commands, for component tests and for
// looking at the UI in a plain browser (`npm run mock`). Not part of the app build.
//
// Its checks come from the one definition (schema-check.ts: the generated plan
// schema and the providers fixture's params schemas). It re-implements none of
// the engine's rules: runs and dry runs give every step a canned output (no
// references resolved, no condition evaluated, no loop over items, nothing
// stubbed), missing credentials are the fields the fixture declares for the
// providers a plan uses (no `http` auth credentials), and replays are never
// refused. Tests that need more override a handler (`install({cmd: fn})`) or
// seed runs with `addRun`.
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import cronstrue from "cronstrue";
import type {
  Connection, CredentialField, CredentialInfo, IntegrationDefinition, IntegrationSummary, OAuthStart, CredentialUse, DynamicTarget, HostReview, PlanFile, PlanIssue, PlanReview, PlanRow,
  PlanSummary, PlanVersion, ProviderInfo, RunRow, RunStatus, ScheduledJob, Settings, StepRecord, StepWrite, TargetClass,
  Trigger, TriggerStatus, Value,
} from "../bindings";
import providersFixture from "../test/fixtures/providers.json";
import { checkIntegrationText, checkPlan, checkPlanText } from "./schema-check";
import { changesSomething } from "../lib/words";

type Json = { [k: string]: Value };
type Handler = (args: Record<string, unknown>) => unknown;
type StoredPlan = { id: string; versions: PlanVersion[]; created_at: string; paused: boolean };

export type MockState = {
  plans: StoredPlan[];
  runs: { run: RunRow; steps: StepRecord[]; trigger?: Value }[];
  credentials: CredentialInfo[];
  settings: Settings;
  keychain: boolean;
  /** The person's own integration definitions (the built-ins are BUILTIN_INTEGRATIONS). */
  integrations: IntegrationDefinition[];
  /** OAuth 2.0 connections' states, by integration (absent: never connected). */
  connections: Record<string, Connection>;
  calls: { cmd: string; args: Record<string, unknown> }[];
};

export const providers = providersFixture as unknown as ProviderInfo[];

type BuiltinIntegration = {
  name: string;
  title: string;
  description: string;
  base_url: string;
  secrets: Record<string, { label: string; help: string; optional?: boolean }>;
  actions: Record<string, string>;
};

/** The five integrations that ship with Flowpilot (src-tauri/engine/integrations), as the screen lists them. */
export const BUILTIN_INTEGRATIONS: BuiltinIntegration[] = [
  {
    name: "notion", title: "Notion", description: "Pages and databases in your Notion workspace", base_url: "https://api.notion.com",
    secrets: { token: { label: "Internal integration token", help: "Notion → Settings → Connections → Develop or manage integrations; then share the pages and databases with the integration" } },
    actions: { append_blocks: "Add a paragraph to a page", create_page: "Create a page in a database", query_database: "Query a database" },
  },
  {
    name: "telegram", title: "Telegram", description: "Messages and files from your Telegram bot", base_url: "https://api.telegram.org",
    secrets: { bot_token: { label: "Bot token", help: "Talk to @BotFather in Telegram: /newbot gives the token (123456:ABC-…)." } },
    actions: { send_document: "Send a document by URL", send_message: "Send a message" },
  },
  {
    name: "slack", title: "Slack", description: "Messages in Slack, by incoming webhook or as your app's bot", base_url: "https://slack.com/api",
    secrets: {
      bot_token: { label: "Bot user OAuth token (xoxb-…)", help: "api.slack.com/apps → your app → OAuth & Permissions (scope chat:write)", optional: true },
      webhook_url: { label: "Incoming webhook URL", help: "api.slack.com/apps → your app → Incoming Webhooks. The URL is the secret.", optional: true },
    },
    actions: { chat_post_message: "Post a message as the bot", post: "Post through the incoming webhook" },
  },
  {
    name: "discord", title: "Discord", description: "Messages in a Discord channel through its webhook", base_url: "${secret.webhook_url}",
    secrets: { webhook_url: { label: "Webhook URL", help: "Discord → the channel's settings → Integrations → Webhooks → Copy Webhook URL. The URL is the secret." } },
    actions: { post: "Post a message" },
  },
  {
    name: "github", title: "GitHub", description: "Issues and comments in GitHub repositories", base_url: "https://api.github.com",
    secrets: { token: { label: "Personal access token", help: "github.com → Settings → Developer settings → Personal access tokens" } },
    actions: { comment: "Comment on an issue or pull request", create_issue: "Open an issue" },
  },
];

/** Names a definition may not take: every provider that comes with Flowpilot. */
const RESERVED = [...new Set([...providers.map((p) => p.name), ...BUILTIN_INTEGRATIONS.map((b) => b.name)])];

function builtinDefinition(b: BuiltinIntegration): IntegrationDefinition {
  return {
    name: b.name,
    title: b.title,
    format_version: 1,
    description: b.description,
    base_url: b.base_url,
    secrets: b.secrets,
    actions: Object.fromEntries(Object.entries(b.actions).map(([k, title]) => [k, { title, method: "POST", path: `/${k}`, params: { type: "object" } }])),
  };
}

/** One's own integration as the provider catalogue lists it. */
function providerOf(def: IntegrationDefinition): ProviderInfo {
  const secrets = Object.entries(def.secrets ?? {});
  return {
    name: def.name,
    title: def.title,
    kind: "user_integration",
    aliases: [],
    description: def.description ?? "",
    credential_fields: secrets.map(([k]) => k),
    optional_credentials: secrets.filter(([, v]) => v.optional).map(([k]) => k),
    credentials: secrets.map(([k, v]) => ({ field: k, label: v.label, help: v.help ?? null, optional: v.optional ?? false })),
    actions: [
      ...Object.entries(def.actions).sort(([a], [b]) => a.localeCompare(b)).map(([k, a]) => ({
        name: k, title: a.title, description: a.description ?? a.title, params_schema: a.params as Value, side_effects: a.method !== "GET", example: a.example ?? null,
      })),
      { name: "raw_request", title: `Call any ${def.title} endpoint`, description: "A request to an endpoint the definition does not list", params_schema: { type: "object" }, side_effects: true, example: null },
    ],
  };
}

function now(offsetMs = 0): string {
  return new Date(Date.now() + offsetMs).toISOString();
}

let counter = 0;
function id(prefix: string): string {
  counter++;
  return `${prefix}-${counter}`;
}

function isObj(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function fail(code: string, message: string, issues?: PlanIssue[]): never {
  throw { code, message, issues: issues ?? null };
}

/** The fake's checks: the generated schemas (see schema-check.ts). */
export function validate(plan: unknown): PlanIssue[] {
  return checkPlan(plan, providers);
}

function mustBeValid(plan: unknown): PlanFile {
  const issues = validate(plan).filter((i) => i.severity !== "warning");
  if (issues.length > 0) fail("invalid_plan", `the plan has ${issues.length} problem(s)`, issues);
  return plan as PlanFile;
}

/** What the fake model drafts: fetch, summarise with a model, post to a webhook. */
export const DRAFTED_PLAN: Json = {
  name: "Morning digest",
  description: "Fetch the newest story, summarise it, post the summary.",
  steps: [
    { id: "fetch", provider: "http", action: "request", params: { method: "GET", url: "http://127.0.0.1:9/top" } },
    { id: "summary", provider: "openai", action: "chat_completion", params: { prompt: "Summarise: ${steps.fetch.output}" } },
    { provider: "webhook", action: "post_request", params: { url: "http://127.0.0.1:9/hook", payload: { text: "${steps.summary.output}" } } },
  ],
};

/** A step in words, from the fixture's action description and the step's URL or prompt. */
function plainStep(s: Value, i: number): string {
  if (!isObj(s)) return `${i + 1}. ?`;
  const p = isObj(s.params) ? s.params : {};
  const action = providers.find((x) => x.name === s.provider)?.actions.find((a) => a.name === s.action);
  const what = `${action?.description ?? "Run"} (${String(s.provider)}.${String(s.action)})`;
  const detail = p.url !== undefined ? `${p.method ? `${String(p.method)} ` : ""}${String(p.url)}` : p.prompt !== undefined ? String(p.prompt) : "";
  return `${i + 1}. ${what}${detail ? `: ${detail}` : ""}`;
}

function normalize(plan: PlanFile): PlanFile {
  return { ...plan, trigger: plan.trigger ?? { type: "manual" }, status: plan.status ?? "draft" };
}

/** The fields the fixture says a plan's providers need, less optional ones (no `http` auth). */
function declaredCredentials(plan: PlanFile): CredentialField[] {
  const out: CredentialField[] = [];
  for (const s of plan.steps) {
    const p = providers.find((x) => x.name === s.provider || x.aliases.includes(s.provider));
    for (const field of p?.credential_fields ?? []) {
      if (p!.optional_credentials?.includes(field) || out.some((o) => o.provider === p!.name && o.field === field)) continue;
      out.push({ provider: p!.name, field });
    }
  }
  return out;
}

/** The chat providers' own servers, when a step names no `base_url`. */
const DEFAULT_BASE_URLS: Record<string, string> = {
  openai: "https://api.openai.com",
  groq: "https://api.groq.com/openai",
};

/** Where a host is, by its name or literal address (the engine's `classify`, roughly). */
export function classifyHost(host: string): TargetClass {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "169.254.169.254" || h === "metadata.google.internal" || h === "metadata" || h === "fd00:ec2::254") return "metadata";
  if (h === "localhost" || h.endsWith(".localhost") || h === "::1" || h === "0.0.0.0" || /^127\./.test(h)) return "loopback";
  if (/^169\.254\./.test(h) || /^fe[89ab][0-9a-f]:/.test(h)) return "link_local";
  const m = /^(\d+)\.(\d+)\.\d+\.\d+$/.exec(h);
  if (m) {
    const [a, b] = [Number(m[1]), Number(m[2])];
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127)) return "private";
  }
  if (/^f[cd][0-9a-f]{2}:/.test(h) || h.endsWith(".local")) return "private";
  return "public";
}

/** The origin and host of an address written out in full; null when a `${...}` decides them. */
function literalOrigin(url: string): { origin: string; host: string } | null {
  const at = url.indexOf("://");
  if (at < 0) return null;
  const authority = url.slice(at + 3).split(/[/?#]/)[0];
  if (url.slice(0, at).includes("${") || authority.includes("${")) return null;
  try {
    const u = new URL(url);
    return { origin: u.origin, host: u.hostname.replace(/^\[|\]$/g, "") };
  } catch {
    return null;
  }
}

type Destination = { step: number; path: string; url: string; credentials: string[]; writes: boolean };

/** Every address a plan's steps contact, with the credentials sent there (the engine's `destinations`). */
function destinations(plan: PlanFile): Destination[] {
  const out: Destination[] = [];
  plan.steps.forEach((s, i) => {
    const p = providers.find((x) => x.name === s.provider || x.aliases.includes(s.provider));
    const credentials = [...new Set(p?.credential_fields ?? [])].map((f) => `${p!.name}/${f}`);
    const params = isObj(s.params) ? s.params : {};
    const writes = s.provider === "email" || changesSomething(s, s.provider === "http" || s.provider === "custom_api" || s.provider === "webhook");
    if ((s.provider === "http" || s.provider === "custom_api" || s.provider === "webhook") && typeof params.url === "string") {
      out.push({ step: i, path: `steps[${i}].params.url`, url: params.url, credentials, writes });
    } else if (s.action === "chat_completion") {
      const base = typeof params.base_url === "string" && params.base_url.trim() !== "" ? params.base_url : null;
      if (base) out.push({ step: i, path: `steps[${i}].params.base_url`, url: base, credentials, writes });
      else if (DEFAULT_BASE_URLS[p?.name ?? ""]) out.push({ step: i, path: `steps[${i}]`, url: `${DEFAULT_BASE_URLS[p!.name]}/v1/chat/completions`, credentials, writes });
    }
  });
  return out;
}

const CLASS_WORDS: Record<TargetClass, string> = {
  public: "on the internet",
  loopback: "this machine",
  private: "on the local network",
  link_local: "a link-local address",
  metadata: "a cloud metadata service",
};

/** What a plan would do once active (the engine's `review`, from the fixture's providers). */
export function reviewOf(plan: PlanFile, set: CredentialInfo[]): PlanReview {
  const hosts: HostReview[] = [];
  const dynamic_targets: DynamicTarget[] = [];
  const credentials: CredentialUse[] = [];
  const writes: StepWrite[] = [];
  const warnings = validate(plan).filter((i) => i.severity === "warning");
  const summary = (i: number) => plainStep(plan.steps[i] as unknown as Value, i);
  for (const d of destinations(plan)) {
    const fixed = literalOrigin(d.url);
    const place = fixed?.origin ?? d.url;
    if (fixed) {
      let h = hosts.find((x) => x.origin === fixed.origin);
      if (!h) {
        h = { origin: fixed.origin, host: fixed.host, class: classifyHost(fixed.host), steps: [], credentials: [], writes: false };
        hosts.push(h);
      }
      if (!h.steps.includes(d.step)) h.steps.push(d.step);
      for (const c of d.credentials) if (!h.credentials.includes(c)) h.credentials.push(c);
      h.writes ||= d.writes;
      if (h.class !== "public") {
        const bad = h.class === "metadata" || h.class === "link_local";
        warnings.push({
          path: d.path,
          kind: "private_target",
          severity: "warning",
          message: bad
            ? `\`${h.host}\` is ${CLASS_WORDS[h.class]}: a plan has no business reaching it; remove the step unless you wrote it yourself`
            : `\`${h.host}\` is ${CLASS_WORDS[h.class]}: fine for a server of your own, but a plan from elsewhere should not reach it without you knowing`,
        });
      }
    } else {
      dynamic_targets.push({ step: d.step, path: d.path, url: d.url, credentials: d.credentials });
    }
    for (const c of d.credentials) {
      const [provider, field] = c.split("/");
      let u = credentials.find((x) => x.provider === provider && x.field === field);
      if (!u) {
        u = { provider, field, is_set: set.some((x) => x.provider === provider && x.field === field), sent_to: [] };
        credentials.push(u);
      }
      if (!u.sent_to.includes(place)) u.sent_to.push(place);
    }
    if (d.writes && !writes.some((w) => w.step === d.step)) {
      const s = plan.steps[d.step];
      writes.push({ step: d.step, step_id: s.id ?? null, provider: s.provider, action: s.action, summary: summary(d.step), target: place });
    }
  }
  plan.steps.forEach((s, i) => {
    if (s.provider === "email" && !writes.some((w) => w.step === i)) {
      writes.push({ step: i, step_id: s.id ?? null, provider: s.provider, action: s.action, summary: summary(i), target: null });
    }
  });
  writes.sort((a, b) => a.step - b.step);
  let schedule: string | null = null;
  if (plan.trigger?.type === "cron") {
    try {
      schedule = cronstrue.toString(plan.trigger.cron_expression, { use24HourTimeFormat: true });
    } catch {
      schedule = plan.trigger.cron_expression;
    }
  }
  return { name: plan.name, status: plan.status ?? "draft", schedule, hosts, dynamic_targets, credentials, writes, warnings };
}

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
function describeTrigger(t: Trigger): string {
  if (t.type === "manual") return "Only when run by hand";
  if (t.type === "cron") {
    try {
      return `On a schedule: ${cronstrue.toString(t.cron_expression, { use24HourTimeFormat: true })}`;
    } catch {
      return `On the schedule \`${t.cron_expression}\``;
    }
  }
  if (t.type === "webhook") return "When its URL is called";
  if (t.type === "email") return `When an email arrives in ${t.mailbox ?? "INBOX"} of ${t.username || "the mailbox"}`;
  if (t.type === "feed") return `When ${t.url || "the feed"} has a new item`;
  if (t.type === "telegram") return t.command ? `When the bot gets ${t.command}` : "When the bot gets a message";
  return `When ${t.url || "the API"} lists a new item`;
}

const WEBHOOK_BASE = "http://127.0.0.1:8737";

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

export function createMockBackend(seed: { plans?: Value[]; runs?: boolean; keychain?: boolean } = {}) {
  const state: MockState = {
    plans: [],
    runs: [],
    credentials: [],
    settings: {
      notifications: true,
      notify_success_plans: [],
      start_at_login: false,
      retention_days: 30,
      retention_failed_days: 90,
      retention_max_runs: 10000,
      concurrency: 4,
      auto_pause_after: 5,
      catch_up_window_hours: 24,
      keep_running_when_closed: true,
    },
    keychain: seed.keychain ?? true,
    integrations: [],
    connections: {},
    calls: [],
  };

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
  function integrationSummary(def: IntegrationDefinition, builtin: boolean): IntegrationSummary {
    const isSet = (field: string) => state.credentials.some((c) => c.provider === def.name && c.field === field);
    return {
      name: def.name,
      title: def.title,
      description: def.description ?? "",
      builtin,
      actions: [...Object.keys(def.actions).sort(), "raw_request"],
      secrets: Object.entries(def.secrets ?? {}).map(([name, s]) => ({ name, label: s.label, help: s.help ?? null, optional: s.optional ?? false, set: isSet(name) })),
      connection: def.auth?.type === "oauth2" ? (state.connections[def.name] ?? { connected: false, state: null, detail: null }) : null,
      problems: [],
    };
  }
  function anyIntegration(name: string): { def: IntegrationDefinition; builtin: boolean } {
    const b = BUILTIN_INTEGRATIONS.find((x) => x.name === name);
    if (b) return { def: builtinDefinition(b), builtin: true };
    const own = state.integrations.find((x) => x.name === name);
    if (!own) fail("not_found", `no integration named \`${name}\``);
    return { def: own, builtin: false };
  }
  /** Connections begun with start_oauth_connect and not finished. */
  const connecting = new Set<string>();

  function current(pid: string): StoredPlan {
    const p = state.plans.find((x) => x.id === pid);
    if (!p) fail("not_found", `no plan with id ${pid}`);
    return p;
  }
  function rowOf(p: StoredPlan): PlanRow {
    const v = p.versions[p.versions.length - 1];
    return { id: p.id, version: v.version, plan: v.plan, created_at: p.created_at, updated_at: v.saved_at };
  }
  function docOf(p: StoredPlan): PlanFile {
    return p.versions[p.versions.length - 1].plan;
  }
  function store(plan: unknown, existing?: StoredPlan): PlanRow {
    const doc = normalize(mustBeValid(plan));
    if (existing) {
      existing.versions.push({ plan_id: existing.id, version: existing.versions.length + 1, plan: doc, saved_at: now() });
      return rowOf(existing);
    }
    if (state.plans.some((p) => docOf(p).name === doc.name)) fail("conflict", `a plan named “${doc.name}” exists`);
    const pid = id("plan");
    const entry = { id: pid, versions: [{ plan_id: pid, version: 1, plan: doc, saved_at: now() }], created_at: now(), paused: false };
    state.plans.push(entry);
    return rowOf(entry);
  }
  function summary(p: StoredPlan): PlanSummary {
    const doc = docOf(p);
    const last = state.runs.filter((r) => r.run.plan_id === p.id).sort((a, b) => b.run.started_at.localeCompare(a.run.started_at))[0];
    return {
      id: p.id,
      name: doc.name,
      description: doc.description ?? null,
      status: doc.status ?? "draft",
      trigger: doc.trigger ?? { type: "manual" },
      trigger_description: describeTrigger(doc.trigger ?? { type: "manual" }),
      version: p.versions.length,
      step_count: doc.steps.length,
      created_at: p.created_at,
      updated_at: p.versions[p.versions.length - 1].saved_at,
      last_run_status: last?.run.status ?? null,
      last_run_at: last?.run.started_at ?? null,
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
      finish(failAt >= 0 ? "failed" : "success", failAt >= 0 ? `step ${failAt + 1} failed: HTTP 503` : null);
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

  for (const plan of seed.plans ?? []) store(plan);
  if (seed.runs) {
    state.plans.forEach((p, i) => {
      for (let k = 0; k < 4; k++) {
        startRun(p, { live: false, failAt: k === 1 && i === 0 ? 1 : -1, startedAt: now(-(k * 5 + i) * 3_600_000), trigger: k % 2 ? "cron" : "manual" });
      }
    });
  }

  const handlers: Record<string, Handler> = {
    health: () => ({
      version: "0.1.0",
      tauri_version: "2.12.0",
      webview_version: "2.48.3",
      data_dir: "/home/me/.local/share/flowpilot",
      database: "/home/me/.local/share/flowpilot/flowpilot.db",
      schema_version: 3,
      keychain: state.keychain
        ? { available: true, message: null }
        : { available: false, message: "No Secret Service on the session bus. Install and start gnome-keyring (or KeePassXC with its Secret Service), then restart Flowpilot." },
      scheduler: {
        paused: false,
        scheduled_plans: state.plans.filter((p) => schedule(p)).length,
        running_schedules: state.plans.filter((p) => schedule(p)?.next_run_at).length,
      },
    }),
    providers: () => [...providers, ...state.integrations.map(providerOf)],
    take_open_run: () => null,
    list_plans: () => state.plans.map(summary),
    get_plan: (a) => {
      const p = current(String(a.id));
      const doc = docOf(p);
      return {
        plan: rowOf(p),
        required_providers: [...new Set(doc.steps.map((s) => s.provider))],
        plain_english_steps: doc.steps.map((s, i) => plainStep(s as unknown as Value, i)),
        missing_credentials: handlers.missing_credentials({ plan: doc }),
        warnings: [],
      };
    },
    create_plan: (a) => store(a.plan),
    update_plan: (a) => store(a.plan, current(String(a.id))),
    delete_plan: (a) => {
      current(String(a.id));
      state.plans = state.plans.filter((p) => p.id !== a.id);
      return null;
    },
    duplicate_plan: (a) => {
      const doc = { ...docOf(current(String(a.id))) };
      doc.name = `${doc.name} (copy)`;
      doc.status = "draft";
      return store(doc);
    },
    plan_versions: (a) => current(String(a.id)).versions,
    restore_plan_version: (a) => {
      const p = current(String(a.id));
      const v = p.versions.find((x) => x.version === a.version);
      if (!v) fail("not_found", `no version ${String(a.version)}`);
      return store(v.plan, p);
    },
    set_plan_on: (a) => {
      const p = current(String(a.id));
      const last = p.versions[p.versions.length - 1];
      const status = a.on ? "active" : last.plan.status === "active" ? "draft" : last.plan.status;
      // On/off changes the current version in place (no new version).
      last.plan = { ...last.plan, status };
      if (a.on) p.paused = false;
      return rowOf(p);
    },
    import_plan_copy: (a) => {
      const checked = checkPlanText(String(a.text), providers);
      if (!checked.plan) fail("invalid_plan", "the plan has problems", checked.issues);
      const doc = { ...(checked.plan as unknown as PlanFile), status: "draft" as const };
      let name = `${doc.name} (copy)`;
      for (let n = 2; state.plans.some((p) => docOf(p).name === name); n++) name = `${doc.name} (copy ${n})`;
      return store({ ...doc, name: state.plans.some((p) => docOf(p).name === doc.name) ? name : doc.name });
    },
    import_plan_text: (a) => {
      // Not active, whatever the text says (an archived plan stays archived); a
      // plan of the same name gets a new version.
      const checked = checkPlanText(String(a.text), providers);
      if (!checked.plan || checked.issues.some((i) => i.severity !== "warning")) fail("invalid_plan", "the plan has problems", checked.issues);
      const doc = checked.plan as unknown as PlanFile;
      const status = doc.status === "archived" ? "archived" : "draft";
      const same = state.plans.find((p) => docOf(p).name.toLowerCase() === doc.name.toLowerCase());
      return store({ ...doc, status }, same);
    },
    review_plan: (a) => reviewOf(normalize(mustBeValid(a.plan)), state.credentials),
    review_stored_plan: (a) => reviewOf(docOf(current(String(a.id))), state.credentials),
    activate_plan: (a) => {
      const p = current(String(a.id));
      return store({ ...docOf(p), status: "active" }, p);
    },
    validate_plan: (a) => validate(a.plan),
    check_plan_text: (a) => checkPlanText(String(a.text), providers),
    import_plan: () => null,
    export_plan: (a) => `/home/me/${docOf(current(String(a.id))).name}.json`,
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
    draft_plan: (a) => {
      const r = a.request as { prompt: string; provider: string; base_url: string | null; model: string | null };
      if (r.prompt.trim() === "") fail("bad_input", "describe what the plan should do: the prompt is empty");
      if (r.provider === "openai_compatible" && (!r.base_url || !r.model)) {
        const issues: PlanIssue[] = [];
        if (!r.base_url) issues.push({ path: "base_url", kind: "required", message: "openai_compatible needs the address of your server", severity: "error" });
        if (!r.model) issues.push({ path: "model", kind: "required", message: "openai_compatible needs the name of a model", severity: "error" });
        fail("bad_input", `cannot ask openai_compatible: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, issues);
      }
      const plan = { ...DRAFTED_PLAN, original_prompt: r.prompt } as unknown as PlanFile;
      const issues = validate(plan);
      return {
        plan,
        valid: issues.length === 0,
        issues,
        required_providers: [...new Set(plan.steps.map((s) => s.provider))],
        plain_english_steps: plan.steps.map((s, i) => plainStep(s as unknown as Value, i)),
        missing_credentials: handlers.missing_credentials({ plan }),
        references: [{ from: 1, to: 0 }, { from: 2, to: 1 }],
        attempts: 1,
        reply: JSON.stringify(plan),
        notes: [],
      };
    },
    cancel_draft: () => false,
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
    missing_credentials: (a) => {
      const plan = mustBeValid(a.plan);
      return declaredCredentials(plan).filter((n) => !state.credentials.some((c) => c.provider === n.provider && c.field === n.field));
    },
    list_credentials: () => state.credentials,
    set_credential: (a) => {
      if (!state.keychain) fail("keychain_unavailable", "The OS keychain is not available: install and start gnome-keyring.");
      state.credentials = state.credentials.filter((c) => !(c.provider === a.provider && c.field === a.field));
      state.credentials.push({ provider: String(a.provider), field: String(a.field), updated_at: now() });
      return null;
    },
    delete_credential: (a) => {
      const had = state.credentials.some((c) => c.provider === a.provider && c.field === a.field);
      state.credentials = state.credentials.filter((c) => !(c.provider === a.provider && c.field === a.field));
      return had;
    },
    allow_credential_origin: (a) => {
      const c = state.credentials.find((x) => x.provider === a.provider && x.field === a.field);
      if (!c) fail("not_found", `${String(a.provider)} ${String(a.field)} is not set`);
      let origin: string;
      try {
        const u = new URL(String(a.origin).trim());
        if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("scheme");
        origin = u.origin;
      } catch {
        fail("bad_input", `\`${String(a.origin)}\` is not a web address such as https://proxy.example.com`);
      }
      c.allowed_origins = [...new Set([...(c.allowed_origins ?? []), origin])].sort();
      return origin;
    },
    disallow_credential_origin: (a) => {
      const c = state.credentials.find((x) => x.provider === a.provider && x.field === a.field);
      const had = !!c?.allowed_origins?.includes(String(a.origin));
      if (c) c.allowed_origins = (c.allowed_origins ?? []).filter((o) => o !== a.origin);
      return had;
    },
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
    list_integrations: () => [
      ...BUILTIN_INTEGRATIONS.map((b) => integrationSummary(builtinDefinition(b), true)),
      ...state.integrations.map((d) => integrationSummary(d, false)),
    ],
    get_integration: (a) => ({ definition: anyIntegration(String(a.name)).def, issues: [] }),
    check_integration_text: (a) => {
      const c = checkIntegrationText(String(a.text), RESERVED);
      return { definition: c.definition, issues: c.issues };
    },
    validate_integration: (a) => checkIntegrationText(JSON.stringify(a.definition), RESERVED).issues,
    save_integration: (a) => {
      const c = checkIntegrationText(JSON.stringify(a.definition), RESERVED);
      if (!c.definition || c.issues.length > 0) fail("invalid_integration", `the definition has ${c.issues.length} problem(s)`, c.issues);
      const def = c.definition as unknown as IntegrationDefinition;
      state.integrations = [...state.integrations.filter((x) => x.name !== def.name), def];
      return def;
    },
    // The native file dialog: cancelled (the page reads files itself).
    import_integration: () => null,
    export_integration: (a) => `/home/me/${anyIntegration(String(a.name)).def.name}.json`,
    remove_integration: (a) => {
      if (BUILTIN_INTEGRATIONS.some((b) => b.name === a.name)) fail("refused", `\`${String(a.name)}\` comes with Flowpilot and cannot be removed`);
      const had = state.integrations.some((x) => x.name === a.name);
      state.integrations = state.integrations.filter((x) => x.name !== a.name);
      return had;
    },
    test_integration_action: (a) => {
      const { def } = anyIntegration(String(a.name));
      const action = String(a.action);
      if (action !== "raw_request" && !def.actions[action]) fail("not_found", `\`${def.name}\` has no action \`${action}\``);
      return stepRecord("test", 0, { provider: def.name, action, params: (a.params ?? {}) as Json } as PlanFile["steps"][number], "success");
    },
    start_oauth_connect: (a) => {
      const name = String(a.name);
      const { def } = anyIntegration(name);
      const auth = def.auth;
      if (auth?.type !== "oauth2") fail("bad_input", `\`${name}\` does not connect with OAuth 2.0`);
      if (!state.credentials.some((c) => c.provider === name && c.field === auth.client_id_secret)) {
        fail("bad_input", `set the OAuth client id first: \`flowpilot-cli credentials set ${name} ${auth.client_id_secret}\``);
      }
      connecting.add(name);
      const redirect_uri = "http://127.0.0.1:53682/callback";
      const out: OAuthStart = { integration: name, authorize_url: `${auth.authorize_url}?response_type=code&redirect_uri=${encodeURIComponent(redirect_uri)}`, redirect_uri };
      return out;
    },
    finish_oauth_connect: (a) => {
      const name = String(a.name);
      if (!connecting.delete(name)) fail("not_found", `no connection in progress for \`${name}\``);
      state.connections[name] = { connected: true, state: "connected", detail: null };
      state.credentials = state.credentials.filter((c) => !(c.provider === name && c.field === "access_token"));
      state.credentials.push({ provider: name, field: "access_token", updated_at: now() });
      return null;
    },
    quit_app: () => null,
    get_settings: () => state.settings,
    set_settings: (a) => {
      state.settings = a.settings as Settings;
      return state.settings;
    },
  };

  function install(overrides: Record<string, Handler> = {}) {
    mockWindows("main");
    mockIPC(
      (cmd, payload) => {
        // Copies both ways, as the real bridge serialises.
        const args = JSON.parse(JSON.stringify(payload ?? {})) as Record<string, unknown>;
        state.calls.push({ cmd, args });
        const h = overrides[cmd] ?? handlers[cmd];
        if (!h) throw { code: "internal", message: `mock: no command ${cmd}` };
        const result = h(JSON.parse(JSON.stringify(args)) as Record<string, unknown>);
        return result === undefined ? null : JSON.parse(JSON.stringify(result));
      },
      { shouldMockEvents: true },
    );
  }

  return { state, handlers, install, addRun, startRun: (planId: string, failAt = -1) => startRun(current(planId), { live: false, failAt }) };
}
