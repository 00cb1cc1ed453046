// The trigger types a plan can have, in the order the editor offers them, with a
// fresh trigger of each and the plan list's words for them.
import type { ScheduledJob, Trigger } from "../bindings";

export type TriggerKind = Trigger["type"];

export type TriggerChoice = {
  kind: TriggerKind;
  label: string;
  hint: string;
  fresh: () => Trigger;
};

export const TRIGGER_KINDS: TriggerChoice[] = [
  { kind: "manual", label: "By hand", hint: "When you start it", fresh: () => ({ type: "manual" }) },
  {
    kind: "cron",
    label: "On a schedule",
    hint: "Every day at 9:00, every hour…",
    fresh: () => ({ type: "cron", cron_expression: "0 9 * * *", catch_up: "run_once", overlap: "skip" }),
  },
];

export function triggerKind(t: Trigger | undefined | null): TriggerKind {
  return t?.type ?? "manual";
}

/** What starts a plan, in words, for the plan list. */
export function triggerWords(t: Trigger, schedule?: ScheduledJob | null): string {
  switch (t.type) {
    case "manual":
      return "By hand";
    case "cron":
      return schedule?.description ?? t.cron_expression;
    default:
      return (t as { type: string }).type;
  }
}
