// The fake backend: one state, and every command's handler over it.
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import type { Settings, Value } from "../../bindings";
import { type Handler, initialState, now, providers } from "./state";
import { createPlans, draftHandlers, planHandlers } from "./plans";
import { createRuns, dryRunHandlers, runHandlers } from "./runs";
import { credentialHandlers } from "./credentials";
import { createTriggers, triggerHandlers } from "./triggers";
import { integrationHandlers, providerOf } from "./integrations";

export function createMockBackend(seed: { plans?: Value[]; runs?: boolean; keychain?: boolean } = {}) {
  const state = initialState(seed.keychain ?? true);
  const plans = createPlans(state);
  const runs = createRuns(state, plans);
  const triggers = createTriggers(plans);
  const { current, store } = plans;
  const { addRun, startRun } = runs;
  const { schedule } = triggers;

  for (const plan of seed.plans ?? []) store(plan);
  if (seed.runs) {
    state.plans.forEach((p, i) => {
      for (let k = 0; k < 4; k++) {
        startRun(p, { live: false, failAt: k === 1 && i === 0 ? 1 : -1, startedAt: now(-(k * 5 + i) * 3_600_000), trigger: k % 2 ? "cron" : "manual" });
      }
    });
  }

  // One table; the parts that call another command (get_plan, draft_plan) get it whole.
  const handlers: Record<string, Handler> = {};
  const table: Record<string, Handler> = {
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
    ...planHandlers(state, plans, handlers),
    ...runHandlers(state, plans, runs),
    ...draftHandlers(handlers),
    ...dryRunHandlers(),
    ...credentialHandlers(state),
    ...triggerHandlers(state, plans, triggers),
    ...integrationHandlers(state),
    quit_app: () => null,
    tray_host: () => state.trayHost,
    answer_close: () => null,
    get_settings: () => state.settings,
    set_settings: (a) => {
      state.settings = a.settings as Settings;
      return state.settings;
    },
  };
  Object.assign(handlers, table);

  function install(overrides: Record<string, Handler> = {}) {
    mockWindows("main");
    mockIPC(
      (cmd, payload) => {
        // Copies both ways, as the real bridge serialises.
        const args = JSON.parse(JSON.stringify(payload ?? {})) as Record<string, unknown>;
        state.calls.push({ cmd, args });
        const h = overrides[cmd] ?? handlers[cmd];
        if (!h) throw { code: "internal", message: `mock: no command ${cmd}` };
        const copy = (result: unknown) => (result === undefined ? null : JSON.parse(JSON.stringify(result)));
        const result = h(JSON.parse(JSON.stringify(args)) as Record<string, unknown>);
        // A handler may answer later (a command that waits: an OAuth connection, listening for a test event).
        return result instanceof Promise ? result.then(copy) : copy(result);
      },
      { shouldMockEvents: true },
    );
  }

  return { state, handlers, install, addRun, startRun: (planId: string, failAt = -1) => startRun(current(planId), { live: false, failAt }) };
}
