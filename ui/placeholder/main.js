// The placeholder page: shows health and the plan list through the app's
// commands, and the run and schedule events as they come. No framework and no
// build step; the real UI will use the generated ui/src/bindings.ts instead.
"use strict";

const tauri = window.__TAURI__;

function invoke(command, args) {
  return tauri.core.invoke(command, args || {});
}

function text(tag, content, className) {
  const el = document.createElement(tag);
  el.textContent = content;
  if (className) el.className = className;
  return el;
}

function showError(error) {
  const box = document.getElementById("error");
  const message = error && error.message ? error.message : String(error);
  const code = error && error.code ? " [" + error.code + "]" : "";
  box.textContent = message + code;
  box.hidden = false;
}

function activity(line) {
  const list = document.getElementById("activity");
  if (list.classList.contains("muted")) {
    list.classList.remove("muted");
    list.replaceChildren();
  }
  list.prepend(text("li", new Date().toLocaleTimeString() + "  " + line));
  while (list.children.length > 20) list.lastChild.remove();
}

async function loadHealth() {
  const dl = document.getElementById("health");
  try {
    const h = await invoke("health");
    const keychain = h.keychain.available ? "available" : "unavailable: " + (h.keychain.message || "");
    const scheduler = (h.scheduler.paused ? "paused" : "running") + ", " + h.scheduler.runningSchedules +
      " of " + h.scheduler.scheduledPlans + " schedules active";
    const rows = [
      ["Version", "Flowpilot " + h.version + " (Tauri " + h.tauriVersion + ", WebKit " + (h.webviewVersion || "?") + ")"],
      ["Data folder", h.dataDir],
      ["Database", h.database + " (schema " + h.schemaVersion + ")"],
      ["Keychain", keychain],
      ["Scheduler", scheduler],
    ];
    dl.replaceChildren();
    for (const [k, v] of rows) {
      dl.append(text("dt", k));
      dl.append(text("dd", v, k === "Keychain" ? (h.keychain.available ? "ok" : "bad") : ""));
    }
  } catch (e) {
    dl.replaceChildren(text("dt", "Status"), text("dd", "unavailable", "bad"));
    showError(e);
  }
}

function describeTrigger(trigger) {
  return trigger.type === "cron" ? trigger.cronExpression + (trigger.timezone ? " (" + trigger.timezone + ")" : "") : "manual";
}

async function loadPlans() {
  const body = document.getElementById("plans");
  try {
    const plans = await invoke("list_plans");
    body.replaceChildren();
    if (plans.length === 0) {
      const row = document.createElement("tr");
      const cell = text("td", "No plans yet. Import one with: flowpilot-cli plans import plans/local-summary.json", "muted");
      cell.colSpan = 5;
      row.append(cell);
      body.append(row);
    }
    for (const plan of plans) {
      const row = document.createElement("tr");
      row.append(text("td", plan.name));
      row.append(text("td", plan.status));
      row.append(text("td", describeTrigger(plan.trigger)));
      row.append(text("td", plan.lastRunStatus || "never", plan.lastRunStatus === "success" ? "ok" : plan.lastRunStatus === "failed" ? "bad" : ""));
      const cell = document.createElement("td");
      const run = text("button", "Run");
      run.addEventListener("click", async () => {
        try {
          const runId = await invoke("execute_plan", { planId: plan.id });
          activity("started " + plan.name + " (" + runId + ")");
        } catch (e) {
          showError(e);
        }
      });
      cell.append(run);
      row.append(cell);
      body.append(row);
    }
  } catch (e) {
    body.replaceChildren();
    showError(e);
  }
}

async function listen() {
  const on = (name, f) => tauri.event.listen(name, (event) => f(event.payload));
  await on("run-started", (e) => activity("run started: " + e.planName));
  await on("step-progress", (e) => {
    if (e.phase === "finished") activity("step " + (e.stepNumber + 1) + " " + e.provider + "." + e.action + ": " + e.status);
  });
  await on("run-finished", (e) => {
    activity("run finished: " + e.planName + " — " + e.status + (e.error ? " (" + e.error + ")" : ""));
    loadPlans();
  });
  await on("schedule-changed", () => {
    loadHealth();
    loadPlans();
  });
  await on("notice", (e) => activity("notice: " + e.title + " — " + e.body));
  await on("open-run", (e) => activity("asked to open run " + e.runId));
}

window.addEventListener("DOMContentLoaded", async () => {
  if (!tauri) {
    showError("This page runs inside the Flowpilot app only.");
    return;
  }
  await listen().catch(showError);
  await Promise.all([loadHealth(), loadPlans()]);
  const pending = await invoke("take_open_run").catch(() => null);
  if (pending) activity("asked to open run " + pending);
});
