// The fake backend's state, and the helpers every part of it uses.
import type { Connection, CredentialInfo, IntegrationDefinition, PlanFile, PlanIssue, PlanVersion, ProviderInfo, RunRow, Settings, StepRecord, TrayHost, Value } from "../../bindings";
import providersFixture from "../../test/fixtures/providers.json";
import { checkPlan } from "../schema-check";

export type Json = { [k: string]: Value };
export type Handler = (args: Record<string, unknown>) => unknown;
export type StoredPlan = { id: string; versions: PlanVersion[]; created_at: string; paused: boolean };

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
  /** Whether finishing a connection waits for a browser that never comes (until cancelled); else it connects at once. */
  browserWaits: boolean;
  calls: { cmd: string; args: Record<string, unknown> }[];
  /** Whether the desktop shows tray icons. */
  trayHost: TrayHost;
};

export const providers = providersFixture as unknown as ProviderInfo[];

/** A new backend's state: no plans, no runs, the default settings. */
export function initialState(keychain: boolean): MockState {
  return {
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
      webhooks: { port: 8737, bind_address: "127.0.0.1", public_base_url: null },
    },
    keychain,
    integrations: [],
    connections: {},
    browserWaits: false,
    calls: [],
    trayHost: "shown",
  };
}

export function now(offsetMs = 0): string {
  return new Date(Date.now() + offsetMs).toISOString();
}

let counter = 0;
export function id(prefix: string): string {
  counter++;
  return `${prefix}-${counter}`;
}

export function isObj(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function fail(code: string, message: string, issues?: PlanIssue[]): never {
  throw { code, message, issues: issues ?? null };
}

/** The fake's checks: the generated schemas (see schema-check.ts). */
export function validate(plan: unknown): PlanIssue[] {
  return checkPlan(plan, providers);
}

export function mustBeValid(plan: unknown): PlanFile {
  const issues = validate(plan).filter((i) => i.severity !== "warning");
  if (issues.length > 0) fail("invalid_plan", `the plan has ${issues.length} problem(s)`, issues);
  return plan as PlanFile;
}

export function normalize(plan: PlanFile): PlanFile {
  return { ...plan, trigger: plan.trigger ?? { type: "manual" }, status: plan.status ?? "draft" };
}
