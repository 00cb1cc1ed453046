// The sample of an event trigger the editor works with: what `${trigger}` would
// be in a run. "Fetch a sample" asks the source for its newest items (no cursor
// moves, nothing is marked read); "Listen for a test event" waits for the next
// call to a webhook plan's URL. The picker offers `${trigger.item…}` /
// `${trigger.payload…}` with the sample's values, and "Test step" runs with it.
// Without a sample, the last run's event (what started it) gives the values.
import type { Trigger, Value } from "../bindings";
import { commands } from "../bindings";
import { call, toIpcError } from "./api";
import { canonical, isObject } from "./plan";
import { refsInto, type RefGroup } from "./refs";
import type { TriggerKind } from "./triggers";

/** The parts of `${trigger}` a run of each kind has (besides `type`), in the picker's order. */
const PARTS: Record<string, string[]> = {
  webhook: ["payload", "headers", "query"],
  email: ["item"],
  feed: ["item"],
  telegram: ["item"],
  poll: ["item"],
};

/** Settings that say when and how runs happen, not which items a sample has. */
const NOT_THE_SOURCE = new Set(["interval_s", "run_existing", "overlap", "idle", "mark_read"]);

/** What a sample of `trigger` was fetched with: the settings that choose its items. */
function fetchedWith(trigger: Trigger): string {
  return canonical(Object.fromEntries(Object.entries(trigger).filter(([key]) => !NOT_THE_SOURCE.has(key))));
}

export class TriggerSampling {
  /** What the sample is of; a sample of another kind is not offered. */
  kind = $state<TriggerKind | null>(null);
  /** Newest first: each is what `${trigger}` would be. */
  events = $state<Value[]>([]);
  /** The event the picker and tests use. */
  chosen = $state(0);
  note = $state<string | null>(null);
  error = $state<string | null>(null);
  fetching = $state(false);
  /** Waiting for a call to the plan's URL (the plan it listens for). */
  listeningFor = $state<string | null>(null);
  /** The event that started the plan's last run (`RunDetail.trigger`: no `type`). */
  lastRunEvent = $state<Value | null>(null);
  /** The settings the fetched sample came from (null for a test event, which the plan's URL gets). */
  private source = $state<string | null>(null);
  private turn = 0;

  /** Forget the sample (another plan, another trigger type). */
  clear(): void {
    this.kind = null;
    this.events = [];
    this.chosen = 0;
    this.note = null;
    this.error = null;
    this.source = null;
  }

  /** Whether the sample was fetched with other settings than `trigger` has now (another
   *  address, mailbox, filter…): its items may not be what runs of `trigger` get. */
  isStale(trigger: Trigger | null | undefined): boolean {
    if (!trigger || this.source === null || this.kind !== trigger.type || this.events.length === 0) return false;
    return fetchedWith(trigger) !== this.source;
  }

  /** The sample event for a trigger of `kind`, with where it comes from; null when there is none.
   *  Given the trigger as it is now, a sample fetched with other settings says so. */
  eventFor(kind: TriggerKind, trigger?: Trigger | null): { event: Value; source: string } | null {
    if (!PARTS[kind]) return null;
    if (this.kind === kind && this.events.length > 0) {
      const event = this.events[Math.min(this.chosen, this.events.length - 1)];
      if (kind === "webhook") return { event, source: "the test event" };
      return { event, source: this.isStale(trigger) ? "the sample fetched before the trigger changed" : "the sample" };
    }
    if (isObject(this.lastRunEvent)) return { event: { type: kind, ...this.lastRunEvent }, source: "the last run" };
    return null;
  }

  /** "Fetch a sample": the newest items of the trigger's source as runs would see them. */
  async fetch(trigger: Trigger): Promise<void> {
    this.fetching = true;
    this.error = null;
    try {
      const sample = await call(commands.fetchTriggerSample(trigger));
      this.kind = trigger.type;
      this.events = sample.events;
      this.chosen = 0;
      this.note = sample.note;
      this.source = fetchedWith(trigger);
    } catch (e) {
      this.error = toIpcError(e).message;
    } finally {
      this.fetching = false;
    }
  }

  /** "Listen for a test event": wait for the next call to the plan's URL; it becomes the sample. */
  async listen(planId: string): Promise<void> {
    // Each listen has its own turn: the answer of one stopped before belongs to no one.
    const turn = ++this.turn;
    this.listeningFor = planId;
    this.error = null;
    this.note = null;
    try {
      const event = await call(commands.listenForTestEvent(planId));
      if (turn !== this.turn) return;
      if (event === null) {
        this.note = "No call came: nothing was recorded.";
      } else {
        this.kind = "webhook";
        this.events = [event];
        this.chosen = 0;
        this.source = null;
      }
    } catch (e) {
      if (turn === this.turn) this.error = toIpcError(e).message;
    } finally {
      if (turn === this.turn) this.listeningFor = null;
    }
  }

  /** Stop waiting for a test event. */
  async stop(): Promise<void> {
    const planId = this.listeningFor;
    if (!planId) return;
    this.turn++;
    this.listeningFor = null;
    this.note = "Stopped listening.";
    try {
      await call(commands.stopListening(planId));
    } catch {
      /* it ended meanwhile */
    }
  }

  /** The picker's group for `${trigger…}` in a plan started by a `kind` trigger; null for manual or cron. */
  refGroup(kind: TriggerKind, trigger?: Trigger | null): RefGroup | null {
    const parts = PARTS[kind];
    if (!parts) return null;
    const found = this.eventFor(kind, trigger);
    const event = found && isObject(found.event) ? found.event : null;
    const options = parts.flatMap((part) => refsInto(`trigger.${part}`, event ? event[part] : undefined));
    return {
      key: "trigger",
      title: kind === "webhook" ? "The call that starts the run" : "The item that starts the run",
      source: found?.source ?? null,
      empty: kind === "webhook"
        ? "No call yet: “Listen for a test event” under When it runs shows its values here."
        : "No sample yet: “Fetch a sample” under When it runs shows its values here.",
      options,
    };
  }
}
