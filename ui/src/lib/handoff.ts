// A plan read from a file that did not validate, handed from the plan list to
// the editor (which shows it with its problems; nothing is saved until it is valid).
import type { Issue, Value } from "../bindings";

export type PendingImport = { plan: Value; issues: Issue[]; fileName: string };

let pending: PendingImport | null = null;

export function setPendingImport(p: PendingImport | null): void {
  pending = p;
}

export function takePendingImport(): PendingImport | null {
  const p = pending;
  pending = null;
  return p;
}
