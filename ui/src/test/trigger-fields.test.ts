// Every field of every event trigger type has a control in its form: the list
// comes from the JSON Schema generated from the Rust model (plan-schema.json),
// so a field added to engine/src/plan/trigger.rs fails here until a form shows it.
import { describe, expect, it } from "vitest";
import { render } from "@testing-library/svelte";
import type { Component } from "svelte";
import planSchema from "../plan-schema.json";
import type { Trigger } from "../bindings";
import EmailForm from "../components/trigger/EmailForm.svelte";
import FeedForm from "../components/trigger/FeedForm.svelte";
import PollForm from "../components/trigger/PollForm.svelte";
import TelegramForm from "../components/trigger/TelegramForm.svelte";
import WebhookForm from "../components/trigger/WebhookForm.svelte";
import { TRIGGER_KINDS } from "../lib/triggers";
import { createMockBackend } from "./helpers";

type Schema = { properties?: Record<string, Schema>; $ref?: string; anyOf?: Schema[]; oneOf?: Schema[]; const?: string };
const defs = (planSchema as unknown as { $defs: Record<string, Schema> }).$defs;

/** The object a property holds, through `$ref` and `anyOf [ref, null]`. */
function target(s: Schema): Schema {
  const ref = s.$ref ?? s.anyOf?.find((a) => a.$ref)?.$ref;
  return ref ? defs[ref.replace("#/$defs/", "")] : s;
}

/** The dotted paths of a trigger type's fields (nested objects too, `match.body`), `type` aside. */
function fieldsOf(kind: string): string[] {
  const variant = defs.Trigger.oneOf?.find((v) => v.properties?.type?.const === kind);
  if (!variant?.properties) throw new Error(`no ${kind} in the schema`);
  const out: string[] = [];
  for (const [name, prop] of Object.entries(variant.properties)) {
    if (name === "type") continue;
    out.push(name);
    const inner = target(prop);
    // `auth` is one control (the HTTP step's own); objects the form spells out field by field are listed.
    if (inner.properties && name !== "auth") for (const sub of Object.keys(inner.properties)) out.push(`${name}.${sub}`);
  }
  return out;
}

/** Whether the form shows a control for `trigger.<path>`: a field block or a control named after it. */
function hasControl(root: HTMLElement, path: string): boolean {
  const id = path.replace(/\./g, "-");
  return root.querySelector(`[data-field="trigger.${path}"], [data-testid="trigger-${id}"]`) !== null;
}

/** A trigger form: the props every one takes. */
type TriggerForm = Component<{ trigger: never; issues: []; onchange: (t: Trigger) => void }>;

const FORMS: { kind: string; form: TriggerForm; trigger: Trigger }[] = [
  // Sync and signed by a sender of its own: the fields shown only then show.
  { kind: "webhook", form: WebhookForm as never, trigger: { type: "webhook", respond: "sync", wait_s: 30, signature: { scheme: "hmac_sha256", credential: "s" } } },
  { kind: "email", form: EmailForm as never, trigger: TRIGGER_KINDS.find((k) => k.kind === "email")!.fresh() },
  { kind: "feed", form: FeedForm as never, trigger: TRIGGER_KINDS.find((k) => k.kind === "feed")!.fresh() },
  { kind: "telegram", form: TelegramForm as never, trigger: TRIGGER_KINDS.find((k) => k.kind === "telegram")!.fresh() },
  { kind: "poll", form: PollForm as never, trigger: TRIGGER_KINDS.find((k) => k.kind === "poll")!.fresh() },
];

describe("every field of a trigger type has a control", () => {
  for (const { kind, form, trigger } of FORMS) {
    it(`${kind}: ${fieldsOf(kind).join(", ")}`, () => {
      createMockBackend().install();
      const { container } = render(form, { props: { trigger: trigger as never, issues: [], onchange: () => {} } });
      const missing = fieldsOf(kind).filter((f) => !hasControl(container, f));
      expect(missing).toEqual([]);
    });
  }
});
