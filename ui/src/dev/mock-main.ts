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
if (!empty) backend.state.credentials.push({ provider: "openai", field: "api_key", updated_at: new Date().toISOString() });

void import("../main");

// For poking at it from the console.
(window as unknown as { __mock: unknown }).__mock = backend;
