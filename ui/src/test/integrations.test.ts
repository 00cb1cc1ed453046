// The Integrations screen against the fake backend: the built-ins with their
// actions and secrets, importing a definition file (its problems, located, and
// nothing stored; or a new integration), export, remove, and OAuth's Connect….
import { describe, expect, it } from "vitest";
import { fireEvent, render, waitFor } from "@testing-library/svelte";
import Integrations from "../screens/Integrations.svelte";
import ConfirmDialog from "../components/ConfirmDialog.svelte";
import type { IntegrationDefinition, Value } from "../bindings";
import { allByTestId, byTestId, createMockBackend, typeInto, waitForCall } from "./helpers";

/** The README's example definition. */
const CRM: Value = {
  name: "crm",
  title: "Our CRM",
  format_version: 1,
  description: "Contacts in our CRM",
  base_url: "https://crm.example.com/api",
  auth: { type: "bearer", secret: "token" },
  secrets: { token: { label: "API token", help: "CRM → Settings → API" } },
  actions: {
    add_contact: {
      title: "Add a contact",
      method: "POST",
      path: "/lists/${params.list}/contacts",
      params: { type: "object", required: ["list", "email"], properties: { list: { type: "string" }, email: { type: "string" } } },
      body: { email: "${params.email}" },
    },
  },
};

const CALENDAR: IntegrationDefinition = {
  name: "calendar",
  title: "Team calendar",
  format_version: 1,
  description: "Events in the team calendar",
  base_url: "https://calendar.example.com/api",
  auth: { type: "oauth2", authorize_url: "https://calendar.example.com/oauth/authorize", token_url: "https://calendar.example.com/oauth/token", client_id_secret: "client_id" },
  secrets: { client_id: { label: "OAuth client id" } },
  actions: { add_event: { title: "Add an event", method: "POST", path: "/events", params: { type: "object" } } },
};

function row(root: ParentNode, name: string): HTMLElement {
  const el = root.querySelector<HTMLElement>(`[data-testid="integration-row"][data-name="${name}"]`);
  if (!el) throw new Error(`no integration row ${name}`);
  return el;
}

function setup(prepare: (b: ReturnType<typeof createMockBackend>) => void = () => {}) {
  const backend = createMockBackend();
  prepare(backend);
  backend.install();
  render(ConfirmDialog);
  const { container } = render(Integrations);
  const pick = async (name: string, text: string) => {
    const input = byTestId<HTMLInputElement>(container, "integration-import-input");
    const file = new File([text], name, { type: "application/json" });
    Object.defineProperty(input, "files", { value: [file], configurable: true });
    await fireEvent.change(input);
  };
  return { backend, container, pick };
}

describe("the Integrations screen", () => {
  it("lists the five built-ins with their actions by title and whether their secrets are set", async () => {
    const { backend, container } = setup((b) => b.state.credentials.push({ provider: "telegram", field: "bot_token", updated_at: "2026-11-20T08:00:00Z" }));
    await waitFor(() => expect(allByTestId(container, "integration-row")).toHaveLength(5));
    expect(allByTestId(container, "integration-row").map((r) => r.dataset.name)).toEqual(["notion", "telegram", "slack", "discord", "github"]);

    const notion = row(container, "notion");
    expect(notion.textContent).toContain("Notion");
    expect(notion.textContent).toContain("Pages and databases in your Notion workspace");
    expect(byTestId(notion, "integration-kind").textContent).toBe("Comes with Flowpilot");
    const actions = allByTestId(notion, "integration-action");
    expect(actions.map((a) => a.dataset.action)).toEqual(["append_blocks", "create_page", "query_database", "raw_request"]);
    await waitFor(() => expect(actions[1].textContent).toContain("Create a page in a database"));
    expect(byTestId(notion, "integration-secret-state").textContent).toBe("Not set");
    expect(byTestId(row(container, "telegram"), "integration-secret-state").textContent).toBe("Set");
    expect(allByTestId(row(container, "slack"), "integration-secret").map((s) => s.dataset.secret).sort()).toEqual(["bot_token", "webhook_url"]);
    expect(row(container, "slack").textContent).toContain("Optional.");
    // Built-ins are exported, never removed; none of them connects with OAuth.
    byTestId(notion, "integration-export");
    expect(notion.querySelector('[data-testid="integration-remove"]')).toBeNull();
    expect(container.querySelector('[data-testid="integration-connect"]')).toBeNull();

    // A secret set here goes through the credential commands and is not shown again.
    const input = byTestId<HTMLInputElement>(notion, "integration-secret-input");
    expect(input.type).toBe("password");
    typeInto(input, "secret_abc");
    await fireEvent.click(byTestId(notion, "integration-secret-save"));
    const args = await waitForCall(backend.state.calls, "set_credential");
    expect(args).toMatchObject({ provider: "notion", field: "token", value: "secret_abc" });
    await waitFor(() => expect(byTestId(row(container, "notion"), "integration-secret-state").textContent).toBe("Set"));
    expect(byTestId<HTMLInputElement>(row(container, "notion"), "integration-secret-input").value).toBe("");
    expect(container.textContent).not.toContain("secret_abc");
  });

  it("a definition with problems shows each one, located, and stores nothing", async () => {
    const { backend, container, pick } = setup();
    await waitFor(() => row(container, "notion"));
    const bad = { ...(CRM as Record<string, Value>), name: "notion", colour: "blue" } as Record<string, Value>;
    delete bad.base_url;
    await pick("bad.json", JSON.stringify(bad));
    const panel = await waitFor(() => byTestId(container, "integration-problems"));
    expect(panel.textContent).toContain("“bad.json” was not imported");
    expect(panel.textContent).toContain("Nothing was added");
    const paths = allByTestId(panel, "integration-problem").map((p) => p.dataset.path);
    expect(paths).toEqual(expect.arrayContaining(["base_url", "colour", "name"]));
    expect(panel.textContent).toContain("comes with Flowpilot; choose another");

    // Not JSON at all: one problem, for the whole file.
    await pick("broken.json", "{ not json");
    await waitFor(() => expect(byTestId(container, "integration-problems").textContent).toContain("“broken.json” was not imported"));
    const [syntax] = allByTestId(container, "integration-problem");
    expect(syntax.dataset.kind).toBe("syntax");
    expect(syntax.textContent).toContain("The file");

    expect(backend.state.calls.some((c) => c.cmd === "save_integration")).toBe(false);
    expect(backend.state.integrations).toEqual([]);
    expect(allByTestId(container, "integration-row")).toHaveLength(5);
  });

  it("a good definition is added, and can be exported and removed", async () => {
    const { backend, container, pick } = setup();
    await waitFor(() => row(container, "notion"));
    await pick("crm.json", JSON.stringify(CRM));
    const checked = await waitForCall(backend.state.calls, "check_integration_text");
    expect(JSON.parse(String(checked.text))).toMatchObject({ name: "crm" });
    await waitForCall(backend.state.calls, "save_integration");
    const crm = await waitFor(() => row(container, "crm"));
    expect(backend.state.integrations.map((d) => d.name)).toEqual(["crm"]);
    expect(container.querySelector('[data-testid="integration-problems"]')).toBeNull();
    expect(byTestId(crm, "integration-kind").textContent).toBe("Yours");
    expect(allByTestId(crm, "integration-action").map((a) => a.dataset.action)).toEqual(["add_contact", "raw_request"]);
    await waitFor(() => expect(byTestId(row(container, "crm"), "integration-action").textContent).toContain("Add a contact"));
    expect(byTestId(crm, "integration-secret-state").textContent).toBe("Not set");

    // The same name again: replaced only after a confirm that says where its secrets would go.
    await pick("crm.json", JSON.stringify({ ...(CRM as Record<string, Value>), base_url: "https://other.example.net/api" }));
    const ask = await waitFor(() => byTestId(document.body, "confirm-dialog"));
    expect(ask.textContent).toContain("https://other.example.net/api");
    await fireEvent.click(byTestId(ask, "confirm-cancel"));
    await waitFor(() => expect(document.body.querySelector('[data-testid="confirm-dialog"]')).toBeNull());
    expect(backend.state.calls.filter((c) => c.cmd === "save_integration")).toHaveLength(1);
    expect(backend.state.integrations[0].base_url).toBe("https://crm.example.com/api");

    await fireEvent.click(byTestId(row(container, "crm"), "integration-export"));
    expect(await waitForCall(backend.state.calls, "export_integration")).toEqual({ name: "crm" });

    await fireEvent.click(byTestId(row(container, "crm"), "integration-remove"));
    const dialog = await waitFor(() => byTestId(document.body, "confirm-dialog"));
    expect(dialog.textContent).toContain("Our CRM");
    expect(backend.state.calls.some((c) => c.cmd === "remove_integration")).toBe(false);
    await fireEvent.click(byTestId(dialog, "confirm-ok"));
    expect(await waitForCall(backend.state.calls, "remove_integration")).toEqual({ name: "crm" });
    await waitFor(() => expect(container.querySelector('[data-name="crm"]')).toBeNull());
    expect(backend.state.integrations).toEqual([]);
  });

  it("Connect… starts the OAuth connection, waits for it to finish, and shows the outcome", async () => {
    const { backend, container } = setup((b) => {
      b.state.integrations.push(CALENDAR);
      b.state.credentials.push({ provider: "calendar", field: "client_id", updated_at: "2026-11-20T08:00:00Z" });
    });
    const cal = await waitFor(() => row(container, "calendar"));
    expect(byTestId(cal, "integration-connection").textContent).toBe("Not connected");
    await fireEvent.click(byTestId(cal, "integration-connect"));
    expect(await waitForCall(backend.state.calls, "start_oauth_connect")).toEqual({ name: "calendar" });
    expect(await waitForCall(backend.state.calls, "finish_oauth_connect")).toEqual({ name: "calendar" });
    const order = backend.state.calls.map((c) => c.cmd).filter((c) => c.endsWith("oauth_connect"));
    expect(order).toEqual(["start_oauth_connect", "finish_oauth_connect"]);
    await waitFor(() => expect(byTestId(row(container, "calendar"), "integration-connection").textContent).toBe("Connected"));
    expect(byTestId(row(container, "calendar"), "integration-connect-outcome").textContent).toContain("Connected Team calendar");
  });

  it("shows a connection that needs reconnecting, and why connecting failed", async () => {
    const { backend, container } = setup((b) => {
      b.state.integrations.push(CALENDAR);
      b.state.connections.calendar = { connected: true, state: "needs_reconnecting", detail: "The server refused the refresh token." };
    });
    const cal = await waitFor(() => row(container, "calendar"));
    expect(byTestId(cal, "integration-connection").textContent).toBe("Needs reconnecting");
    expect(cal.textContent).toContain("The server refused the refresh token.");
    // No client id set: the start is refused, and nothing waits for the browser.
    await fireEvent.click(byTestId(cal, "integration-connect"));
    await waitForCall(backend.state.calls, "start_oauth_connect");
    const out = await waitFor(() => byTestId(row(container, "calendar"), "integration-connect-outcome"));
    expect(out.textContent).toContain("Not connected: set the OAuth client id first");
    expect(backend.state.calls.some((c) => c.cmd === "finish_oauth_connect")).toBe(false);
  });

  it("Try it runs one action with the params typed, and shows how it went", async () => {
    const { backend, container } = setup();
    const telegram = await waitFor(() => row(container, "telegram"));
    const send = telegram.querySelector<HTMLElement>('[data-testid="integration-action"][data-action="send_message"]')!;
    await fireEvent.click(byTestId(send, "integration-try"));
    const panel = await waitFor(() => byTestId(send, "integration-try-panel"));
    expect(panel.textContent).toContain("This really calls Telegram");
    const params = byTestId<HTMLTextAreaElement>(panel, "integration-try-params");
    typeInto(params, "{ not json");
    await fireEvent.click(byTestId(panel, "integration-try-run"));
    await waitFor(() => expect(byTestId(panel, "integration-try-problem").textContent).toContain("not valid JSON"));
    expect(backend.state.calls.some((c) => c.cmd === "test_integration_action")).toBe(false);

    typeInto(params, JSON.stringify({ chat_id: 123, text: "Hello" }));
    await fireEvent.click(byTestId(panel, "integration-try-run"));
    expect(await waitForCall(backend.state.calls, "test_integration_action")).toEqual({ name: "telegram", action: "send_message", params: { chat_id: 123, text: "Hello" } });
    const result = await waitFor(() => byTestId(send, "integration-try-result"));
    expect(result.dataset.status).toBe("success");
    expect(result.textContent).toContain("It worked");
  });
});
