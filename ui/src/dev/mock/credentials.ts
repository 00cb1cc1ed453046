// Credentials: which a plan lacks, setting and deleting them, the origins one may go to.
import type { CredentialField, PlanFile } from "../../bindings";
import { type Handler, type MockState, fail, mustBeValid, now, providers } from "./state";

/** The fields the fixture says a plan's providers need, less optional ones (no `http` auth). */
function declaredCredentials(plan: PlanFile): CredentialField[] {
  const out: CredentialField[] = [];
  for (const s of plan.steps) {
    const p = providers.find((x) => x.name === s.provider || x.aliases.includes(s.provider));
    for (const field of p?.credential_fields ?? []) {
      if (p!.optional_credentials?.includes(field) || out.some((o) => o.provider === p!.name && o.field === field)) continue;
      out.push({ provider: p!.name, field });
    }
  }
  return out;
}

export function credentialHandlers(state: MockState): Record<string, Handler> {
  return {
    missing_credentials: (a) => {
      const plan = mustBeValid(a.plan);
      return declaredCredentials(plan).filter((n) => !state.credentials.some((c) => c.provider === n.provider && c.field === n.field));
    },
    list_credentials: () => state.credentials,
    set_credential: (a) => {
      if (!state.keychain) fail("keychain_unavailable", "The OS keychain is not available: install and start gnome-keyring.");
      state.credentials = state.credentials.filter((c) => !(c.provider === a.provider && c.field === a.field));
      state.credentials.push({ provider: String(a.provider), field: String(a.field), updated_at: now() });
      return null;
    },
    delete_credential: (a) => {
      const had = state.credentials.some((c) => c.provider === a.provider && c.field === a.field);
      state.credentials = state.credentials.filter((c) => !(c.provider === a.provider && c.field === a.field));
      return had;
    },
    allow_credential_origin: (a) => {
      const c = state.credentials.find((x) => x.provider === a.provider && x.field === a.field);
      if (!c) fail("not_found", `${String(a.provider)} ${String(a.field)} is not set`);
      let origin: string;
      try {
        const u = new URL(String(a.origin).trim());
        if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("scheme");
        origin = u.origin;
      } catch {
        fail("bad_input", `\`${String(a.origin)}\` is not a web address such as https://proxy.example.com`);
      }
      c.allowed_origins = [...new Set([...(c.allowed_origins ?? []), origin])].sort();
      return origin;
    },
    disallow_credential_origin: (a) => {
      const c = state.credentials.find((x) => x.provider === a.provider && x.field === a.field);
      const had = !!c?.allowed_origins?.includes(String(a.origin));
      if (c) c.allowed_origins = (c.allowed_origins ?? []).filter((o) => o !== a.origin);
      return had;
    },
  };
}
