// The editor remembers the last SMTP server settings (host, port, security,
// user name and the *name* of the password's credential, never a password), so
// a person types them once: a new "Send an email" step starts with them. Kept in
// the window's local storage; a plan saved with an email step updates them.
import type { PlanFile, Value } from "../bindings";

const KEY = "flowpilot.last-smtp";

function isSmtp(v: unknown): v is { [k: string]: Value } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as { host?: unknown }).host === "string" && (v as { host: string }).host.trim() !== "";
}

function storage(): Storage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null; // storage turned off: nothing is remembered
  }
}

/** Remember the SMTP settings of the last email step of a saved plan. */
export function rememberSmtp(doc: PlanFile): void {
  const smtp = [...doc.steps].reverse().find((s) => s.provider === "email" && s.action === "send" && isSmtp(s.params?.smtp))?.params?.smtp;
  if (smtp !== undefined) storage()?.setItem(KEY, JSON.stringify(smtp));
}

/** The SMTP settings to start a new email step with: an earlier email step's in this plan, else the last saved. */
export function recallSmtp(doc: PlanFile): Value | undefined {
  const here = doc.steps.find((s) => s.provider === "email" && s.action === "send" && isSmtp(s.params?.smtp))?.params?.smtp;
  if (here !== undefined) return structuredClone(here);
  try {
    const stored: unknown = JSON.parse(storage()?.getItem(KEY) ?? "null");
    return isSmtp(stored) ? stored : undefined;
  } catch {
    return undefined;
  }
}
