// The editor builds each step's form from its action's params schema.
import { describe, expect, it } from "vitest";
import { fireEvent, render, waitFor } from "@testing-library/svelte";
import PlanEditor from "../screens/PlanEditor.svelte";
import { THREE_STEP_PLAN, byTestId, createMockBackend, param, stepCard, typeInto, waitForCall } from "./helpers";

/** The SMTP settings step `i`'s form holds (its JSON box). */
function stepOf(root: HTMLElement, i: number): unknown {
  const text = (param(root, i, "smtp").control as HTMLTextAreaElement).value;
  return text.trim() === "" ? null : JSON.parse(text);
}

async function openEditor(plans = [THREE_STEP_PLAN]) {
  const backend = createMockBackend({ plans });
  backend.install();
  const view = render(PlanEditor, { props: { planId: backend.state.plans[0]?.id ?? null } });
  await waitFor(() => byTestId(view.container, "plan-name"));
  await waitFor(() => param(view.container, 0, "url"));
  return { backend, view, root: view.container };
}

describe("the generated step form", () => {
  it("renders a control per param, of the kind its schema says", async () => {
    const { root } = await openEditor();
    const http = stepCard(root, 0);
    expect((byTestId<HTMLSelectElement>(http, "step-provider")).value).toBe("http");
    expect((byTestId<HTMLSelectElement>(http, "step-action")).value).toBe("request");
    expect((byTestId<HTMLInputElement>(http, "step-id")).value).toBe("fetch");

    // string → text input
    const url = param(root, 0, "url").control as HTMLInputElement;
    expect(url.tagName).toBe("INPUT");
    expect(url.value).toBe("http://127.0.0.1:9/releases");
    // enum (through $ref) → select with its values
    const method = param(root, 0, "method").control as HTMLSelectElement;
    expect(method.tagName).toBe("SELECT");
    expect(Array.from(method.options).map((o) => o.value)).toEqual(["", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]);
    expect(method.value).toBe("GET");
    // key → value map → rows plus a JSON box
    const headers = param(root, 0, "headers");
    expect(headers.control.tagName).toBe("TEXTAREA");
    expect(JSON.parse((headers.control as HTMLTextAreaElement).value)).toEqual({ Accept: "application/json" });
    expect((byTestId<HTMLInputElement>(headers.field, "kv-key")).value).toBe("Accept");
    expect((byTestId<HTMLInputElement>(headers.field, "kv-value")).value).toBe("application/json");
    // free JSON → textarea
    expect(param(root, 0, "body").control.tagName).toBe("TEXTAREA");
    // object payload → JSON text
    const payload = param(root, 2, "payload").control as HTMLTextAreaElement;
    expect(JSON.parse(payload.value)).toEqual({ text: "x" });
    // boolean → checkbox
    expect((param(root, 1, "all").control as HTMLInputElement).type).toBe("checkbox");
  });

  it("a new email step starts with the SMTP settings of the last saved plan that sent email", async () => {
    localStorage.clear();
    const { root } = await openEditor();
    const provider = byTestId<HTMLSelectElement>(stepCard(root, 1), "step-provider");
    provider.value = "email";
    await fireEvent.change(provider);
    await waitFor(() => param(root, 1, "to"));
    // Nothing remembered yet: the SMTP box starts empty.
    expect(JSON.stringify(stepOf(root, 1))).not.toContain("smtp.example.com");

    const { rememberSmtp } = await import("../lib/smtp-memory");
    const smtp = { host: "smtp.example.com", port: 587, security: "starttls", username: "me@example.com", credential: "mail" };
    rememberSmtp({ name: "Sent", steps: [{ provider: "email", action: "send", params: { to: "a@example.com", subject: "s", smtp } }] });
    provider.value = "logic";
    await fireEvent.change(provider);
    provider.value = "email";
    await fireEvent.change(provider);
    await waitFor(() => expect(stepOf(root, 1)).toEqual(smtp));
  });

  it("numbers, nullable numbers and a changed action's form", async () => {
    const { root } = await openEditor();
    const provider = byTestId<HTMLSelectElement>(stepCard(root, 1), "step-provider");
    provider.value = "openai";
    await fireEvent.change(provider);
    await waitFor(() => param(root, 1, "temperature"));
    expect((byTestId<HTMLSelectElement>(stepCard(root, 1), "step-action")).value).toBe("chat_completion");
    const temp = param(root, 1, "temperature").control as HTMLInputElement;
    expect(temp.getAttribute("inputmode")).toBe("decimal");
    expect(param(root, 1, "prompt").control.tagName).toBe("TEXTAREA");
    expect((param(root, 1, "max_tokens").control as HTMLInputElement).getAttribute("inputmode")).toBe("numeric");
  });

  it("edits land in the plan sent to the backend with their JSON types", async () => {
    const { root, backend } = await openEditor();
    typeInto(param(root, 0, "url").control, "http://127.0.0.1:9/other");
    typeInto(param(root, 2, "payload").control, '{"text": "${steps.1.output}", "n": 2}');
    const headers = param(root, 0, "headers");
    typeInto(byTestId(headers.field, "kv-new-key"), "X-Trace");
    typeInto(byTestId(headers.field, "kv-new-value"), "on");
    await fireEvent.click(Array.from(headers.field.querySelectorAll("button")).find((b) => b.textContent === "Add")!);
    const method = param(root, 0, "method").control as HTMLSelectElement;
    method.value = "POST";
    await fireEvent.change(method);

    const args = await waitForCall(backend.state.calls, "validate_plan", (a) => JSON.stringify(a.plan).includes("X-Trace") && JSON.stringify(a.plan).includes("POST"));
    const plan = args.plan as { steps: { params: Record<string, unknown> }[] };
    expect(plan.steps[0].params).toEqual({
      method: "POST",
      url: "http://127.0.0.1:9/other",
      headers: { Accept: "application/json", "X-Trace": "on" },
    });
    expect(plan.steps[2].params.payload).toEqual({ text: "${steps.1.output}", n: 2 });

    // and Save sends the same document
    await fireEvent.click(byTestId(root, "save-plan"));
    const saved = await waitForCall(backend.state.calls, "update_plan");
    expect((saved.plan as { steps: { params: Record<string, unknown> }[] }).steps[0].params.method).toBe("POST");
  });

  it("adds, reorders (keyboard) and removes steps, keeping references pointed at their steps", async () => {
    const { root } = await openEditor();
    typeInto(param(root, 1, "input").control, "${steps.0.output}");
    // Move the extract step up: the reference now points at the step after it.
    const handle = byTestId(stepCard(root, 1), "step-handle");
    await fireEvent.keyDown(handle, { key: "ArrowUp" });
    await waitFor(() => expect((byTestId<HTMLSelectElement>(stepCard(root, 0), "step-provider")).value).toBe("logic"));
    expect((param(root, 0, "input").control as HTMLTextAreaElement).value).toBe("${steps.1.output}");
    expect((byTestId<HTMLSelectElement>(stepCard(root, 1), "step-provider")).value).toBe("http");

    await fireEvent.click(byTestId(root, "add-step"));
    await waitFor(() => stepCard(root, 3));
    expect(root.querySelectorAll('[data-testid="step"]')).toHaveLength(4);
    await fireEvent.click(byTestId(stepCard(root, 3), "step-remove"));
    await waitFor(() => expect(root.querySelectorAll('[data-testid="step"]')).toHaveLength(3));
  });
});
