// Plans: the stored plans and their versions, the plan commands, and drafting one.
import type { PlanFile, PlanIssue, PlanRow, PlanSummary, Value } from "../../bindings";
import { checkPlanText } from "../schema-check";
import { type Handler, type Json, type MockState, type StoredPlan, fail, id, mustBeValid, normalize, now, providers, validate } from "./state";
import { plainStep, reviewOf } from "./review";
import { describeTrigger } from "./triggers";

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

/** The stored plans: look one up, read its current version, save a new one, list it. */
export function createPlans(state: MockState) {
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
      tags: doc.tags ?? [],
      created_at: p.created_at,
      updated_at: p.versions[p.versions.length - 1].saved_at,
      last_run_status: last?.run.status ?? null,
      last_run_at: last?.run.started_at ?? null,
    };
  }

  return { current, rowOf, docOf, store, summary };
}

export type Plans = ReturnType<typeof createPlans>;

/** The plan commands; `handlers` is the whole table (get_plan asks missing_credentials). */
export function planHandlers(state: MockState, plans: Plans, handlers: Record<string, Handler>): Record<string, Handler> {
  const { current, rowOf, docOf, store, summary } = plans;
  return {
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
  };
}

/** Drafting a plan from a prompt: the fake model always drafts DRAFTED_PLAN. */
export function draftHandlers(handlers: Record<string, Handler>): Record<string, Handler> {
  return {
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
  };
}
