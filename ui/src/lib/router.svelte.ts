// Hash routes (#/plans, #/plans/<id>, #/runs/<id>...): they work from
// tauri://localhost and a static file server alike, and the back button works.
import { confirmDialog } from "./dialog.svelte";

export type Route =
  | { name: "plans" }
  | { name: "plan-new" }
  | { name: "plan-draft" }
  | { name: "plan-edit"; id: string }
  | { name: "schedule"; id: string }
  | { name: "runs" }
  | { name: "run"; id: string }
  | { name: "dashboard" }
  | { name: "credentials" }
  | { name: "integrations" }
  | { name: "settings" };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const [a, b, c] = parts;
  switch (a) {
    case "plans":
      if (b === "new") return { name: "plan-new" };
      if (b === "draft") return { name: "plan-draft" };
      if (b && c === "schedule") return { name: "schedule", id: b };
      if (b) return { name: "plan-edit", id: b };
      return { name: "plans" };
    case "runs":
      return b ? { name: "run", id: b } : { name: "runs" };
    case "dashboard":
      return { name: "dashboard" };
    case "credentials":
      return { name: "credentials" };
    case "integrations":
      return { name: "integrations" };
    case "settings":
      return { name: "settings" };
    default:
      return { name: "plans" };
  }
}

export function href(path: string): string {
  return "#" + path;
}

/** Which navigation entry a route belongs to. */
export function section(route: Route): string {
  switch (route.name) {
    case "plans":
    case "plan-new":
    case "plan-draft":
    case "plan-edit":
    case "schedule":
      return "plans";
    case "runs":
    case "run":
      return "runs";
    default:
      return route.name;
  }
}

export const router = $state<{ route: Route; hash: string }>({
  route: parseRoute(typeof location === "undefined" ? "" : location.hash),
  hash: typeof location === "undefined" ? "" : location.hash,
});

/** Asked before leaving the current screen; true when there is something to lose. */
let guard: (() => boolean) | null = null;

export function setLeaveGuard(fn: (() => boolean) | null): void {
  guard = fn;
}

export function hasUnsavedChanges(): boolean {
  return guard ? guard() : false;
}

async function mayLeave(): Promise<boolean> {
  if (!guard || !guard()) return true;
  const ok = await confirmDialog(
    "Leave without saving?",
    "This plan has changes that are not saved. They are lost if you leave now.",
    { ok: "Leave and discard", cancel: "Stay", danger: true },
  );
  return ok;
}

let reverting = false;

function onHashChange(): void {
  if (reverting) {
    reverting = false;
    return;
  }
  const target = location.hash;
  if (target === router.hash) return;
  if (!guard || !guard()) {
    apply(target);
    return;
  }
  // Put the address back while the person decides.
  reverting = true;
  history.replaceState(null, "", router.hash || "#/plans");
  reverting = false;
  void mayLeave().then((ok) => {
    if (ok) {
      history.pushState(null, "", target);
      apply(target);
    }
  });
}

function apply(hash: string): void {
  router.hash = hash;
  router.route = parseRoute(hash);
}

/** Go to a route path ("/runs/abc"), asking first if there are unsaved changes. */
export async function navigate(path: string, options: { replace?: boolean; force?: boolean } = {}): Promise<boolean> {
  const target = "#" + path;
  if (target === router.hash) return true;
  if (!options.force && !(await mayLeave())) return false;
  if (options.replace) history.replaceState(null, "", target);
  else history.pushState(null, "", target);
  apply(target);
  return true;
}

let started = false;

export function startRouter(): void {
  if (started) return;
  started = true;
  if (!location.hash) history.replaceState(null, "", "#/plans");
  apply(location.hash);
  window.addEventListener("hashchange", onHashChange);
  window.addEventListener("beforeunload", (e) => {
    if (guard && guard()) {
      e.preventDefault();
      e.returnValue = "";
    }
  });
}
