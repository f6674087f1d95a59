/**
 * The configuration of a Kit destination (docs/destinations.md):
 * `{ api_key | access_token, tag_id | tag_name, api_url? }`.
 *
 * Kit v4 takes two credentials: a v4 API key (`X-Kit-Api-Key`) made in the account's
 * developer settings, or an OAuth access token (`Authorization: Bearer`). The bulk
 * endpoints (`/v4/bulk/...`) accept OAuth tokens only, so the credential decides how
 * contacts are sent (kit.ts).
 */
import type { JsonObject } from "../../store/types.ts";
import { ConfigError, type ConnectorContext, type ParsedConfig } from "./types.ts";

export const KIT_KIND = "kit" as const;
export const KIT_DEFAULT_URL = "https://api.kit.com/v4";

export type KitAuth = "api_key" | "oauth";

export interface KitSettings {
  baseUrl: string;
  auth: KitAuth;
  credential: string;
  /** The configured tag id, or null when the tag is named (`tagName`) and found or made at the first sync. */
  tagId: number | null;
  tagName: string | null;
}

const KNOWN = new Set(["api_key", "access_token", "tag_id", "tag_name", "api_url"]);
/** Kit does not publish a limit on tag names; this only stops absurd input. */
const MAX_TAG_NAME = 255;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function credential(input: Record<string, unknown>, key: string): string | null {
  const v = input[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== "string" || v.trim() === "") throw new ConfigError(key, "must be a non-empty string");
  if (/\s/.test(v.trim())) throw new ConfigError(key, "must not contain spaces");
  return v.trim();
}

export function parseKitUrl(v: unknown): string {
  if (typeof v !== "string") throw new ConfigError("api_url", "must be an absolute http or https URL");
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new ConfigError("api_url", "must be an absolute http or https URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError("api_url", "must be an absolute http or https URL");
  }
  if (url.search || url.hash) throw new ConfigError("api_url", "must not have a query or a fragment");
  return url.toString().replace(/\/+$/, "");
}

export function parseKitConfig(input: unknown): ParsedConfig {
  if (!isObject(input)) throw new ConfigError("", "must be an object");
  for (const key of Object.keys(input)) {
    if (!KNOWN.has(key)) throw new ConfigError(key, "unknown setting");
  }
  const apiKey = credential(input, "api_key");
  const token = credential(input, "access_token");
  if (apiKey === null && token === null) {
    throw new ConfigError("api_key", "required: a Kit v4 API key (or access_token: an OAuth access token)");
  }
  if (apiKey !== null && token !== null) {
    throw new ConfigError("access_token", "give api_key or access_token, not both");
  }

  const config: JsonObject = {};
  const hasId = input.tag_id !== undefined && input.tag_id !== null;
  const hasName = input.tag_name !== undefined && input.tag_name !== null;
  if (hasId && hasName) throw new ConfigError("tag_name", "give tag_id or tag_name, not both");
  if (!hasId && !hasName) throw new ConfigError("tag_id", "required: the id of a Kit tag (or tag_name)");
  if (hasId) {
    const id = input.tag_id;
    if (typeof id !== "number" || !Number.isSafeInteger(id) || id <= 0) {
      throw new ConfigError("tag_id", "must be a positive integer");
    }
    config.tag_id = id;
  } else {
    const name = input.tag_name;
    if (typeof name !== "string" || name.trim() === "") {
      throw new ConfigError("tag_name", "must be a non-empty string");
    }
    if (name.trim().length > MAX_TAG_NAME) {
      throw new ConfigError("tag_name", `must be at most ${MAX_TAG_NAME} characters`);
    }
    config.tag_name = name.trim();
  }
  if (input.api_url !== undefined && input.api_url !== null) config.api_url = parseKitUrl(input.api_url);

  const secrets: Record<string, string> = apiKey !== null ? { api_key: apiKey } : { access_token: token! };
  return { config, secrets };
}

/** The settings a stored destination holds (config and secrets as `parseKitConfig` returned them). */
export function kitSettings(ctx: Pick<ConnectorContext, "config" | "secrets">): KitSettings {
  const { config, secrets } = ctx;
  const token = secrets.access_token;
  const apiKey = secrets.api_key;
  if (!token && !apiKey) throw new ConfigError("api_key", "no Kit credential stored");
  return {
    baseUrl: typeof config.api_url === "string" ? config.api_url.replace(/\/+$/, "") : KIT_DEFAULT_URL,
    auth: token ? "oauth" : "api_key",
    credential: token || apiKey,
    tagId: typeof config.tag_id === "number" ? config.tag_id : null,
    tagName: typeof config.tag_name === "string" ? config.tag_name : null,
  };
}

export function kitHeaders(s: Pick<KitSettings, "auth" | "credential">): Record<string, string> {
  return s.auth === "oauth" ? { Authorization: `Bearer ${s.credential}` } : { "X-Kit-Api-Key": s.credential };
}

export function redactedHeaders(s: Pick<KitSettings, "auth">): Record<string, string> {
  const headers = kitHeaders({ auth: s.auth, credential: "" });
  for (const k of Object.keys(headers)) headers[k] = "<redacted>";
  return { ...headers, "Content-Type": "application/json" };
}
