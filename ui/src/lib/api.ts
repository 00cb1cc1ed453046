// Every backend call goes through the generated bindings; `call` turns their
// `{status, data | error}` result into a value or a thrown `CommandError`.
import type { ErrorCode, IpcError, PlanIssue } from "../bindings";

export type Result<T> = { status: "ok"; data: T } | { status: "error"; error: IpcError };

/** A command failed: the backend's `{code, message, issues?}`. */
export class CommandError extends Error {
  readonly code: ErrorCode;
  readonly issues: PlanIssue[];
  constructor(readonly error: IpcError) {
    super(error.message);
    this.name = "CommandError";
    this.code = error.code;
    this.issues = error.issues ?? [];
  }
}

const CODES: readonly ErrorCode[] = [
  "invalid_plan",
  "invalid_integration",
  "not_found",
  "conflict",
  "keychain_unavailable",
  "keychain",
  "bad_input",
  "storage",
  "refused",
  "cancelled",
  "internal",
];

/** Whatever a command rejected with, as an IpcError (Tauri itself rejects with strings). */
export function toIpcError(e: unknown): IpcError {
  if (e instanceof CommandError) return e.error;
  if (e && typeof e === "object" && "message" in e) {
    const o = e as { code?: unknown; message?: unknown; issues?: unknown };
    const code = typeof o.code === "string" && (CODES as readonly string[]).includes(o.code) ? (o.code as ErrorCode) : "internal";
    const issues = Array.isArray(o.issues) ? (o.issues as PlanIssue[]) : null;
    return { code, message: String(o.message ?? "Something went wrong"), issues };
  }
  if (typeof e === "string" && e.trim() !== "") return { code: "internal", message: e };
  return { code: "internal", message: "Something went wrong (no details)" };
}

/** Await a bindings call: its data, or a thrown CommandError. */
export async function call<T>(pending: Promise<Result<T>>): Promise<T> {
  let result: Result<T>;
  try {
    result = await pending;
  } catch (e) {
    throw new CommandError(toIpcError(e));
  }
  if (result.status === "error") throw new CommandError(toIpcError(result.error));
  return result.data;
}

/** A sentence for a person: the message, and what to do for the codes that have a fix. */
export function readableError(e: unknown): string {
  const err = toIpcError(e);
  const message = err.message.trim() || "Something went wrong";
  switch (err.code) {
    case "invalid_plan": {
      const n = err.issues?.length ?? 0;
      return n > 0 ? `The plan has ${n} problem${n === 1 ? "" : "s"}: see the marked fields.` : message;
    }
    case "invalid_integration": {
      const n = err.issues?.length ?? 0;
      return n > 0 ? `The integration definition has ${n} problem${n === 1 ? "" : "s"}.` : message;
    }
    case "keychain_unavailable":
      return `${message} (See Credentials for how to fix it.)`;
    default:
      return message;
  }
}
