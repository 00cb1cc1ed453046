// What a plan would do once active (review_plan), and a step in words.
import cronstrue from "cronstrue";
import type { CredentialInfo, CredentialUse, DynamicTarget, HostReview, PlanFile, PlanReview, StepWrite, TargetClass, Value } from "../../bindings";
import { changesSomething } from "../../lib/words";
import { isObj, providers, validate } from "./state";

/** A step in words, from the fixture's action description and the step's URL or prompt. */
export function plainStep(s: Value, i: number): string {
  if (!isObj(s)) return `${i + 1}. ?`;
  const p = isObj(s.params) ? s.params : {};
  const action = providers.find((x) => x.name === s.provider)?.actions.find((a) => a.name === s.action);
  const what = `${action?.description ?? "Run"} (${String(s.provider)}.${String(s.action)})`;
  const detail = p.url !== undefined ? `${p.method ? `${String(p.method)} ` : ""}${String(p.url)}` : p.prompt !== undefined ? String(p.prompt) : "";
  return `${i + 1}. ${what}${detail ? `: ${detail}` : ""}`;
}

/** The chat providers' own servers, when a step names no `base_url`. */
const DEFAULT_BASE_URLS: Record<string, string> = {
  openai: "https://api.openai.com",
  groq: "https://api.groq.com/openai",
};

/** Where a host is, by its name or literal address (the engine's `classify`, roughly). */
export function classifyHost(host: string): TargetClass {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "169.254.169.254" || h === "metadata.google.internal" || h === "metadata" || h === "fd00:ec2::254") return "metadata";
  if (h === "localhost" || h.endsWith(".localhost") || h === "::1" || h === "0.0.0.0" || /^127\./.test(h)) return "loopback";
  if (/^169\.254\./.test(h) || /^fe[89ab][0-9a-f]:/.test(h)) return "link_local";
  const m = /^(\d+)\.(\d+)\.\d+\.\d+$/.exec(h);
  if (m) {
    const [a, b] = [Number(m[1]), Number(m[2])];
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127)) return "private";
  }
  if (/^f[cd][0-9a-f]{2}:/.test(h) || h.endsWith(".local")) return "private";
  return "public";
}

/** The origin and host of an address written out in full; null when a `${...}` decides them. */
function literalOrigin(url: string): { origin: string; host: string } | null {
  const at = url.indexOf("://");
  if (at < 0) return null;
  const authority = url.slice(at + 3).split(/[/?#]/)[0];
  if (url.slice(0, at).includes("${") || authority.includes("${")) return null;
  try {
    const u = new URL(url);
    return { origin: u.origin, host: u.hostname.replace(/^\[|\]$/g, "") };
  } catch {
    return null;
  }
}

type Destination = { step: number; path: string; url: string; credentials: string[]; writes: boolean };

/** Every address a plan's steps contact, with the credentials sent there (the engine's `destinations`). */
function destinations(plan: PlanFile): Destination[] {
  const out: Destination[] = [];
  plan.steps.forEach((s, i) => {
    const p = providers.find((x) => x.name === s.provider || x.aliases.includes(s.provider));
    const credentials = [...new Set(p?.credential_fields ?? [])].map((f) => `${p!.name}/${f}`);
    const params = isObj(s.params) ? s.params : {};
    const writes = s.provider === "email" || changesSomething(s, s.provider === "http" || s.provider === "custom_api" || s.provider === "webhook");
    if ((s.provider === "http" || s.provider === "custom_api" || s.provider === "webhook") && typeof params.url === "string") {
      out.push({ step: i, path: `steps[${i}].params.url`, url: params.url, credentials, writes });
    } else if (s.action === "chat_completion") {
      const base = typeof params.base_url === "string" && params.base_url.trim() !== "" ? params.base_url : null;
      if (base) out.push({ step: i, path: `steps[${i}].params.base_url`, url: base, credentials, writes });
      else if (DEFAULT_BASE_URLS[p?.name ?? ""]) out.push({ step: i, path: `steps[${i}]`, url: `${DEFAULT_BASE_URLS[p!.name]}/v1/chat/completions`, credentials, writes });
    }
  });
  return out;
}

const CLASS_WORDS: Record<TargetClass, string> = {
  public: "on the internet",
  loopback: "this machine",
  private: "on the local network",
  link_local: "a link-local address",
  metadata: "a cloud metadata service",
};

/** What a plan would do once active (the engine's `review`, from the fixture's providers). */
export function reviewOf(plan: PlanFile, set: CredentialInfo[]): PlanReview {
  const hosts: HostReview[] = [];
  const dynamic_targets: DynamicTarget[] = [];
  const credentials: CredentialUse[] = [];
  const writes: StepWrite[] = [];
  const warnings = validate(plan).filter((i) => i.severity === "warning");
  const summary = (i: number) => plainStep(plan.steps[i] as unknown as Value, i);
  for (const d of destinations(plan)) {
    const fixed = literalOrigin(d.url);
    const place = fixed?.origin ?? d.url;
    if (fixed) {
      let h = hosts.find((x) => x.origin === fixed.origin);
      if (!h) {
        h = { origin: fixed.origin, host: fixed.host, class: classifyHost(fixed.host), steps: [], credentials: [], writes: false };
        hosts.push(h);
      }
      if (!h.steps.includes(d.step)) h.steps.push(d.step);
      for (const c of d.credentials) if (!h.credentials.includes(c)) h.credentials.push(c);
      h.writes ||= d.writes;
      if (h.class !== "public") {
        const bad = h.class === "metadata" || h.class === "link_local";
        warnings.push({
          path: d.path,
          kind: "private_target",
          severity: "warning",
          message: bad
            ? `\`${h.host}\` is ${CLASS_WORDS[h.class]}: a plan has no business reaching it; remove the step unless you wrote it yourself`
            : `\`${h.host}\` is ${CLASS_WORDS[h.class]}: fine for a server of your own, but a plan from elsewhere should not reach it without you knowing`,
        });
      }
    } else {
      dynamic_targets.push({ step: d.step, path: d.path, url: d.url, credentials: d.credentials });
    }
    for (const c of d.credentials) {
      const [provider, field] = c.split("/");
      let u = credentials.find((x) => x.provider === provider && x.field === field);
      if (!u) {
        u = { provider, field, is_set: set.some((x) => x.provider === provider && x.field === field), sent_to: [] };
        credentials.push(u);
      }
      if (!u.sent_to.includes(place)) u.sent_to.push(place);
    }
    if (d.writes && !writes.some((w) => w.step === d.step)) {
      const s = plan.steps[d.step];
      writes.push({ step: d.step, step_id: s.id ?? null, provider: s.provider, action: s.action, summary: summary(d.step), target: place });
    }
  }
  plan.steps.forEach((s, i) => {
    if (s.provider === "email" && !writes.some((w) => w.step === i)) {
      writes.push({ step: i, step_id: s.id ?? null, provider: s.provider, action: s.action, summary: summary(i), target: null });
    }
  });
  writes.sort((a, b) => a.step - b.step);
  let schedule: string | null = null;
  if (plan.trigger?.type === "cron") {
    try {
      schedule = cronstrue.toString(plan.trigger.cron_expression, { use24HourTimeFormat: true });
    } catch {
      schedule = plan.trigger.cron_expression;
    }
  }
  return { name: plan.name, status: plan.status ?? "draft", schedule, hosts, dynamic_targets, credentials, writes, warnings };
}
