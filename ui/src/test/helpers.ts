import { waitFor } from "@testing-library/svelte";
import type { Value } from "../bindings";
import { createMockBackend } from "../dev/mock-backend";

export { createMockBackend };

/** Set the value of an input/textarea/select the way typing does (fires input and change). */
export function typeInto(el: Element, value: string): void {
  const input = el as HTMLInputElement;
  input.value = value;
  input.dispatchEvent(new Event("input", { bubbles: true }));
  input.dispatchEvent(new Event("change", { bubbles: true }));
}

export function byTestId<T extends Element = HTMLElement>(root: ParentNode, id: string): T {
  const el = root.querySelector<T>(`[data-testid="${id}"]`);
  if (!el) throw new Error(`no element with data-testid="${id}"`);
  return el;
}

export function allByTestId<T extends Element = HTMLElement>(root: ParentNode, id: string): T[] {
  return Array.from(root.querySelectorAll<T>(`[data-testid="${id}"]`));
}

export function stepCard(root: ParentNode, index: number): HTMLElement {
  const el = root.querySelector<HTMLElement>(`[data-testid="step"][data-index="${index}"]`);
  if (!el) throw new Error(`no step ${index}`);
  return el;
}

/** The param control of a step, and the field block around it (label, help, errors). */
export function param(root: ParentNode, index: number, name: string): { control: HTMLElement; field: HTMLElement } {
  const control = byTestId(stepCard(root, index), `param-${name}`);
  const field = control.closest<HTMLElement>(".field");
  if (!field) throw new Error(`param-${name} has no field block`);
  return { control, field };
}

export async function waitForCall(calls: { cmd: string; args: Record<string, unknown> }[], cmd: string, pred: (args: Record<string, unknown>) => boolean = () => true) {
  let found: Record<string, unknown> | undefined;
  await waitFor(() => {
    found = [...calls].reverse().find((c) => c.cmd === cmd && pred(c.args))?.args;
    if (!found) throw new Error(`no ${cmd} call yet`);
  }, { timeout: 4000 });
  return found as Record<string, unknown>;
}

export const THREE_STEP_PLAN: Value = {
  name: "Release to webhook",
  steps: [
    { id: "fetch", provider: "http", action: "request", params: { method: "GET", url: "http://127.0.0.1:9/releases", headers: { Accept: "application/json" } } },
    { provider: "logic", action: "extract", params: { input: "", path: "$[0].name" } },
    { provider: "webhook", action: "post_request", params: { url: "http://127.0.0.1:9/hook", payload: { text: "x" } } },
  ],
};
