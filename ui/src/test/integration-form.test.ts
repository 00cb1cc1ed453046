// "New integration": the form over the one definition type. Params as a list
// become the action's JSON Schema, templates get the references their place
// allows, the backend's problems land on their fields in words, Save stores it,
// Edit reopens one's own, "Edit as JSON" edits the same document; and a
// connection waiting for the browser can be cancelled.
import { describe, expect, it } from "vitest";
import { fireEvent, render, waitFor } from "@testing-library/svelte";
import Integrations from "../screens/Integrations.svelte";
import ConfirmDialog from "../components/ConfirmDialog.svelte";
import type { IntegrationDefinition, PlanIssue } from "../bindings";
import { insertAt, paramRows, paramsSchema, parseStatuses, plainMessage, references } from "../lib/integration-form";
import { allByTestId, byTestId, createMockBackend, typeInto, waitForCall } from "./helpers";

const CRM: IntegrationDefinition = {
  name: "crm",
  title: "Our CRM",
  format_version: 1,
  description: "Contacts",
  base_url: "https://crm.example.com/api",
  auth: { type: "bearer", secret: "token" },
  secrets: { token: { label: "API token" } },
  actions: {
    add_contact: {
      title: "Add a contact",
      method: "POST",
      path: "/contacts",
      params: { type: "object", required: ["email"], properties: { email: { type: "string" }, level: { type: "integer", default: 1 } } },
      body: { email: "${params.email}" },
    },
  },
};

describe("the form's view of the definition", () => {
  it("turns a list of params into the action's JSON Schema and back, keeping what the list does not show", () => {
    const schema = paramsSchema(
      [
        { name: "email", type: "string", required: true, description: "Who" },
        { name: "level", type: "integer", required: false, description: "" },
      ],
      CRM.actions.add_contact.params,
    );
    expect(schema).toEqual({
      type: "object",
      required: ["email"],
      properties: { email: { type: "string", description: "Who" }, level: { type: "integer", default: 1 } },
    });
    expect(paramRows(schema)).toEqual([
      { name: "email", type: "string", required: true, description: "Who" },
      { name: "level", type: "integer", required: false, description: "" },
    ]);
    expect(paramsSchema([])).toEqual({ type: "object", properties: {} });
  });

  it("offers each template the references its place allows, and inserts them at the cursor", () => {
    const action = CRM.actions.add_contact;
    expect(references(CRM, null, "base_url")).toEqual(["${secret.token}"]);
    expect(references(CRM, action, "address")).toEqual(["${params.email}", "${params.level}", "${secret.token}"]);
    expect(references(CRM, action, "data")).toEqual(["${params.email}", "${params.level}"]);
    expect(insertAt("/lists//contacts", "${params.list}", 7)).toBe("/lists/${params.list}/contacts");
    expect(insertAt("/x", "${params.a}", null)).toBe("/x${params.a}");
    expect(parseStatuses("200, 201 204")).toEqual([200, 201, 204]);
    expect(parseStatuses("ok")).toBeNull();
  });

  it("says the schema's generic problems plainly", () => {
    const issue = (path: string, kind: PlanIssue["kind"], message: string): PlanIssue => ({ path, kind, message });
    expect(plainMessage(issue("name", "bad_format", "is not in the expected form"))).toContain("lowercase letters, digits and _");
    expect(plainMessage(issue("title", "empty", "must be at least 1 characters long"))).toBe("The title cannot be empty.");
    expect(plainMessage(issue("actions", "empty", "needs at least 1 entries"))).toBe("Add at least one action.");
    expect(plainMessage(issue("base_url", "required", "is required"))).toBe("The base URL is required.");
  });
});

function setup(prepare: (b: ReturnType<typeof createMockBackend>) => void = () => {}, overrides = {}) {
  const backend = createMockBackend();
  prepare(backend);
  backend.install(overrides);
  render(ConfirmDialog);
  const { container } = render(Integrations);
  return { backend, container };
}

function row(root: ParentNode, name: string): HTMLElement {
  const el = root.querySelector<HTMLElement>(`[data-testid="integration-row"][data-name="${name}"]`);
  if (!el) throw new Error(`no integration row ${name}`);
  return el;
}

async function select(el: Element, value: string) {
  (el as HTMLSelectElement).value = value;
  await fireEvent.change(el);
}

describe("New integration", () => {
  it("builds a definition with the form, checked live by the backend, and saves it as one's own", async () => {
    const { backend, container } = setup();
    await waitFor(() => row(container, "notion"));
    await fireEvent.click(byTestId(container, "integration-new"));
    const form = await waitFor(() => byTestId(container, "integration-form"));

    typeInto(byTestId(form, "integration-name"), "crm");
    typeInto(byTestId(form, "integration-title"), "Our CRM");
    typeInto(byTestId(form, "integration-base-url"), "https://crm.example.com/api");
    // API key in a header: the kind adds the secret it needs.
    await select(byTestId(form, "integration-auth-type"), "api_key");
    await waitFor(() => byTestId(form, "integration-auth-name"));
    typeInto(byTestId(form, "integration-auth-name"), "X-Api-Key");
    typeInto(byTestId(form, "integration-auth-prefix"), "Key ");
    expect(allByTestId(form, "integration-secret-row").map((r) => r.dataset.secret)).toEqual(["api_key"]);
    typeInto(byTestId(form, "integration-secret-label"), "CRM API key");
    typeInto(byTestId(form, "integration-secret-help"), "CRM → Settings → API");

    const action = byTestId(form, "integration-action-form");
    typeInto(byTestId(action, "integration-action-name"), "add_contact");
    const renamed = await waitFor(() => {
      const a = byTestId(form, "integration-action-form");
      expect(a.dataset.action).toBe("add_contact");
      return a;
    });
    typeInto(byTestId(renamed, "integration-action-title"), "Add a contact");
    // Two params: the first required.
    await fireEvent.click(byTestId(renamed, "integration-param-add"));
    await fireEvent.click(byTestId(renamed, "integration-param-add"));
    let params = allByTestId(renamed, "integration-param");
    typeInto(byTestId(params[0], "integration-param-name"), "email");
    await waitFor(() => expect(allByTestId(renamed, "integration-param")[0].dataset.name).toBe("email"));
    params = allByTestId(renamed, "integration-param");
    await fireEvent.click(byTestId(params[0], "integration-param-required"));
    typeInto(byTestId(params[0], "integration-param-description"), "Their address");
    typeInto(byTestId(params[1], "integration-param-name"), "list");
    await waitFor(() => expect(allByTestId(renamed, "integration-param")[1].dataset.name).toBe("list"));

    // The path's picker offers params and secrets; the body's only params.
    const path = byTestId<HTMLInputElement>(renamed, "integration-action-path");
    typeInto(path, "/lists//contacts");
    path.setSelectionRange(7, 7);
    const pathRefs = [...byTestId<HTMLSelectElement>(renamed, "integration-action-path-insert").options].map((o) => o.value).filter(Boolean);
    expect(pathRefs).toEqual(["${params.email}", "${params.list}", "${secret.api_key}"]);
    await select(byTestId(renamed, "integration-action-path-insert"), "${params.list}");
    await waitFor(() => expect(path.value).toBe("/lists/${params.list}/contacts"));
    const bodyRefs = [...byTestId<HTMLSelectElement>(renamed, "integration-action-body-insert").options].map((o) => o.value).filter(Boolean);
    expect(bodyRefs).toEqual(["${params.email}", "${params.list}"]);

    // A body that is not JSON yet is said so and kept out of the document.
    typeInto(byTestId(renamed, "integration-action-body"), '{"email": ${params.email}}');
    await waitFor(() => expect(byTestId(renamed, "integration-body-problem").textContent).toContain("Put references in quotes"));
    typeInto(byTestId(renamed, "integration-action-body"), '{"email": "${params.email}", "source": "flowpilot"}');
    await waitFor(() => expect(renamed.querySelector('[data-testid="integration-body-problem"]')).toBeNull());
    typeInto(byTestId(renamed, "integration-action-success"), "200, 201");
    await fireEvent.click(byTestId(renamed, "integration-action-output-add"));
    typeInto(byTestId(renamed, "integration-action-output-key"), "id");
    await waitFor(() => expect(byTestId(renamed, "integration-action-output-row").dataset.key).toBe("id"));
    typeInto(byTestId(renamed, "integration-action-output-value"), "/data/id");

    // Checked live by the backend's validation, with the typed document.
    const expected: IntegrationDefinition = {
      name: "crm",
      title: "Our CRM",
      format_version: 1,
      description: "",
      base_url: "https://crm.example.com/api",
      auth: { type: "api_key", in: "header", name: "X-Api-Key", secret: "api_key", prefix: "Key " },
      secrets: { api_key: { label: "CRM API key", help: "CRM → Settings → API" } },
      headers: {},
      actions: {
        add_contact: {
          title: "Add a contact",
          method: "POST",
          path: "/lists/${params.list}/contacts",
          params: {
            type: "object",
            properties: { email: { type: "string", description: "Their address" }, list: { type: "string" } },
            required: ["email"],
          },
          body: { email: "${params.email}", source: "flowpilot" },
          success: { status: [200, 201] },
          output: { id: "/data/id" },
        },
      },
    };
    await waitForCall(backend.state.calls, "validate_integration", (a) => JSON.stringify(a.definition) === JSON.stringify(expected));
    await waitFor(() => expect(byTestId(form, "integration-form-state").textContent).toBe("No problems found."));
    await fireEvent.click(byTestId(form, "integration-form-save"));
    const saved = await waitForCall(backend.state.calls, "save_integration");
    expect(saved.definition).toEqual(expected);
    await waitFor(() => row(container, "crm"));
    expect(container.querySelector('[data-testid="integration-form"]')).toBeNull();
    expect(byTestId(row(container, "crm"), "integration-kind").textContent).toBe("Yours");
    expect(allByTestId(row(container, "crm"), "integration-action").map((a) => a.dataset.action)).toEqual(["add_contact", "raw_request"]);
  });

  it("says whether an action changes something: by its method unless the person says otherwise", async () => {
    const { backend, container } = setup();
    await waitFor(() => row(container, "notion"));
    await fireEvent.click(byTestId(container, "integration-new"));
    const form = await waitFor(() => byTestId(container, "integration-form"));
    const action = byTestId(form, "integration-action-form");
    const box = () => byTestId<HTMLInputElement>(byTestId(form, "integration-action-form"), "integration-action-side-effects");
    const sent = (has: (a: Record<string, unknown>) => boolean) =>
      waitForCall(backend.state.calls, "validate_integration", (a) => {
        const actions = (a.definition as IntegrationDefinition).actions;
        const only = Object.values(actions)[0] as unknown as Record<string, unknown>;
        return has(only);
      });

    // A new action is a POST: it changes something, and the document leaves that to the method.
    expect(byTestId<HTMLSelectElement>(action, "integration-action-method").value).toBe("POST");
    expect(box().checked).toBe(true);
    typeInto(byTestId(form, "integration-title"), "Search");
    await sent((a) => a.method === "POST" && !("side_effects" in a));

    // A POST that only reads (a search): unticked, written down.
    backend.state.calls.length = 0;
    await fireEvent.click(box());
    await sent((a) => a.side_effects === false);
    expect(box().checked).toBe(false);
    // Ticked again: as its method says, so nothing is written.
    backend.state.calls.length = 0;
    await fireEvent.click(box());
    await sent((a) => !("side_effects" in a));

    // A GET reads unless ticked; ticked, it is written down.
    await select(byTestId(action, "integration-action-method"), "GET");
    await waitFor(() => expect(box().checked).toBe(false));
    expect(byTestId(form, "integration-action-form").textContent).toContain("a GET only reads unless this is ticked");
    backend.state.calls.length = 0;
    await fireEvent.click(box());
    await sent((a) => a.method === "GET" && a.side_effects === true);
  });

  it("sends an OAuth sign-in's extra parameters (Google's access_type) as the definition's authorize_params", async () => {
    const { backend, container } = setup();
    await waitFor(() => row(container, "notion"));
    await fireEvent.click(byTestId(container, "integration-new"));
    const form = await waitFor(() => byTestId(container, "integration-form"));
    await select(byTestId(form, "integration-auth-type"), "oauth2");
    await waitFor(() => byTestId(form, "integration-auth-authorize-params-add"));
    await fireEvent.click(byTestId(form, "integration-auth-authorize-params-add"));
    typeInto(byTestId(form, "integration-auth-authorize-params-key"), "access_type");
    await waitFor(() => expect(byTestId(form, "integration-auth-authorize-params-row").dataset.key).toBe("access_type"));
    typeInto(byTestId(form, "integration-auth-authorize-params-value"), "offline");
    const auth = (a: Record<string, unknown>) => (a.definition as IntegrationDefinition).auth as Record<string, unknown>;
    await waitForCall(backend.state.calls, "validate_integration", (a) =>
      JSON.stringify(auth(a).authorize_params) === JSON.stringify({ access_type: "offline" }),
    );
    // Removed again: the definition has none.
    await fireEvent.click(byTestId(form, "integration-auth-authorize-params-remove"));
    backend.state.calls.length = 0;
    typeInto(byTestId(form, "integration-title"), "Calendar");
    await waitForCall(backend.state.calls, "validate_integration", (a) => auth(a).type === "oauth2" && !("authorize_params" in auth(a)));
  });

  it("shows each problem the backend finds on its field, in words, and saves nothing until they are fixed", async () => {
    const found: PlanIssue[] = [
      { path: "name", kind: "bad_format", message: "is not in the expected form" },
      { path: "actions.new_action.body.email", kind: "bad_reference", message: "${params.emial} names no param (params: email)" },
      { path: "actions.new_action.params.properties.email", kind: "invalid_param", message: "not a valid JSON Schema: oops" },
      { path: "auth.secret", kind: "not_allowed", message: "`tokn` is not one of the `secrets`" },
    ];
    const { backend, container } = setup(() => {}, { validate_integration: () => found });
    await waitFor(() => row(container, "notion"));
    await fireEvent.click(byTestId(container, "integration-new"));
    const form = await waitFor(() => byTestId(container, "integration-form"));
    await select(byTestId(form, "integration-auth-type"), "bearer");
    const action = byTestId(form, "integration-action-form");
    await fireEvent.click(byTestId(action, "integration-param-add"));
    typeInto(byTestId(action, "integration-param-name"), "email");
    await waitFor(() => expect(byTestId(form, "integration-form-state").textContent).toBe("4 problems to fix."));

    const at = (path: string) => form.querySelector<HTMLElement>(`[data-testid="integration-field-problem"][data-path="${path}"]`);
    // Each under its own field: the name under the name, the body's under the body…
    await waitFor(() => expect(at("name")).not.toBeNull());
    expect(at("name")!.textContent).toBe("Use lowercase letters, digits and _, starting with a letter (like my_crm).");
    expect(at("name")!.parentElement!.contains(byTestId(form, "integration-name"))).toBe(true);
    expect(at("actions.new_action.body.email")!.textContent).toBe("email: ${params.emial} names no param (params: email)");
    expect(byTestId(action, "integration-action-body").getAttribute("aria-invalid")).toBe("true");
    expect(byTestId(action, "integration-param").contains(at("actions.new_action.params.properties.email"))).toBe(true);
    expect(byTestId(form, "integration-auth").contains(at("auth.secret"))).toBe(true);
    // …and none of the schema's wording.
    expect(form.textContent).not.toContain("expected form");
    expect(form.querySelector('[data-testid="integration-form-problems"]')).toBeNull();

    expect(byTestId<HTMLButtonElement>(form, "integration-form-save").disabled).toBe(true);
    expect(backend.state.calls.some((c) => c.cmd === "save_integration")).toBe(false);
  });

  it("the mock's own check places an empty title on the title field", async () => {
    const { container } = setup();
    await waitFor(() => row(container, "notion"));
    await fireEvent.click(byTestId(container, "integration-new"));
    const form = await waitFor(() => byTestId(container, "integration-form"));
    typeInto(byTestId(form, "integration-name"), "crm");
    typeInto(byTestId(form, "integration-base-url"), "https://crm.example.com");
    const title = await waitFor(() => {
      const p = form.querySelector<HTMLElement>('[data-testid="integration-field-problem"][data-path="title"]');
      expect(p).not.toBeNull();
      return p!;
    });
    expect(title.textContent).toBe("The title cannot be empty.");
  });

  it("Edit opens one's own in the same form from getIntegration; Edit as JSON edits the same document", async () => {
    const { backend, container } = setup((b) => b.state.integrations.push(CRM));
    await fireEvent.click(await waitFor(() => byTestId(row(container, "crm"), "integration-edit")));
    expect(await waitForCall(backend.state.calls, "get_integration")).toEqual({ name: "crm" });
    const form = await waitFor(() => byTestId(container, "integration-form"));
    expect(byTestId<HTMLInputElement>(form, "integration-name").value).toBe("crm");
    expect(byTestId<HTMLInputElement>(form, "integration-name").disabled).toBe(true);
    expect(byTestId<HTMLSelectElement>(form, "integration-auth-type").value).toBe("bearer");
    const params = allByTestId(form, "integration-param");
    expect(params.map((p) => p.dataset.name)).toEqual(["email", "level"]);
    expect(byTestId<HTMLInputElement>(params[0], "integration-param-required").checked).toBe(true);
    expect(JSON.parse(byTestId<HTMLTextAreaElement>(form, "integration-action-body").value)).toEqual({ email: "${params.email}" });

    // As JSON: the same document; a change there shows in the form.
    await fireEvent.click(byTestId(form, "integration-form-mode"));
    const json = byTestId<HTMLTextAreaElement>(form, "integration-json");
    const doc = JSON.parse(json.value) as IntegrationDefinition;
    expect(doc).toEqual(CRM);
    typeInto(json, "{ broken");
    await waitFor(() => expect(byTestId(form, "integration-json-problem").textContent).toContain("Not valid JSON yet"));
    expect(byTestId<HTMLButtonElement>(form, "integration-form-mode").disabled).toBe(true);
    typeInto(json, JSON.stringify({ ...doc, title: "Our big CRM" }));
    await waitForCall(backend.state.calls, "check_integration_text");
    await waitFor(() => expect(byTestId<HTMLButtonElement>(form, "integration-form-mode").disabled).toBe(false));
    await fireEvent.click(byTestId(form, "integration-form-mode"));
    await waitFor(() => expect(byTestId<HTMLInputElement>(form, "integration-title").value).toBe("Our big CRM"));
    // The form's param keeps the default the list does not show.
    await fireEvent.click(byTestId(form, "integration-form-save"));
    const saved = await waitForCall(backend.state.calls, "save_integration");
    expect(saved.definition).toEqual({ ...CRM, title: "Our big CRM" });
    await waitFor(() => expect(row(container, "crm").textContent).toContain("Our big CRM"));
  });

  it("a built-in can be copied to start one's own", async () => {
    const { container } = setup();
    await fireEvent.click(await waitFor(() => byTestId(row(container, "github"), "integration-copy")));
    const form = await waitFor(() => byTestId(container, "integration-form"));
    expect(byTestId<HTMLInputElement>(form, "integration-name").value).toBe("my_github");
    expect(byTestId<HTMLInputElement>(form, "integration-name").disabled).toBe(false);
    expect(byTestId<HTMLInputElement>(form, "integration-title").value).toBe("My GitHub");
    await fireEvent.click(byTestId(form, "integration-form-cancel"));
    await waitFor(() => expect(container.querySelector('[data-testid="integration-form"]')).toBeNull());
  });
});

describe("Connect…", () => {
  it("can be cancelled while it waits for the browser", async () => {
    const calendar: IntegrationDefinition = {
      name: "calendar",
      title: "Team calendar",
      format_version: 1,
      base_url: "https://calendar.example.com/api",
      auth: { type: "oauth2", authorize_url: "https://calendar.example.com/oauth/authorize", token_url: "https://calendar.example.com/oauth/token", client_id_secret: "client_id" },
      secrets: { client_id: { label: "OAuth client id" } },
      actions: { add_event: { title: "Add an event", method: "POST", path: "/events", params: { type: "object" } } },
    };
    const { backend, container } = setup((b) => {
      b.state.integrations.push(calendar);
      b.state.credentials.push({ provider: "calendar", field: "client_id", updated_at: "2026-11-20T08:00:00Z" });
      b.state.browserWaits = true;
    });
    await fireEvent.click(await waitFor(() => byTestId(row(container, "calendar"), "integration-connect")));
    await waitForCall(backend.state.calls, "finish_oauth_connect");
    const cancel = await waitFor(() => byTestId(row(container, "calendar"), "integration-connect-cancel"));
    expect(byTestId(row(container, "calendar"), "integration-connect").textContent).toContain("Connecting…");
    await fireEvent.click(cancel);
    expect(await waitForCall(backend.state.calls, "cancel_oauth_connect")).toEqual({ name: "calendar" });
    const out = await waitFor(() => byTestId(row(container, "calendar"), "integration-connect-outcome"));
    expect(out.textContent).toBe("Cancelled: nothing was connected.");
    expect(row(container, "calendar").querySelector('[data-testid="integration-connect-cancel"]')).toBeNull();
    expect(byTestId(row(container, "calendar"), "integration-connection").textContent).toBe("Not connected");
  });
});
