// Names people read for providers and actions (ids stay secondary), and whether a
// step changes something outside Flowpilot.
import type { StepSpec } from "../bindings";

const PROVIDERS: Record<string, string> = {
  http: "HTTP request",
  custom_api: "HTTP request",
  webhook: "Webhook",
  logic: "Logic",
  openai: "OpenAI",
  groq: "Groq",
  openai_compatible: "OpenAI-compatible server",
  delay: "Delay",
  email: "Email",
  telegram: "Telegram",
};

const ACTIONS: Record<string, string> = {
  "http.request": "Send a request",
  "webhook.post_request": "Post JSON",
  "logic.extract": "Pick values (JSONPath)",
  "logic.template": "Build text",
  "logic.json_parse": "Parse JSON text",
  "logic.filter": "Keep matching items",
  "logic.assert": "Stop unless…",
  "logic.set": "Set a value",
  "delay.wait": "Wait",
};

/** `json_parse` → "Json parse". */
function humanize(id: string): string {
  const words = id.replace(/[_-]+/g, " ").trim();
  return words ? words[0].toUpperCase() + words.slice(1) : id;
}

export function providerTitle(name: string): string {
  return PROVIDERS[name] ?? humanize(name);
}

export function actionTitle(provider: string, action: string): string {
  const p = provider === "custom_api" ? "http" : provider;
  if (action === "chat_completion") return "Ask a chat model";
  return ACTIONS[`${p}.${action}`] ?? humanize(action);
}

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Whether running the step changes something outside Flowpilot: an HTTP GET does not. */
export function changesSomething(step: Pick<StepSpec, "provider" | "action" | "params">, declared: boolean): boolean {
  if (!declared) return false;
  if ((step.provider === "http" || step.provider === "custom_api") && step.action === "request") {
    const method = step.params?.method;
    if (typeof method !== "string" || method.trim() === "") return false; // GET by default
    return !(method.includes("${") ? false : READS.has(method.trim().toUpperCase()));
  }
  return true;
}

/** Edit distance (insertions, deletions, substitutions), for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const keep = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = keep;
    }
  }
  return row[b.length];
}

/** The name in `names` closest to `typed` (a likely typo), or null when none is close. */
export function closest(typed: string, names: string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const n of names) {
    const d = distance(typed.toLowerCase(), n.toLowerCase());
    if (d < bestD) {
      best = n;
      bestD = d;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(typed.length / 3)) ? best : null;
}
