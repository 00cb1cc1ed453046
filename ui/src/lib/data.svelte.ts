// Data many screens share: the provider catalogue (it changes only when one's
// own integrations do), the health report, and which credentials are saved (names only).
import type { CredentialInfo, Health, ProviderInfo } from "../bindings";
import { commands } from "../bindings";
import { call } from "./api";

export const shared = $state<{
  providers: ProviderInfo[];
  providersLoaded: boolean;
  health: Health | null;
  credentials: CredentialInfo[];
  credentialsLoaded: boolean;
}>({
  providers: [],
  providersLoaded: false,
  health: null,
  credentials: [],
  credentialsLoaded: false,
});

/** The saved credentials (provider, field; never values), read again. */
export async function loadCredentials(): Promise<CredentialInfo[]> {
  const list = await call(commands.listCredentials());
  shared.credentials = list;
  shared.credentialsLoaded = true;
  return list;
}

let providersPending: Promise<ProviderInfo[]> | null = null;

export function loadProviders(): Promise<ProviderInfo[]> {
  if (shared.providersLoaded) return Promise.resolve(shared.providers);
  if (!providersPending) {
    providersPending = call(commands.providers())
      .then((list) => {
        shared.providers = list;
        shared.providersLoaded = true;
        return list;
      })
      .finally(() => {
        providersPending = null;
      });
  }
  return providersPending;
}

/** Read the catalogue again: one's own integrations came or went. */
export function reloadProviders(): Promise<ProviderInfo[]> {
  shared.providersLoaded = false;
  providersPending = null;
  return loadProviders();
}

export async function loadHealth(): Promise<Health> {
  const h = await call(commands.health());
  shared.health = h;
  return h;
}

/** Forget cached data (tests). */
export function resetShared(): void {
  shared.providers = [];
  shared.providersLoaded = false;
  shared.health = null;
  shared.credentials = [];
  shared.credentialsLoaded = false;
  providersPending = null;
}
