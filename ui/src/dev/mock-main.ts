// The UI against the in-memory backend, to look at it in a plain browser.
import { createMockBackend } from "./mock-backend";
import { examples } from "../lib/examples";

// Anything the CSP blocks (an inline style, eval) is recorded for checks.
const violations: string[] = [];
document.addEventListener("securitypolicyviolation", (e) => violations.push(`${e.violatedDirective}: ${e.blockedURI} ${e.sample}`));
(window as unknown as { __cspViolations: string[] }).__cspViolations = violations;

const params = new URLSearchParams(location.search);
const empty = params.has("empty");
const backend = createMockBackend({
  plans: empty ? [] : examples.map((e) => e.plan),
  runs: !empty,
  keychain: !params.has("nokeychain"),
});
backend.install();
if (!empty) {
  // A run with a skipped step and a loop, to look at (the fake itself neither evaluates nor loops).
  const base = { run_id: "", step_id: null, attempt: 1, latency_ms: 12, error: null, items: null, timestamp: new Date().toISOString() };
  backend.addRun({ plan_name: "Conditions and loops (sample)" }, [
    { ...base, step_number: 0, provider: "http", action: "request", status: "success", message: "", output: { items: [1, 2, 3] }, output_preview: '{"items":[1,2,3]}', metadata: {} },
    { ...base, step_number: 1, provider: "logic", action: "set", status: "skipped", message: "skipped: its condition was false", output: null, output_preview: "null",
      metadata: { condition: [{ left: "all quiet", op: "contains", right: "outage", holds: false }] } },
    { ...base, step_number: 2, provider: "logic", action: "set", status: "success", message: "3 of 3 items succeeded, 0 failed, 0 skipped", output: [1, 2, 3], output_preview: "[1,2,3]",
      metadata: { succeeded: 3, failed: 0, skipped: 0 },
      items: [0, 1, 2].map((index) => ({ index, status: "success" as const, attempt: 1, latency_ms: 3 + index, error: null, message: "" })) },
  ]);
}
if (!empty) backend.state.credentials.push({ provider: "openai", field: "api_key", updated_at: new Date().toISOString() });

void import("../main");

// For poking at it from the console.
(window as unknown as { __mock: unknown }).__mock = backend;
