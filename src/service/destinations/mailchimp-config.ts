/**
 * The Mailchimp destination's settings: `{api_key (secret), list_id, tag, api_url?}`.
 * The API key ends in its data center (`…-us21`), which names the default base URL
 * `https://us21.api.mailchimp.com/3.0`; `api_url` replaces that base (proxy, stand-in).
 */
import type { JsonObject } from "../../store/types.ts";
import { ProviderError } from "./http-call.ts";
import { ConfigError, type ConnectorContext, type ParsedConfig } from "./types.ts";

const CONFIG_KEYS = new Set(["api_key", "list_id", "tag", "api_url"]);
const API_KEY = /^[A-Za-z0-9]{8,64}-([a-z]{2,8}[0-9]{1,4})$/;

export interface Settings {
  listId: string;
  tag: string;
  baseUrl: string;
  apiKey: string;
}

function text(input: Record<string, unknown>, key: string, max: number): string {
  const v = input[key];
  if (typeof v !== "string" || v.trim() === "")
    throw new ConfigError(key, `${key} is required (a non-empty string)`);
  if (v.length > max) throw new ConfigError(key, `${key} is at most ${max} characters`);
  return v.trim();
}

function checkUrl(v: unknown): string {
  if (typeof v !== "string")
    throw new ConfigError("api_url", "api_url must be an absolute http or https URL");
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError("api_url", "api_url must be an absolute http or https URL");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new ConfigError("api_url", "api_url must be an absolute http or https URL");
  }
  return v.replace(/\/+$/, "");
}

export function parseMailchimpConfig(input: unknown): ParsedConfig {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ConfigError("", "config must be an object with api_key, list_id and tag");
  }
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!CONFIG_KEYS.has(k))
      throw new ConfigError(k, `unknown setting ${k} (known: ${[...CONFIG_KEYS].join(", ")})`);
  }
  const apiKey = text(o, "api_key", 100);
  if (!API_KEY.test(apiKey)) {
    throw new ConfigError(
      "api_key",
      "api_key must be a Mailchimp API key, ending in its data center (e.g. -us21)",
    );
  }
  const listId = text(o, "list_id", 64);
  if (!/^[A-Za-z0-9]+$/.test(listId))
    throw new ConfigError("list_id", "list_id must be an audience id (letters and digits)");
  const tag = text(o, "tag", 100);
  const config: JsonObject = { list_id: listId, tag };
  if (o.api_url !== undefined && o.api_url !== null) config.api_url = checkUrl(o.api_url);
  return { config, secrets: { api_key: apiKey } };
}

export function mailchimpSettings(ctx: ConnectorContext): Settings {
  const apiKey = ctx.secrets.api_key ?? "";
  const dc = API_KEY.exec(apiKey)?.[1];
  const listId = String(ctx.config.list_id ?? "");
  const tag = String(ctx.config.tag ?? "");
  const apiUrl = typeof ctx.config.api_url === "string" ? ctx.config.api_url : null;
  if (!listId || !tag)
    throw new ProviderError("mailchimp: list_id and tag are missing from the config", null, false);
  if (!apiUrl && !dc) throw new ProviderError("mailchimp: the API key names no data center", null, false);
  return { listId, tag, apiKey, baseUrl: apiUrl ?? `https://${dc}.api.mailchimp.com/3.0` };
}
