// Importing a plan file picked in the page (no native dialog): read, check with
// `check_plan_text` (located problems, syntax errors with their line), then store
// it (a plan of the same name gets a new version, like the app's import).
import type { PlanIssue, PlanRow, PlanSummary, Value } from "../bindings";
import { commands } from "../bindings";
import { call, CommandError } from "./api";
import { isWarning } from "./plan";

export type ImportOutcome =
  | { kind: "saved"; plan: PlanRow; replaced: boolean }
  | { kind: "invalid"; plan: Value; issues: PlanIssue[] }
  | { kind: "unreadable"; message: string };

export function readFileText(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result ?? ""));
    reader.onerror = () => reject(reader.error ?? new Error("the file could not be read"));
    reader.readAsText(file);
  });
}

export async function importPlanText(text: string, existing: PlanSummary[]): Promise<ImportOutcome> {
  const check = await call(commands.checkPlanText(text));
  const errors = check.issues.filter((i) => !isWarning(i));
  // Not JSON, or too large: nothing the editor could show.
  const unreadable = errors.find((i) => i.kind === "syntax" || i.kind === "too_large");
  if (unreadable) return { kind: "unreadable", message: unreadable.message };
  if (errors.length > 0 || !check.plan) {
    let raw: Value = null;
    try {
      raw = JSON.parse(text) as Value;
    } catch {
      /* the check said it is JSON */
    }
    return { kind: "invalid", plan: check.plan ?? raw, issues: check.issues };
  }
  const plan = check.plan;
  const same = existing.find((p) => p.name === plan.name);
  try {
    if (same) return { kind: "saved", plan: await call(commands.updatePlan(same.id, plan)), replaced: true };
    return { kind: "saved", plan: await call(commands.createPlan(plan)), replaced: false };
  } catch (e) {
    if (e instanceof CommandError && e.code === "invalid_plan") return { kind: "invalid", plan, issues: e.issues };
    throw e;
  }
}
