// The editor offers one-click fixes (an issue's `fix`) wherever an issue is shown:
// the editor puts its "apply this fix" here, FieldErrors reads it.
import { getContext, setContext } from "svelte";
import type { PlanIssue } from "../bindings";

const KEY = Symbol("apply-fix");

export type ApplyFix = (issue: PlanIssue) => void;

export function provideFixes(apply: ApplyFix): void {
  setContext(KEY, apply);
}

export function fixes(): ApplyFix | undefined {
  return getContext<ApplyFix | undefined>(KEY);
}
