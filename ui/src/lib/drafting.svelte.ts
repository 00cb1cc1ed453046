// The draft screen's state. It lives here, not in the screen, so a person can go
// and set a missing credential and come back to the same draft (and so the
// editor can send its plan's prompt back for a re-draft).
import type { CredentialField, Draft, DraftRequest, IpcError, PlanIssue, ProviderInfo } from "../bindings";
import { commands } from "../bindings";
import { call, toIpcError } from "./api";
import { toPlanFile } from "./plan";

/** The action a provider needs to draft plans. */
export const CHAT_ACTION = "chat_completion";

const REMEMBER_KEY = "flowpilot.draft-provider";

export type DraftForm = { prompt: string; provider: string; baseUrl: string; model: string };

export const drafting = $state<{
  form: DraftForm;
  busy: boolean;
  draft: Draft | null;
  /** The prompt the shown draft was made from (the form may have changed since). */
  draftedFrom: string;
  error: IpcError | null;
  /** Problems of the request itself, by field (`base_url`, `model`). */
  requestIssues: PlanIssue[];
}>({
  form: { prompt: "", ...remembered() },
  busy: false,
  draft: null,
  draftedFrom: "",
  error: null,
  requestIssues: [],
});

/** The providers that can draft: those with a chat action. */
export function draftingProviders(providers: ProviderInfo[]): ProviderInfo[] {
  return providers.filter((p) => p.actions.some((a) => a.name === CHAT_ACTION));
}

/** Which provider, server and model were used last (not secrets: no key is kept here). */
function remembered(): Omit<DraftForm, "prompt"> {
  const fallback = { provider: "openai", baseUrl: "", model: "" };
  try {
    const raw = typeof localStorage === "undefined" ? null : localStorage.getItem(REMEMBER_KEY);
    if (!raw) return fallback;
    const o = JSON.parse(raw) as Partial<DraftForm>;
    return {
      provider: typeof o.provider === "string" && o.provider ? o.provider : fallback.provider,
      baseUrl: typeof o.baseUrl === "string" ? o.baseUrl : "",
      model: typeof o.model === "string" ? o.model : "",
    };
  } catch {
    return fallback;
  }
}

function remember(f: DraftForm): void {
  try {
    localStorage.setItem(REMEMBER_KEY, JSON.stringify({ provider: f.provider, baseUrl: f.baseUrl, model: f.model }));
  } catch {
    /* private mode or full: the form just starts empty next time */
  }
}

export function requestOf(f: DraftForm): DraftRequest {
  const blank = (s: string) => (s.trim() === "" ? null : s.trim());
  return { prompt: f.prompt, provider: f.provider, base_url: blank(f.baseUrl), model: blank(f.model) };
}

let asked = 0;

/** Ask for a draft of the form's prompt. A newer request wins over an older one. */
export async function requestDraft(): Promise<void> {
  const mine = ++asked;
  const form = { ...drafting.form };
  drafting.busy = true;
  drafting.error = null;
  drafting.requestIssues = [];
  remember(form);
  try {
    const draft = await call(commands.draftPlan(requestOf(form)));
    if (mine !== asked) return;
    drafting.draft = draft;
    drafting.draftedFrom = form.prompt;
  } catch (e) {
    if (mine !== asked) return;
    const err = toIpcError(e);
    drafting.error = err;
    drafting.requestIssues = err.issues ?? [];
  } finally {
    if (mine === asked) drafting.busy = false;
  }
}

/** Stop waiting for the model. */
export async function cancelDraft(): Promise<void> {
  asked++;
  drafting.busy = false;
  try {
    await call(commands.cancelDraft());
  } catch {
    /* nothing was going on */
  }
}

/** Ask again which credentials the shown draft still needs (one may have been set meanwhile). */
export async function refreshMissing(): Promise<CredentialField[] | null> {
  const d = drafting.draft;
  if (!d) return null;
  try {
    const missing = await call(commands.missingCredentials(toPlanFile(d.plan)));
    if (drafting.draft === d) d.missing_credentials = missing;
    return missing;
  } catch {
    return null;
  }
}

/** Start over from a prompt (the editor's "re-draft"): the old draft goes. */
export function startFromPrompt(prompt: string): void {
  drafting.form.prompt = prompt;
  drafting.draft = null;
  drafting.draftedFrom = "";
  drafting.error = null;
  drafting.requestIssues = [];
}

export function discardDraft(): void {
  drafting.draft = null;
  drafting.draftedFrom = "";
  drafting.error = null;
  drafting.requestIssues = [];
}

/** Forget everything (tests). */
export function resetDrafting(): void {
  asked++;
  drafting.form = { prompt: "", provider: "openai", baseUrl: "", model: "" };
  drafting.busy = false;
  discardDraft();
}
