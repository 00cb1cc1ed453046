// The error region of the current screen and the small notices (run finished,
// saved...). Errors belong to the screen that raised them: they go when the
// person moves to another screen. Notices time out unless they carry an action.
import { readableError, toIpcError } from "./api";

export type Toast = {
  id: number;
  kind: "error" | "info" | "success";
  text: string;
  code?: string;
  /** A route to open from the toast ("#/runs/…"). */
  link?: { href: string; label: string };
};

let next = 1;

export const toasts = $state<{ errors: Toast[]; notices: Toast[] }>({ errors: [], notices: [] });

/** Show a backend error (or any thrown value) as a readable message. */
export function showError(e: unknown, context?: string): void {
  const err = toIpcError(e);
  const text = (context ? `${context}: ` : "") + readableError(e);
  // The same message twice in a row is shown once.
  if (toasts.errors.some((t) => t.text === text)) return;
  toasts.errors.push({ id: next++, kind: "error", text, code: err.code });
  if (toasts.errors.length > 4) toasts.errors.shift();
}

export function dismissError(id: number): void {
  toasts.errors = toasts.errors.filter((t) => t.id !== id);
}

export function clearErrors(): void {
  toasts.errors = [];
}

/** How long a notice without an action stays. */
export const NOTICE_MS = 6000;
/** How long a notice with an action (a link to open) stays. */
export const ACTION_NOTICE_MS = 20000;

export function showNotice(text: string, kind: "info" | "success" = "info", link?: Toast["link"], ms?: number): void {
  const id = next++;
  toasts.notices.push({ id, kind, text, link });
  if (toasts.notices.length > 3) toasts.notices.shift();
  const stay = ms ?? (link ? ACTION_NOTICE_MS : NOTICE_MS);
  if (stay > 0) setTimeout(() => dismissNotice(id), stay);
}

export function dismissNotice(id: number): void {
  toasts.notices = toasts.notices.filter((t) => t.id !== id);
}
