// What a step was given (its StepRecord `input`: the params with references
// resolved, credentials masked) as a person reads it: an HTTP request as method,
// address, query, headers and body; anything else as its params.
import type { Value } from "../bindings";
import { isObject } from "./plan";

export type SentRequest = {
  kind: "request";
  method: string;
  url: string;
  query: [string, string][];
  headers: [string, string][];
  /** How it proves who it is, in words ("Bearer token from the credential “news”"). */
  auth: string | null;
  body: Value | undefined;
};

export type SentParams = { kind: "params"; params: Value };

const text = (v: Value | undefined): string => (v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v));

function pairs(v: Value | undefined): [string, string][] {
  return isObject(v) ? Object.entries(v).map(([k, x]) => [k, text(x)]) : [];
}

function authWords(v: Value | undefined): string | null {
  if (!isObject(v)) return null;
  const cred = typeof v.credential === "string" ? `the credential “${v.credential}”` : "a credential";
  switch (v.type) {
    case "bearer":
      return `Authorization: Bearer *** (${cred})`;
    case "basic":
      return `Basic${typeof v.username === "string" && v.username ? ` as ${v.username}` : ""} (password: ${cred})`;
    case "header":
      return `${text(v.name) || "a header"}: *** (${cred})`;
    case "query":
      return `?${text(v.name) || "a parameter"}=*** (${cred})`;
    default:
      return text(v);
  }
}

/** What step `provider.action` was sent, or null when the record has no input. */
export function sentOf(provider: string, action: string, input: Value | undefined): SentRequest | SentParams | null {
  if (input === undefined || input === null) return null;
  if (!isObject(input)) return { kind: "params", params: input };
  const http = (provider === "http" || provider === "custom_api") && action === "request";
  const hook = provider === "webhook" && action === "post_request";
  if (!http && !hook) return { kind: "params", params: input };
  return {
    kind: "request",
    method: hook ? "POST" : text(input.method) || "GET",
    url: text(input.url),
    query: pairs(input.query),
    headers: pairs(input.headers),
    auth: authWords(input.auth),
    body: hook ? input.payload : input.body,
  };
}
