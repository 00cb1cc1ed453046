// A plan handed to the editor unsaved: a file that did not validate (from the plan
// list), or a draft from a prompt. The editor shows it with its problems; nothing
// is stored until the person saves it.
import type { CredentialField, PlanIssue, Value } from "../bindings";

export type PendingImport =
  | { source?: "file"; plan: Value; issues: PlanIssue[]; fileName: string }
  | { source: "draft"; plan: Value; issues: PlanIssue[]; missing: CredentialField[]; plainSteps: string[] };

let pending: PendingImport | null = null;

export function setPendingImport(p: PendingImport | null): void {
  pending = p;
}

export function takePendingImport(): PendingImport | null {
  const p = pending;
  pending = null;
  return p;
}
