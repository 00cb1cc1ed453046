// An in-memory stand-in for the Rust commands, for component tests and for
// looking at the UI in a plain browser (`npm run mock`). Not part of the app build.
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import cronstrue from "cronstrue";
import type {
  Credential, Issue, Plan, PlanSummary, PlanVersion, Provider, Run, RunStatus, Schedule, Settings, StepRecord, Value,
} from "../bindings";
import providersFixture from "../test/fixtures/providers.json";

type Json = { [k: string]: Value };
type Handler = (args: Record<string, unknown>) => unknown;

export type MockState = {
  plans: { id: string; versions: PlanVersion[]; createdAt: string; paused: boolean }[];
  runs: { run: Run; steps: StepRecord[] }[];
  credentials: Credential[];
  settings: Settings;
  keychain: boolean;
  calls: { cmd: string; args: Record<string, unknown> }[];
};

const providers = providersFixture as unknown as Provider[];

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

function fail(code: string, message: string, issues?: Issue[]): never {
  throw { code, message, issues: issues ?? null };
}

/** A small copy of the engine's checks, enough for the UI to show located problems. */
export function validate(plan: Value): Issue[] {
  const issues: Issue[] = [];
  if (!isObj(plan)) return [{ path: "", message: "a plan is a JSON object" }];
  if (typeof plan.name !== "string") issues.push({ path: "name", message: "is missing" });
  else if (plan.name.trim() === "") issues.push({ path: "name", message: "must not be empty" });
  if (!Array.isArray(plan.steps)) issues.push({ path: "steps", message: "is missing" });
  else if (plan.steps.length === 0) issues.push({ path: "steps", message: "a plan needs at least one step" });
  else
    plan.steps.forEach((s, i) => {
      if (!isObj(s)) return issues.push({ path: `steps[${i}]`, message: "a step is an object" });
      const p = providers.find((x) => x.name === s.provider || x.aliases.includes(String(s.provider)));
      if (!p) return issues.push({ path: `steps[${i}].provider`, message: `unknown provider \`${String(s.provider ?? "")}\`` });
      const a = p.actions.find((x) => x.name === s.action);
      if (!a) return issues.push({ path: `steps[${i}].action`, message: `unknown action \`${String(s.action ?? "")}\` of ${p.name}` });
      const schema = a.paramsSchema as Json;
      const params = isObj(s.params) ? s.params : {};
      for (const r of (schema.required as string[] | undefined) ?? []) {
        if (!(r in params)) issues.push({ path: `steps[${i}].params.${r}`, message: "is required" });
      }
      const props = (schema.properties ?? {}) as Json;
      for (const [k, v] of Object.entries(params)) {
        const ps = props[k];
        if (ps === undefined) {
          issues.push({ path: `steps[${i}].params`, message: `unknown param \`${k}\`` });
          continue;
        }
        const type = isObj(ps) ? ps.type : undefined;
        const isRef = typeof v === "string" && /^\$\{[^}]+\}$/.test(v);
        if (type === "string" && typeof v !== "string") issues.push({ path: `steps[${i}].params.${k}`, message: `${JSON.stringify(v)} is not of type "string"` });
        if (type === "number" && typeof v !== "number" && !isRef) issues.push({ path: `steps[${i}].params.${k}`, message: `${JSON.stringify(v)} is not of type "number"` });
        if (typeof v === "string") {
          for (const m of v.matchAll(/\$\{steps\.(\d+)/g)) {
            if (Number(m[1]) >= i) issues.push({ path: `steps[${i}].params.${k}`, message: `\${steps.${m[1]}.output}: steps[${m[1]}] runs after this step` });
          }
        }
      }
    });
  if (isObj(plan.trigger) && plan.trigger.type === "cron") {
    const e = String(plan.trigger.cron_expression ?? "");
    const n = e.trim().split(/\s+/).filter(Boolean).length;
    if (n < 5 || n > 6) issues.push({ path: "trigger.cron_expression", message: `a cron expression has 5 fields (minute hour day month weekday) or 6 with seconds first; this one has ${n}` });
  }
  return issues;
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

/** As the engine words a step: numbered, what the action does, its main param. */
function plainStep(s: Value, i: number): string {
  if (!isObj(s)) return `${i + 1}. ?`;
  const p = isObj(s.params) ? s.params : {};
  const what = `(${String(s.provider)}.${String(s.action)})`;
  if (s.provider === "http") return `${i + 1}. Send an HTTP request and return the response body ${what}: ${String(p.method ?? "GET")} ${String(p.url ?? "?")}`;
  if (s.provider === "webhook") return `${i + 1}. POST a JSON payload to a URL ${what}: ${String(p.url ?? "?")}`;
  if (s.action === "chat_completion") return `${i + 1}. Ask a chat model and return its reply as text ${what}: ${String(p.prompt ?? "")}`;
  return `${i + 1}. ${what}`;
}

function normalize(plan: Json): Json {
  const out: Json = { ...plan };
  if (!isObj(out.trigger)) out.trigger = { type: "manual" };
  if (typeof out.status !== "string") out.status = "draft";
  return out;
}

export function preview(expr: string, tz: string | null) {
  const n = expr.trim().split(/\s+/).length;
  if (n < 5 || n > 6) {
    fail("invalid_plan", "invalid schedule", [
      { path: "trigger.cron_expression", message: `a cron expression has 5 fields (minute hour day month weekday) or 6 with seconds first; this one has ${n}` },
    ]);
  }
  let description: string;
  try {
    description = cronstrue.toString(expr, { use24HourTimeFormat: true });
  } catch {
    fail("invalid_plan", "invalid schedule", [{ path: "trigger.cron_expression", message: "not a cron expression" }]);
  }
  const start = Math.ceil(Date.now() / 3_600_000) * 3_600_000;
  return { description, timezone: tz || "Europe/Berlin", next: [0, 1, 2, 3, 4].map((i) => new Date(start + i * 3_600_000).toISOString()) };
}

export function createMockBackend(seed: { plans?: Value[]; runs?: boolean; keychain?: boolean } = {}) {
  const state: MockState = {
    plans: [],
    runs: [],
    credentials: [],
    settings: {
      notifications: true,
      notifySuccessPlans: [],
      startAtLogin: false,
      retentionDays: 30,
      retentionFailedDays: 90,
      retentionMaxRuns: 10000,
      concurrency: 4,
      autoPauseAfter: 5,
      catchUpWindowHours: 24,
    },
    keychain: seed.keychain ?? true,
    calls: [],
  };

  function current(pid: string) {
    const p = state.plans.find((x) => x.id === pid);
    if (!p) fail("not_found", `no plan with id ${pid}`);
    return p;
  }
  function rowOf(p: MockState["plans"][number]): Plan {
    const v = p.versions[p.versions.length - 1];
    return { id: p.id, version: v.version, plan: v.plan, createdAt: p.createdAt, updatedAt: v.savedAt };
  }
  function docOf(p: MockState["plans"][number]): Json {
    return p.versions[p.versions.length - 1].plan as Json;
  }
  function store(plan: Value, existing?: MockState["plans"][number]): Plan {
    const issues = validate(plan);
    if (issues.length > 0) fail("invalid_plan", `the plan has ${issues.length} problem(s)`, issues);
    const doc = normalize(plan as Json);
    if (existing) {
      existing.versions.push({ planId: existing.id, version: existing.versions.length + 1, plan: doc, savedAt: now() });
      return rowOf(existing);
    }
    if (state.plans.some((p) => docOf(p).name === doc.name)) fail("conflict", `a plan named “${String(doc.name)}” exists`);
    const pid = id("plan");
    const entry = { id: pid, versions: [{ planId: pid, version: 1, plan: doc, savedAt: now() }], createdAt: now(), paused: false };
    state.plans.push(entry);
    return rowOf(entry);
  }
  function summary(p: MockState["plans"][number]): PlanSummary {
    const doc = docOf(p);
    const last = state.runs.filter((r) => r.run.planId === p.id).sort((a, b) => b.run.startedAt.localeCompare(a.run.startedAt))[0];
    const trig = doc.trigger as Json;
    return {
      id: p.id,
      name: String(doc.name),
      description: typeof doc.description === "string" ? doc.description : null,
      status: doc.status as PlanSummary["status"],
      trigger: trig.type === "cron"
        ? { type: "cron", cronExpression: String(trig.cron_expression), timezone: (trig.timezone as string) ?? null, catchUp: (trig.catch_up as never) ?? "run_once", overlap: (trig.overlap as never) ?? "skip" }
        : { type: "manual" },
      version: p.versions.length,
      stepCount: (doc.steps as Value[]).length,
      createdAt: p.createdAt,
      updatedAt: p.versions[p.versions.length - 1].savedAt,
      lastRunStatus: last?.run.status ?? null,
      lastRunAt: last?.run.startedAt ?? null,
    };
  }
  function schedule(p: MockState["plans"][number]): Schedule | null {
    const doc = docOf(p);
    const trig = doc.trigger as Json;
    if (trig.type !== "cron") return null;
    const pr = preview(String(trig.cron_expression), (trig.timezone as string) ?? null);
    const s = summary(p);
    return {
      planId: p.id,
      planName: String(doc.name),
      cronExpression: String(trig.cron_expression),
      timezone: pr.timezone,
      description: pr.description,
      nextRunAt: p.paused || doc.status !== "active" ? null : pr.next[0],
      lastRunStatus: s.lastRunStatus,
      lastRunAt: s.lastRunAt,
      paused: p.paused,
      active: doc.status === "active",
      missedTotal: 0,
    };
  }

  function fakeOutput(provider: string, action: string, params: Json, n: number): Value {
    if (provider === "http") return [{ name: "tauri v2.12.0", id: 1 }, { name: "tauri v2.11.3", id: 2 }];
    if (action === "extract") return "tauri v2.12.0";
    if (action === "chat_completion") return `A short answer for step ${n + 1}.`;
    if (provider === "webhook") return { status: 200, body: "ok" };
    return params.value ?? null;
  }

  function record(runId: string, n: number, s: Json, status: StepRecord["status"], attempt = 1): StepRecord {
    const output = status === "success" ? fakeOutput(String(s.provider), String(s.action), isObj(s.params) ? s.params : {}, n) : null;
    return {
      runId,
      stepNumber: n,
      stepId: typeof s.id === "string" ? s.id : null,
      provider: String(s.provider),
      action: String(s.action),
      status,
      attempt,
      message: status === "success" ? "" : "HTTP 503 from https://api.example.com/send",
      latencyMs: 80 + ((n * 137 + attempt * 51) % 900),
      outputPreview: JSON.stringify(output).slice(0, 500),
      output,
      metadata: {},
      error: status === "success" ? null : "HTTP_503",
      timestamp: now(),
    };
  }

  function startRun(p: MockState["plans"][number], live: boolean, failAt = -1, startedAt = now(), trigger = "manual"): string {
    const doc = docOf(p);
    const steps = doc.steps as Json[];
    const runId = id("run");
    const entry = {
      run: { id: runId, planId: p.id, planName: String(doc.name), triggerKind: trigger, scheduledFor: null, status: "running" as RunStatus, startedAt, finishedAt: null as string | null, error: null as string | null },
      steps: [] as StepRecord[],
    };
    state.runs.push(entry);
    const finish = (status: RunStatus, error: string | null) => {
      entry.run.status = status;
      entry.run.finishedAt = live ? now() : new Date(Date.parse(startedAt) + 2400).toISOString();
      entry.run.error = error;
      if (live) void emit("run-finished", { runId, planName: entry.run.planName, status, error, startedAt, finishedAt: entry.run.finishedAt });
    };
    if (!live) {
      steps.forEach((s, n) => {
        if (failAt >= 0 && n > failAt) return;
        if (n === failAt) {
          entry.steps.push(record(runId, n, s, "retrying", 1), record(runId, n, s, "error", 2));
        } else entry.steps.push(record(runId, n, s, "success"));
      });
      finish(failAt >= 0 ? "failed" : "success", failAt >= 0 ? `step ${failAt + 1} failed: HTTP 503` : null);
      return runId;
    }
    void emit("run-started", { runId, planName: entry.run.planName, stepCount: steps.length, startedAt });
    let n = 0;
    const next = () => {
      if (n >= steps.length) return finish("success", null);
      const s = steps[n];
      void emit("step-progress", { runId, phase: "started", stepNumber: n, provider: s.provider, action: s.action, attempt: 1, status: null, record: null, retryInMs: null });
      setTimeout(() => {
        const r = record(runId, n, s, "success");
        entry.steps.push(r);
        void emit("step-progress", { runId, phase: "finished", stepNumber: n, provider: s.provider, action: s.action, attempt: 1, status: "success", record: r, retryInMs: null });
        n++;
        next();
      }, 700);
    };
    setTimeout(next, 200);
    return runId;
  }

  for (const plan of seed.plans ?? []) store(plan);
  if (seed.runs) {
    state.plans.forEach((p, i) => {
      for (let k = 0; k < 4; k++) startRun(p, false, k === 1 && i === 0 ? 1 : -1, now(-(k * 5 + i) * 3_600_000), k % 2 ? "cron" : "manual");
    });
  }

  const handlers: Record<string, Handler> = {
    health: () => ({
      version: "0.1.0",
      tauriVersion: "2.12.0",
      webviewVersion: "2.48.3",
      dataDir: "/home/me/.local/share/flowpilot",
      database: "/home/me/.local/share/flowpilot/flowpilot.db",
      schemaVersion: 3,
      keychain: state.keychain
        ? { available: true, message: null }
        : { available: false, message: "No Secret Service on the session bus. Install and start gnome-keyring (or KeePassXC with its Secret Service), then restart Flowpilot." },
      scheduler: { paused: false, scheduledPlans: state.plans.filter((p) => schedule(p)).length, runningSchedules: state.plans.filter((p) => schedule(p)?.nextRunAt).length },
    }),
    providers: () => providers,
    take_open_run: () => null,
    list_plans: () => state.plans.map(summary),
    get_plan: (a) => {
      const p = current(String(a.id));
      const doc = docOf(p);
      const required = [...new Set((doc.steps as Json[]).map((s) => String(s.provider)))];
      return {
        plan: rowOf(p),
        requiredProviders: required,
        plainEnglishSteps: (doc.steps as Json[]).map((s, i) => `${i + 1}. ${String(s.provider)} ${String(s.action)}`),
        missingCredentials: required
          .flatMap((r) => (providers.find((x) => x.name === r)?.credentialFields ?? []).map((f) => ({ provider: r, field: f })))
          .filter((c) => !state.credentials.some((x) => x.provider === c.provider && x.field === c.field)),
      };
    },
    create_plan: (a) => store(a.plan as Value),
    update_plan: (a) => store(a.plan as Value, current(String(a.id))),
    delete_plan: (a) => {
      current(String(a.id));
      state.plans = state.plans.filter((p) => p.id !== a.id);
      return null;
    },
    duplicate_plan: (a) => {
      const doc = { ...docOf(current(String(a.id))) };
      doc.name = `${String(doc.name)} (copy)`;
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
    validate_plan: (a) => validate(a.plan as Value),
    import_plan: () => null,
    export_plan: (a) => `/home/me/${String(docOf(current(String(a.id))).name)}.json`,
    execute_plan: (a) => startRun(current(String(a.planId)), true),
    execute_step: (a) => {
      const step = a.step as Json;
      const issues = validate({ name: "step test", steps: [step] }).filter((i) => !i.message.includes("runs after"));
      if (issues.length > 0) fail("invalid_plan", "the step has problems", issues);
      return record("test", 0, step, "success");
    },
    cancel_run: (a) => {
      const r = state.runs.find((x) => x.run.id === a.runId);
      if (!r || r.run.status !== "running") return false;
      r.run.status = "cancelled";
      r.run.finishedAt = now();
      return true;
    },
    list_runs: (a) => {
      const f = a.filter as { planId: string | null; status: string | null; since: string | null; until: string | null };
      const page = a.page as { limit: number; offset: number };
      const all = state.runs
        .map((r) => r.run)
        .filter((r) => (!f.planId || r.planId === f.planId) && (!f.status || r.status === f.status) && (!f.since || r.startedAt >= f.since) && (!f.until || r.startedAt < f.until))
        .sort((x, y) => y.startedAt.localeCompare(x.startedAt));
      return { runs: all.slice(page.offset, page.offset + page.limit), total: all.length };
    },
    get_run: (a) => {
      const r = state.runs.find((x) => x.run.id === a.runId);
      if (!r) fail("not_found", `no run ${String(a.runId)}`);
      return { run: { ...r.run }, steps: [...r.steps] };
    },
    stats: () => {
      const runs = state.runs.map((r) => r.run);
      const count = (s: RunStatus) => runs.filter((r) => r.status === s).length;
      const finals = state.runs.flatMap((r) => r.steps.filter((s) => s.status !== "retrying"));
      const byProvider = new Map<string, StepRecord[]>();
      for (const s of finals) byProvider.set(s.provider, [...(byProvider.get(s.provider) ?? []), s]);
      return {
        since: now(-86_400_000),
        runs: { total: runs.length, running: count("running"), success: count("success"), failed: count("failed"), cancelled: count("cancelled"), interrupted: count("interrupted") },
        providers: [...byProvider.entries()].map(([provider, list]) => ({
          provider,
          total: list.length,
          successes: list.filter((s) => s.status === "success").length,
          successRate: list.filter((s) => s.status === "success").length / list.length,
          avgLatencyMs: list.reduce((t, s) => t + s.latencyMs, 0) / list.length,
          maxLatencyMs: Math.max(...list.map((s) => s.latencyMs)),
        })),
        slowestSteps: [...finals].sort((x, y) => y.latencyMs - x.latencyMs).slice(0, 5).map((s) => ({
          runId: s.runId,
          planName: state.runs.find((r) => r.run.id === s.runId)?.run.planName ?? "",
          stepNumber: s.stepNumber,
          provider: s.provider,
          action: s.action,
          latencyMs: s.latencyMs,
        })),
      };
    },
    draft_plan: (a) => {
      const r = a.request as { prompt: string; provider: string; baseUrl: string | null; model: string | null };
      if (r.prompt.trim() === "") fail("bad_input", "describe what the plan should do: the prompt is empty");
      if (r.provider === "openai_compatible" && (!r.baseUrl || !r.model)) {
        const issues: Issue[] = [];
        if (!r.baseUrl) issues.push({ path: "base_url", message: "openai_compatible needs the address of your server" });
        if (!r.model) issues.push({ path: "model", message: "openai_compatible needs the name of a model" });
        fail("bad_input", `cannot ask openai_compatible: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, issues);
      }
      const plan: Json = { ...DRAFTED_PLAN, original_prompt: r.prompt };
      const steps = plan.steps as Json[];
      const required = [...new Set(steps.map((s) => String(s.provider)))];
      const issues = validate(plan);
      return {
        plan,
        valid: issues.length === 0,
        issues,
        requiredProviders: required,
        plainEnglishSteps: steps.map((s, i) => plainStep(s, i)),
        missingCredentials: handlers.missing_credentials({ plan }),
        references: [{ from: 1, to: 0 }, { from: 2, to: 1 }],
        attempts: 1,
        reply: JSON.stringify(plan),
        notes: [],
      };
    },
    cancel_draft: () => false,
    dry_run_plan: (a) => {
      const plan = a.plan as Value;
      const issues = validate(plan);
      if (issues.length > 0) fail("invalid_plan", `the plan has ${issues.length} problem(s)`, issues);
      const steps = (plan as Json).steps as Json[];
      return {
        status: "success",
        error: null,
        steps: steps.map((s, n) => {
          const r = record("dry-run-1", n, s, "success");
          const sends = s.provider === "webhook" || (s.provider === "http" && isObj(s.params) && s.params.method !== "GET");
          return sends
            ? { ...r, latencyMs: 0, message: "dry run: not sent", output: { dry_run: true, would_send: s.params ?? {} }, metadata: { dry_run: true } }
            : r;
        }),
      };
    },
    cancel_dry_run: () => false,
    missing_credentials: (a) => {
      const issues = validate(a.plan as Value);
      if (issues.length > 0) fail("invalid_plan", `the plan has ${issues.length} problem(s)`, issues);
      const needed: { provider: string; field: string }[] = [];
      for (const s of ((a.plan as Json).steps as Json[])) {
        const p = providers.find((x) => x.name === s.provider);
        const auth = isObj(s.params) && isObj(s.params.auth) ? s.params.auth : null;
        const fields = p?.name === "http"
          ? (typeof auth?.credential === "string" && !auth.credential.includes("${") ? [auth.credential] : [])
          : (p?.credentialFields ?? []).filter((f) => !p?.optionalCredentials.includes(f));
        for (const field of fields) {
          if (!needed.some((n) => n.provider === p!.name && n.field === field)) needed.push({ provider: p!.name, field });
        }
      }
      return needed.filter((n) => !state.credentials.some((c) => c.provider === n.provider && c.field === n.field));
    },
    list_credentials: () => state.credentials,
    set_credential: (a) => {
      if (!state.keychain) fail("keychain_unavailable", "The OS keychain is not available: install and start gnome-keyring.");
      state.credentials = state.credentials.filter((c) => !(c.provider === a.provider && c.field === a.field));
      state.credentials.push({ provider: String(a.provider), field: String(a.field), updatedAt: now() });
      return null;
    },
    delete_credential: (a) => {
      const had = state.credentials.some((c) => c.provider === a.provider && c.field === a.field);
      state.credentials = state.credentials.filter((c) => !(c.provider === a.provider && c.field === a.field));
      return had;
    },
    list_schedules: () => state.plans.map(schedule).filter(Boolean),
    get_schedule: (a) => schedule(current(String(a.planId))),
    set_schedule: (a) => {
      const p = current(String(a.planId));
      const doc = { ...docOf(p) };
      const t = a.trigger as { cronExpression: string; timezone: string | null; catchUp: string; overlap: string } | null;
      doc.trigger = t ? { type: "cron", cron_expression: t.cronExpression, timezone: t.timezone, catch_up: t.catchUp, overlap: t.overlap } : { type: "manual" };
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

  return { state, handlers, install };
}
