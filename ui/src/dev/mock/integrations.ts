// Integrations: the built-in ones, one's own definitions, and OAuth 2.0 connections.
import type { IntegrationDefinition, IntegrationSummary, OAuthStart, PlanFile, ProviderInfo, Value } from "../../bindings";
import { checkIntegrationText } from "../schema-check";
import { type Handler, type Json, type MockState, fail, now, providers } from "./state";
import { stepRecord } from "./runs";

type BuiltinIntegration = {
  name: string;
  title: string;
  description: string;
  base_url: string;
  secrets: Record<string, { label: string; help: string; optional?: boolean }>;
  actions: Record<string, string>;
};

/** The five integrations that ship with Flowpilot (src-tauri/engine/integrations), as the screen lists them. */
export const BUILTIN_INTEGRATIONS: BuiltinIntegration[] = [
  {
    name: "notion", title: "Notion", description: "Pages and databases in your Notion workspace", base_url: "https://api.notion.com",
    secrets: { token: { label: "Internal integration token", help: "Notion → Settings → Connections → Develop or manage integrations; then share the pages and databases with the integration" } },
    actions: { append_blocks: "Add a paragraph to a page", create_page: "Create a page in a database", query_database: "Query a database" },
  },
  {
    name: "telegram", title: "Telegram", description: "Messages and files from your Telegram bot", base_url: "https://api.telegram.org",
    secrets: { bot_token: { label: "Bot token", help: "Talk to @BotFather in Telegram: /newbot gives the token (123456:ABC-…)." } },
    actions: { send_document: "Send a document by URL", send_message: "Send a message" },
  },
  {
    name: "slack", title: "Slack", description: "Messages in Slack, by incoming webhook or as your app's bot", base_url: "https://slack.com/api",
    secrets: {
      bot_token: { label: "Bot user OAuth token (xoxb-…)", help: "api.slack.com/apps → your app → OAuth & Permissions (scope chat:write)", optional: true },
      webhook_url: { label: "Incoming webhook URL", help: "api.slack.com/apps → your app → Incoming Webhooks. The URL is the secret.", optional: true },
    },
    actions: { chat_post_message: "Post a message as the bot", post: "Post through the incoming webhook" },
  },
  {
    name: "discord", title: "Discord", description: "Messages in a Discord channel through its webhook", base_url: "${secret.webhook_url}",
    secrets: { webhook_url: { label: "Webhook URL", help: "Discord → the channel's settings → Integrations → Webhooks → Copy Webhook URL. The URL is the secret." } },
    actions: { post: "Post a message" },
  },
  {
    name: "github", title: "GitHub", description: "Issues and comments in GitHub repositories", base_url: "https://api.github.com",
    secrets: { token: { label: "Personal access token", help: "github.com → Settings → Developer settings → Personal access tokens" } },
    actions: { comment: "Comment on an issue or pull request", create_issue: "Open an issue" },
  },
];

/** Names a definition may not take: every provider that comes with Flowpilot. */
const RESERVED = [...new Set([...providers.map((p) => p.name), ...BUILTIN_INTEGRATIONS.map((b) => b.name)])];

function builtinDefinition(b: BuiltinIntegration): IntegrationDefinition {
  return {
    name: b.name,
    title: b.title,
    format_version: 1,
    description: b.description,
    base_url: b.base_url,
    secrets: b.secrets,
    actions: Object.fromEntries(Object.entries(b.actions).map(([k, title]) => [k, { title, method: "POST", path: `/${k}`, params: { type: "object" } }])),
  };
}

/** One's own integration as the provider catalogue lists it. */
export function providerOf(def: IntegrationDefinition): ProviderInfo {
  const secrets = Object.entries(def.secrets ?? {});
  return {
    name: def.name,
    title: def.title,
    kind: "user_integration",
    aliases: [],
    description: def.description ?? "",
    credential_fields: secrets.map(([k]) => k),
    optional_credentials: secrets.filter(([, v]) => v.optional).map(([k]) => k),
    credentials: secrets.map(([k, v]) => ({ field: k, label: v.label, help: v.help ?? null, optional: v.optional ?? false })),
    actions: [
      ...Object.entries(def.actions).sort(([a], [b]) => a.localeCompare(b)).map(([k, a]) => ({
        name: k, title: a.title, description: a.description ?? a.title, params_schema: a.params as Value, side_effects: a.method !== "GET", example: a.example ?? null,
      })),
      { name: "raw_request", title: `Call any ${def.title} endpoint`, description: "A request to an endpoint the definition does not list", params_schema: { type: "object" }, side_effects: true, example: null },
    ],
  };
}

export function integrationHandlers(state: MockState): Record<string, Handler> {
  function integrationSummary(def: IntegrationDefinition, builtin: boolean): IntegrationSummary {
    const isSet = (field: string) => state.credentials.some((c) => c.provider === def.name && c.field === field);
    return {
      name: def.name,
      title: def.title,
      description: def.description ?? "",
      builtin,
      actions: [...Object.keys(def.actions).sort(), "raw_request"],
      secrets: Object.entries(def.secrets ?? {}).map(([name, s]) => ({ name, label: s.label, help: s.help ?? null, optional: s.optional ?? false, set: isSet(name) })),
      connection: def.auth?.type === "oauth2" ? (state.connections[def.name] ?? { connected: false, state: null, detail: null }) : null,
      problems: [],
    };
  }
  function anyIntegration(name: string): { def: IntegrationDefinition; builtin: boolean } {
    const b = BUILTIN_INTEGRATIONS.find((x) => x.name === name);
    if (b) return { def: builtinDefinition(b), builtin: true };
    const own = state.integrations.find((x) => x.name === name);
    if (!own) fail("not_found", `no integration named \`${name}\``);
    return { def: own, builtin: false };
  }
  /** Connections begun with start_oauth_connect and not finished. */
  const connecting = new Set<string>();
  /** Finishes waiting for the browser, by integration: their cancel. */
  const waiting = new Map<string, () => void>();

  return {
    list_integrations: () => [
      ...BUILTIN_INTEGRATIONS.map((b) => integrationSummary(builtinDefinition(b), true)),
      ...state.integrations.map((d) => integrationSummary(d, false)),
    ],
    get_integration: (a) => ({ definition: anyIntegration(String(a.name)).def, issues: [] }),
    check_integration_text: (a) => {
      const c = checkIntegrationText(String(a.text), RESERVED);
      return { definition: c.definition, issues: c.issues };
    },
    validate_integration: (a) => checkIntegrationText(JSON.stringify(a.definition), RESERVED).issues,
    save_integration: (a) => {
      const c = checkIntegrationText(JSON.stringify(a.definition), RESERVED);
      if (!c.definition || c.issues.length > 0) fail("invalid_integration", `the definition has ${c.issues.length} problem(s)`, c.issues);
      const def = c.definition as unknown as IntegrationDefinition;
      state.integrations = [...state.integrations.filter((x) => x.name !== def.name), def];
      return def;
    },
    // The native file dialog: cancelled (the page reads files itself).
    import_integration: () => null,
    export_integration: (a) => `/home/me/${anyIntegration(String(a.name)).def.name}.json`,
    remove_integration: (a) => {
      if (BUILTIN_INTEGRATIONS.some((b) => b.name === a.name)) fail("refused", `\`${String(a.name)}\` comes with Flowpilot and cannot be removed`);
      const had = state.integrations.some((x) => x.name === a.name);
      state.integrations = state.integrations.filter((x) => x.name !== a.name);
      return had;
    },
    test_integration_action: (a) => {
      const { def } = anyIntegration(String(a.name));
      const action = String(a.action);
      if (action !== "raw_request" && !def.actions[action]) fail("not_found", `\`${def.name}\` has no action \`${action}\``);
      return stepRecord("test", 0, { provider: def.name, action, params: (a.params ?? {}) as Json } as PlanFile["steps"][number], "success");
    },
    start_oauth_connect: (a) => {
      const name = String(a.name);
      const { def } = anyIntegration(name);
      const auth = def.auth;
      if (auth?.type !== "oauth2") fail("bad_input", `\`${name}\` does not connect with OAuth 2.0`);
      if (!state.credentials.some((c) => c.provider === name && c.field === auth.client_id_secret)) {
        fail("bad_input", `set the OAuth client id first: \`flowpilot-cli credentials set ${name} ${auth.client_id_secret}\``);
      }
      connecting.add(name);
      const redirect_uri = "http://127.0.0.1:53682/callback";
      const out: OAuthStart = { integration: name, authorize_url: `${auth.authorize_url}?response_type=code&redirect_uri=${encodeURIComponent(redirect_uri)}`, redirect_uri };
      return out;
    },
    finish_oauth_connect: (a) => {
      const name = String(a.name);
      if (!connecting.delete(name)) fail("not_found", `no connection in progress for \`${name}\``);
      if (state.browserWaits) {
        // Waits for a browser that does not come back: only a cancel ends it.
        return new Promise((_, reject) => waiting.set(name, () => reject({ code: "cancelled", message: `connecting ${name} was cancelled` })));
      }
      state.connections[name] = { connected: true, state: "connected", detail: null };
      state.credentials = state.credentials.filter((c) => !(c.provider === name && c.field === "access_token"));
      state.credentials.push({ provider: name, field: "access_token", updated_at: now() });
      return null;
    },
    cancel_oauth_connect: (a) => {
      const name = String(a.name);
      const begun = connecting.delete(name);
      const cancel = waiting.get(name);
      waiting.delete(name);
      cancel?.();
      return begun || cancel !== undefined;
    },
  };
}
