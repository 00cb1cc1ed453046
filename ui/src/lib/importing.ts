// Importing a plan file picked in the page (no native dialog): read, check, then
// store it (a plan of the same name gets a new version, like the app's import).
import type { Issue, Plan, PlanSummary, Value } from "../bindings";
import { commands } from "../bindings";
import { call, CommandError } from "./api";
import { isObject } from "./plan";

export type ImportOutcome =
  | { kind: "saved"; plan: Plan; replaced: boolean }
  | { kind: "invalid"; plan: Value; issues: Issue[] }
  | { kind: "unreadable"; message: string };

export function readFileText(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result ?? ""));
    reader.onerror = () => reject(reader.error ?? new Error("the file could not be read"));
    reader.readAsText(file);
  });
}

const MAX_BYTES = 5 * 1024 * 1024;

export async function importPlanText(text: string, existing: PlanSummary[]): Promise<ImportOutcome> {
  if (text.length > MAX_BYTES) return { kind: "unreadable", message: "The file is larger than 5 MB, the limit for a plan." };
  let plan: Value;
  try {
    plan = JSON.parse(text) as Value;
  } catch (e) {
    return { kind: "unreadable", message: `The file is not valid JSON: ${(e as Error).message}` };
  }
  if (!isObject(plan)) return { kind: "unreadable", message: "The file does not hold a plan (a JSON object)." };
  const issues = await call(commands.validatePlan(plan));
  if (issues.length > 0) return { kind: "invalid", plan, issues };
  const same = existing.find((p) => p.name === plan.name);
  try {
    if (same) return { kind: "saved", plan: await call(commands.updatePlan(same.id, plan)), replaced: true };
    return { kind: "saved", plan: await call(commands.createPlan(plan)), replaced: false };
  } catch (e) {
    if (e instanceof CommandError && e.code === "invalid_plan") return { kind: "invalid", plan, issues: e.issues };
    throw e;
  }
}
