// An in-memory stand-in for the Rust commands, for component tests and for
// looking at the UI in a plain browser (`npm run mock`). Not part of the app build.
//
// Its checks come from the one definition (schema-check.ts: the generated plan
// schema and the providers fixture's params schemas). It re-implements none of
// the engine's rules: runs and dry runs give every step a canned output (no
// references resolved, no condition evaluated, no loop over items, nothing
// stubbed), missing credentials are the fields the fixture declares for the
// providers a plan uses (no `http` auth credentials), and replays are never
// refused. Tests that need more override a handler (`install({cmd: fn})`) or
// seed runs with `addRun`.
//
// The parts live in ./mock: state.ts (the state and shared helpers), plans.ts,
// runs.ts (runs, replays, dry runs, stats), credentials.ts, triggers.ts
// (schedules, triggers, webhooks), integrations.ts, review.ts (review_plan),
// and index.ts, which puts the command table together.
export type { MockState } from "./mock/state";
export { providers, validate } from "./mock/state";
export { BUILTIN_INTEGRATIONS } from "./mock/integrations";
export { DRAFTED_PLAN } from "./mock/plans";
export { classifyHost, reviewOf } from "./mock/review";
export { preview } from "./mock/triggers";
export { stepRecord } from "./mock/runs";
export { createMockBackend } from "./mock/index";
