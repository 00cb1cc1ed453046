// Importing a plan file picked in the page ("Import…", or dropped on the plan
// list): read, check with `check_plan_text` (located problems, syntax errors with
// their line), and when a plan of the same name exists ask first: replace it (a
// new version of that plan) or import it as a copy beside it.
//
// An imported plan is stored off (a draft), whatever its file says: a shared file
// must not start running, or send a key to a server its author chose, before the
// person has read its review (ImportReview) and turned it on.
import type { PlanIssue, PlanRow, PlanSummary, Value } from "../bindings";
import { commands } from "../bindings";
import { call, CommandError } from "./api";
import { chooseDialog } from "./dialog.svelte";
import { isWarning } from "./plan";

export type ImportOutcome =
  /** Stored off (a draft); `askedOn`: the file said it should be on. */
  | { kind: "saved"; plan: PlanRow; how: "new" | "replaced" | "copy"; askedOn: boolean }
  | { kind: "invalid"; plan: Value; issues: PlanIssue[] }
  | { kind: "unreadable"; message: string }
  | { kind: "cancelled" };

export function readFileText(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result ?? ""));
    reader.onerror = () => reject(reader.error ?? new Error("the file could not be read"));
    reader.readAsText(file);
  });
}

/** A plan of the same name exists: replace it, or import beside it as a copy? Null: neither. */
export function askReplaceOrCopy(name: string): Promise<"replace" | "copy" | null> {
  return chooseDialog(
    `A plan named “${name}” exists`,
    "Replace it with this file (its current version stays in its history), or import the file as a new plan beside it?",
    [
      { id: "import-copy", label: "Import as a copy", primary: true },
      { id: "import-replace", label: "Replace it" },
    ],
  ).then((c) => (c === "import-replace" ? "replace" : c === "import-copy" ? "copy" : null));
}

export async function importPlanText(
  text: string,
  existing: PlanSummary[],
  ask: (name: string) => Promise<"replace" | "copy" | null> = askReplaceOrCopy,
): Promise<ImportOutcome> {
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
  const askedOn = plan.status === "active";
  const same = existing.find((p) => p.name.toLowerCase() === plan.name.toLowerCase());
  try {
    // `import_plan_text` stores a new plan, or a new version of the plan of that
    // name; either way as a draft. Never create/update with the file's status.
    if (!same) return { kind: "saved", plan: await call(commands.importPlanText(text)), how: "new", askedOn };
    const choice = await ask(same.name);
    if (choice === null) return { kind: "cancelled" };
    if (choice === "copy") return { kind: "saved", plan: await call(commands.importPlanCopy(text)), how: "copy", askedOn };
    return { kind: "saved", plan: await call(commands.importPlanText(text)), how: "replaced", askedOn };
  } catch (e) {
    if (e instanceof CommandError && e.code === "invalid_plan") return { kind: "invalid", plan, issues: e.issues };
    throw e;
  }
}
