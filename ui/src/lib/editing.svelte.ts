// The plan editor's state: the document (the generated `PlanFile`) with its steps
// keyed for the screen, what was last saved (dirty tracking), validation as one
// types, and the tests, dry run and run started from the editor. The editor's
// components read and change it only through this class.
import type {
  CredentialField, PlanFile, PlanIssue, PlanRow, RunOutcome, ScheduledJob, StepRecord, StepSpec, Value,
} from "../bindings";
import { commands } from "../bindings";
import { call, toIpcError } from "./api";
import { showError, showNotice } from "./notify.svelte";
import {
  canonical, clone, emptyPlan, isCron, isWarning, parsePath, relocateStepIssues, remapStep, refersTo, setIn,
  toPlanFile, toWire, type JsonObject, type TestState,
} from "./plan";
import { holdsJson, itemOptions, listOptions, refFor, refOptions, sampleOf, stepName, testFirst, type RefGroup } from "./refs";
import { TriggerSampling } from "./trigger-sample.svelte";
import { rememberSmtp } from "./smtp-memory";
import { triggerKind } from "./triggers";

/** A step as the editor holds it: its spec and a key that follows it when it moves. */
export type KeyedStep = { key: number; spec: StepSpec };
export type PlanMeta = Omit<PlanFile, "steps">;

/** How long typing pauses before the plan is checked. */
export const VALIDATE_DELAY_MS = 300;

let nextKey = 1;

function keyed(steps: StepSpec[]): KeyedStep[] {
  return steps.map((spec) => ({ key: nextKey++, spec: clone(spec) }));
}

function metaOf(doc: PlanFile): PlanMeta {
  const { steps: _steps, ...meta } = clone(doc);
  return meta;
}

export class PlanEditing {
  // ---- the document ----
  meta = $state<PlanMeta>(metaOf(emptyPlan()));
  steps = $state<KeyedStep[]>([]);
  doc = $derived<PlanFile>({ ...this.meta, steps: this.steps.map((s) => s.spec) });
  wire = $derived(toWire(this.doc));
  snapshot = $derived(canonical(this.wire));

  // ---- what is stored ----
  currentId = $state<string | null>(null);
  version = $state<number | null>(null);
  savedDoc = $state<PlanFile | null>(null);
  baseline = $state(canonical(toWire(emptyPlan())));
  dirty = $derived(this.snapshot !== this.baseline);

  loading = $state(false);
  loadFailed = $state(false);
  saving = $state(false);
  importedFrom = $state<string | null>(null);
  /** Holds a draft from a description, not saved yet. */
  fromDraft = $state(false);
  missing = $state<CredentialField[]>([]);
  plainSteps = $state<string[]>([]);
  /** The plan (canonical) the plain-English steps describe: they hide once it is edited. */
  plainStepsFor = $state("");

  // ---- on or off: one switch (the stored status, and a paused schedule counts as off) ----
  /** The stored plan's schedule (next run, paused), when it has one. */
  schedule = $state<ScheduledJob | null>(null);
  settingOn = $state(false);
  /** Whether the plan is on: the stored one's, or what a new plan will be created as. */
  on = $derived(
    this.currentId
      ? this.savedDoc?.status === "active" && !(this.schedule?.paused ?? false)
      : this.meta.status === "active",
  );
  /** Something besides a person starts it (a schedule, an event). */
  startsByItself = $derived((this.meta.trigger?.type ?? "manual") !== "manual");

  // ---- validation ----
  issues = $state<PlanIssue[]>([]);
  testIssues = $state<PlanIssue[]>([]);
  validateOn = $state(false);
  private timer: ReturnType<typeof setTimeout> | undefined;
  allIssues = $derived([...this.issues, ...this.testIssues]);
  errors = $derived(this.allIssues.filter((i) => !isWarning(i)));
  warnings = $derived(this.allIssues.filter(isWarning));

  // ---- results: tests, a dry run, runs ----
  tests = $state<Record<number, TestState>>({});
  lastRun = $state<{ runId: string; records: Record<number, StepRecord> } | null>(null);
  liveRunId = $state<string | null>(null);
  starting = $state(false);
  dryRun = $state<RunOutcome | null>(null);
  dryRunning = $state(false);
  /** The event trigger's sample (fetched, a test event, or the last run's), for the picker and tests. */
  sample = new TriggerSampling();

  // ---- loading ----

  private reset(): void {
    clearTimeout(this.timer);
    this.issues = [];
    this.testIssues = [];
    this.tests = {};
    this.lastRun = null;
    this.liveRunId = null;
    this.importedFrom = null;
    this.missing = [];
    this.plainSteps = [];
    this.plainStepsFor = "";
    this.fromDraft = false;
    this.dryRun = null;
    this.validateOn = false;
    void this.sample.stop();
    this.sample.clear();
    this.sample.lastRunEvent = null;
  }

  /** Show `doc` in the editor (keys anew). */
  replaceDoc(doc: PlanFile): void {
    this.meta = metaOf(doc);
    this.steps = keyed(doc.steps);
  }

  private adopt(row: PlanRow): void {
    this.currentId = row.id;
    this.version = row.version;
    const stored = toPlanFile(row.plan);
    this.savedDoc = clone(stored);
    this.baseline = canonical(toWire(stored));
    this.replaceDoc(stored);
  }

  /** A new plan: empty, or a document handed over unsaved (a file, a draft). */
  startNew(pending?: { plan: Value; issues: PlanIssue[]; fileName?: string; draft?: { missing: CredentialField[]; plainSteps: string[] } } | null): void {
    this.reset();
    this.currentId = null;
    this.version = null;
    this.savedDoc = null;
    this.baseline = canonical(toWire(emptyPlan()));
    if (!pending) {
      this.replaceDoc(emptyPlan());
      return;
    }
    this.replaceDoc(toPlanFile(pending.plan));
    this.issues = pending.issues;
    if (pending.draft) {
      this.fromDraft = true;
      this.missing = pending.draft.missing;
      this.plainSteps = pending.draft.plainSteps;
      this.plainStepsFor = this.snapshot;
    } else {
      this.importedFrom = pending.fileName ?? null;
    }
    this.changed();
  }

  async load(id: string): Promise<void> {
    this.reset();
    this.loading = true;
    this.loadFailed = false;
    try {
      const detail = await call(commands.getPlan(id));
      this.adopt(detail.plan);
      this.missing = detail.missing_credentials;
      this.plainSteps = detail.plain_english_steps;
      this.plainStepsFor = this.baseline;
      this.issues = detail.warnings;
      this.changed();
      void this.loadLastRun(id);
      void this.loadSchedule();
    } catch (e) {
      this.loadFailed = true;
      showError(e, "Could not open the plan");
    } finally {
      this.loading = false;
    }
  }

  private async refreshDetail(): Promise<void> {
    if (!this.currentId) return;
    try {
      const detail = await call(commands.getPlan(this.currentId));
      this.missing = detail.missing_credentials;
      this.plainSteps = detail.plain_english_steps;
      this.plainStepsFor = this.baseline;
    } catch {
      /* the notice stays as it was */
    }
  }

  // ---- editing ----

  /** Something changed: check the plan once typing pauses. */
  changed(): void {
    this.validateOn = true;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.validate(), VALIDATE_DELAY_MS);
  }

  editMeta(fn: (meta: PlanMeta) => void): void {
    fn(this.meta);
    this.changed();
  }

  editStep(index: number, fn: (step: StepSpec) => void): void {
    const s = this.steps[index];
    if (!s) return;
    fn(s.spec);
    this.changed();
  }

  indexOfKey(key: number): number {
    return this.steps.findIndex((s) => s.key === key);
  }

  /** Add a step at `at` (the end by default); references to later steps follow. Its key. */
  addStep(spec: StepSpec = { provider: "", action: "", params: {} }, at = this.steps.length): number {
    const key = nextKey++;
    const shifted = this.steps.map((s) => ({ key: s.key, spec: remapStep(s.spec, (old) => (old >= at ? old + 1 : undefined)) }));
    shifted.splice(at, 0, { key, spec: clone(spec) });
    this.steps = shifted;
    this.changed();
    return key;
  }

  /** Apply an issue's one-click fix: its `fix` value goes where the issue points. */
  applyFix(issue: PlanIssue): boolean {
    if (issue.fix === undefined || issue.fix === null) return false;
    const path = parsePath(issue.path);
    const fix = clone(issue.fix);
    if (path[0] === "steps" && typeof path[1] === "number" && path.length > 2) {
      this.editStep(path[1], (s) => setIn(s as unknown as JsonObject, path.slice(2), fix));
    } else if (path.length > 0 && path[0] !== "steps") {
      this.editMeta((m) => setIn(m as unknown as JsonObject, path, fix));
    } else {
      return false;
    }
    this.issues = this.issues.filter((i) => i !== issue);
    return true;
  }

  /** Remove step `index`; whether later steps referred to it (by position). */
  removeStep(index: number): boolean {
    const referenced = this.steps.some((s, j) => j > index && refersTo(s.spec, index));
    const rest = this.steps.filter((_, j) => j !== index);
    this.steps = rest.map((s) => ({ key: s.key, spec: remapStep(s.spec, (old) => (old > index ? old - 1 : undefined)) }));
    this.changed();
    return referenced;
  }

  /** Move a step; keys and references follow their steps. */
  moveStep(from: number, to: number): boolean {
    if (to < 0 || to >= this.steps.length || from === to) return false;
    const order = this.steps.map((_, i) => i);
    const [moved] = order.splice(from, 1);
    order.splice(to, 0, moved);
    // order[newIndex] = oldIndex
    const newIndexOf = new Map(order.map((old, neu) => [old, neu]));
    this.steps = order.map((old) => ({ key: this.steps[old].key, spec: remapStep(this.steps[old].spec, (o) => newIndexOf.get(o)) }));
    this.changed();
    return true;
  }

  /** Insert a `logic.json_parse` step reading step `index`'s output right after it. */
  insertParseStep(index: number): number {
    const key = this.addStep({ provider: "logic", action: "json_parse", params: { input: refFor(stepName(index, this.steps[index]?.spec.id)) } }, index + 1);
    showNotice(`Added step ${index + 2}: it parses the text of step ${index + 1}. Test it, then pick its fields.`);
    return key;
  }

  // ---- validation ----

  async validate(): Promise<void> {
    clearTimeout(this.timer);
    const snap = this.snapshot;
    const wire = this.wire;
    try {
      const found = await call(commands.validatePlan(wire));
      if (snap !== this.snapshot) return;
      this.issues = found;
      this.testIssues = [];
      // What the plan as it now stands needs (a step added, an auth credential named).
      if (!found.some((i) => !isWarning(i))) {
        const needed = await call(commands.missingCredentials(wire));
        if (snap === this.snapshot) this.missing = needed;
      }
    } catch (e) {
      showError(e, "Could not check the plan");
    }
  }

  /** A command on the whole plan failed: its problems go on their fields; whether it was that. */
  planFailed(e: unknown, context: string): boolean {
    const err = toIpcError(e);
    const invalid = err.code === "invalid_plan" && !!err.issues;
    if (invalid) this.issues = err.issues ?? [];
    showError(e, invalid ? undefined : context);
    return invalid;
  }

  // ---- results for previews and tests: a test or dry run of this session, else the last run ----

  private finalRecords(steps: StepRecord[]): Record<number, StepRecord> {
    const out: Record<number, StepRecord> = {};
    for (const r of steps) if (r.status !== "retrying") out[r.step_number] = r;
    return out;
  }

  private async loadLastRun(id: string): Promise<void> {
    try {
      const page = await call(commands.listRuns({ plan_id: id, status: null, since: null, until: null }, { limit: 1, offset: 0 }));
      const run = page.runs[0];
      if (run) await this.adoptRun(run.id, id);
    } catch {
      /* previews are a help, not a must */
    }
  }

  /** Take a finished run's records as the previews' "last run". */
  async adoptRun(runId: string, planId = this.currentId): Promise<void> {
    const detail = await call(commands.getRun(runId));
    if (this.currentId !== planId) return;
    this.lastRun = { runId, records: this.finalRecords(detail.steps) };
    this.sample.lastRunEvent = detail.trigger;
  }

  resultFor(index: number): { record: StepRecord; source: string } | null {
    const s = this.steps[index];
    const t = s ? this.tests[s.key] : undefined;
    if (t && !t.running && "record" in t) return { record: t.record, source: t.dryRun ? "the dry run" : "your test of this step" };
    const r = this.lastRun?.records[index];
    return r ? { record: r, source: "the last run" } : null;
  }

  private outputOf(step: string): Value | undefined {
    const index = /^\d+$/.test(step) ? Number(step) : this.steps.findIndex((s) => s.spec.id === step);
    return index >= 0 ? this.resultFor(index)?.record.output : undefined;
  }

  /** What step `index`'s picker offers: earlier results, and the item in a `for_each` step. */
  refGroupsFor(index: number, opts: { lists?: boolean; item?: boolean } = {}): RefGroup[] {
    const groups: RefGroup[] = this.steps.slice(0, index).map((s, j) => {
      const res = this.resultFor(j);
      const output = res?.record.output;
      const jsonText = holdsJson(output);
      const options = refOptions(stepName(j, s.spec.id), output);
      return {
        key: `step-${j}`,
        title: `Step ${j + 1}: ${s.spec.provider || "?"}.${s.spec.action || "?"}${s.spec.id ? ` (${s.spec.id})` : ""}`,
        source: res?.source ?? null,
        options: opts.lists ? listOptions(options) : options,
        jsonText,
        parse: jsonText ? () => void this.insertParseStep(j) : undefined,
      };
    });
    const trigger = this.sample.refGroup(triggerKind(this.meta.trigger), this.meta.trigger);
    if (trigger) groups.unshift(opts.lists ? { ...trigger, options: listOptions(trigger.options) } : trigger);
    const spec = this.steps[index]?.spec;
    if (opts.item !== false && !opts.lists && spec && typeof spec.for_each === "string" && spec.for_each.trim() !== "") {
      const list = sampleOf(spec.for_each, (step) => this.outputOf(step));
      const sample = Array.isArray(list) ? list[0] : undefined;
      groups.unshift({
        key: "item",
        title: "The item (this step runs once per item)",
        source: sample === undefined ? null : "the first item of the list",
        options: itemOptions(sample),
      });
    }
    return groups;
  }

  async testStep(index: number): Promise<void> {
    const s = this.steps[index];
    if (!s) return;
    const key = s.key;
    this.tests[key] = { running: true };
    const step = this.wire.steps[index];
    // An earlier step this one uses has no result yet: say which to test first
    // (rather than the engine's "path not found (found null)").
    const first = testFirst(step, index, (name) => this.steps.findIndex((p) => p.spec.id === name), (j) => !!this.resultFor(j));
    if (first) {
      this.tests[key] = { running: false, error: { code: "bad_input", message: first, issues: null } };
      return;
    }
    const previous = this.steps.slice(0, index).map((p, j) => {
      const r = this.resultFor(j)?.record;
      return {
        id: typeof p.spec.id === "string" && p.spec.id.trim() !== "" ? p.spec.id.trim() : null,
        result: r
          ? ({ success: r.status === "success", output: r.output, message: r.message, metadata: r.metadata ?? {} } as Value)
          : { success: true, output: null, message: "", metadata: {} },
      };
    });
    try {
      // With the trigger's sample as `${trigger}`, when the plan has one.
      const event = this.sample.eventFor(triggerKind(this.meta.trigger))?.event;
      const record = await call(event ? commands.executeStepWithTrigger(step, previous, event) : commands.executeStep(step, previous));
      this.tests[key] = { running: false, record };
    } catch (e) {
      const err = toIpcError(e);
      if (err.code === "invalid_plan" && err.issues) {
        const at = this.indexOfKey(key);
        this.testIssues = relocateStepIssues(err.issues, at < 0 ? index : at);
        this.tests[key] = { running: false, error: { ...err, message: "The step has problems: see the marked fields." } };
      } else {
        this.tests[key] = { running: false, error: err };
      }
    }
  }

  // ---- save, run, dry run ----

  /** Save (create or update); the stored plan's id, or null when it failed. */
  async save(): Promise<{ id: string; created: boolean } | null> {
    this.saving = true;
    this.validateOn = true;
    const wire = this.wire;
    const snap = this.snapshot;
    const wasNew = this.currentId === null;
    try {
      const row = this.currentId ? await call(commands.updatePlan(this.currentId, wire)) : await call(commands.createPlan(wire));
      this.currentId = row.id;
      this.version = row.version;
      const stored = toPlanFile(row.plan);
      rememberSmtp(stored);
      this.savedDoc = clone(stored);
      this.baseline = canonical(toWire(stored));
      // Adopt the stored form unless the person typed on while it was saving (keys stay).
      if (this.snapshot === snap) this.meta = metaOf(stored);
      this.issues = this.issues.filter(isWarning);
      this.importedFrom = null;
      this.fromDraft = false;
      showNotice(wasNew ? `Created “${stored.name}”.` : `Saved version ${row.version}.`, "success");
      void this.refreshDetail();
      void this.loadSchedule();
      return { id: row.id, created: wasNew };
    } catch (e) {
      this.planFailed(e, "Could not save the plan");
      return null;
    } finally {
      this.saving = false;
    }
  }

  /** Run the stored plan (saving first when needed); the run's id. */
  async run(saveFirst: () => Promise<string | null>): Promise<string | null> {
    this.starting = true;
    try {
      let id = this.currentId;
      if (!id || this.dirty) {
        id = await saveFirst();
        if (!id) return null;
      }
      const runId = await call(commands.executePlan(id));
      this.liveRunId = runId;
      return runId;
    } catch (e) {
      showError(e, "Could not start the run");
      return null;
    } finally {
      this.starting = false;
    }
  }

  /** Rehearse the plan: side effects answered from stubs, nothing stored. */
  async rehearse(): Promise<void> {
    this.dryRunning = true;
    this.dryRun = null;
    this.validateOn = true;
    const keys = this.steps.map((s) => s.key);
    try {
      const result = await call(commands.dryRunPlan(this.wire));
      this.dryRun = result;
      // Each step's part shows on its card, and feeds the reference previews.
      keys.forEach((k, i) => {
        const r = result.steps.find((s) => s.step_number === i);
        if (r) this.tests[k] = { running: false, record: r, dryRun: true };
      });
    } catch (e) {
      this.planFailed(e, "Could not dry-run the plan");
    } finally {
      this.dryRunning = false;
    }
  }

  async stopRehearsal(): Promise<void> {
    try {
      await call(commands.cancelDryRun());
    } catch {
      /* it ended meanwhile */
    }
  }

  // ---- on/off, the schedule, versions, raw JSON, discard ----

  /** The stored plan's schedule (none for a new plan or one without a cron trigger). */
  async loadSchedule(): Promise<void> {
    const id = this.currentId;
    if (!id || !isCron(this.savedDoc?.trigger)) {
      this.schedule = null;
      return;
    }
    try {
      const job = await call(commands.getSchedule(id));
      if (this.currentId === id) this.schedule = job;
    } catch {
      /* the status line waits for the next change */
    }
  }

  /**
   * Turn the plan on or off. A stored plan changes at once and keeps its version
   * (on/off is not an edit; the person's unsaved edits stay unsaved); a new plan
   * is created that way.
   */
  async setOn(on: boolean): Promise<boolean> {
    const status = on ? "active" : "draft";
    if (!this.currentId || !this.savedDoc) {
      this.meta.status = status;
      this.changed();
      return true;
    }
    this.settingOn = true;
    try {
      const row = await call(commands.setPlanOn(this.currentId, on));
      const stored = toPlanFile(row.plan);
      rememberSmtp(stored);
      this.savedDoc = clone(stored);
      this.meta.status = stored.status;
      this.baseline = canonical(toWire(stored));
      await this.loadSchedule();
      showNotice(on ? `“${stored.name}” is on.` : `“${stored.name}” is off: it runs only when you start it.`, "success");
      return true;
    } catch (e) {
      showError(e, on ? "Could not turn the plan on" : "Could not turn the plan off");
      return false;
    } finally {
      this.settingOn = false;
    }
  }

  async restore(version: number): Promise<void> {
    if (!this.currentId) return;
    try {
      const row = await call(commands.restorePlanVersion(this.currentId, version));
      this.adopt(row);
      this.issues = [];
      showNotice(`Restored version ${version} as version ${row.version}.`, "success");
      void this.refreshDetail();
    } catch (e) {
      showError(e, `Could not restore version ${version}`);
    }
  }

  /**
   * Raw JSON typed in the editor: the backend reads it (`check_plan_text`); a
   * document it could read replaces the form (`willShow` hears its snapshot
   * first). The problems found, located; null when `isCurrent` says a newer text came.
   */
  async applyText(
    text: string,
    opts: { isCurrent?: () => boolean; willShow?: (snapshot: string) => void } = {},
  ): Promise<PlanIssue[] | null> {
    const check = await call(commands.checkPlanText(text));
    if (opts.isCurrent && !opts.isCurrent()) return null;
    if (check.plan) {
      const doc = toPlanFile(check.plan);
      const snap = canonical(toWire(doc));
      opts.willShow?.(snap);
      if (snap !== this.snapshot) {
        // Steps that stayed in place keep their keys (and their test results).
        const old = this.steps;
        this.meta = metaOf(doc);
        this.steps = doc.steps.map((spec, i) => ({ key: old[i]?.key ?? nextKey++, spec: clone(spec) }));
      }
      this.issues = check.issues;
      this.validateOn = true;
    }
    return check.issues;
  }

  discard(): void {
    if (this.savedDoc) {
      this.replaceDoc(clone(this.savedDoc));
    } else {
      this.replaceDoc(emptyPlan());
      this.importedFrom = null;
    }
    this.issues = [];
    this.testIssues = [];
  }

  destroy(): void {
    clearTimeout(this.timer);
  }
}
