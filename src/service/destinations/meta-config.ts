/**
 * The `meta` destination's config (meta.ts): `{access_token, audience_id, api_version?,
 * include_suppressed?, api_url?}` checked at creation, and read again before each call
 * (a stored config is trusted no more than a new one).
 */
import type { JsonObject } from "../../store/types.ts";
import { ConfigError, type ConnectorContext, type ParsedConfig } from "./types.ts";

export const META_DEFAULT_API_URL = "https://graph.facebook.com";
/** A Graph API version current when this was written (the installed Meta SDK's). */
export const META_DEFAULT_API_VERSION = "v24.0";

const CONFIG_KEYS = ["access_token", "audience_id", "api_version", "include_suppressed", "api_url"];

export interface MetaSettings {
  token: string;
  audienceId: string;
  version: string;
  baseUrl: string;
  includeSuppressed: boolean;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkToken(v: unknown): string {
  if (v === undefined || v === null || v === "")
    throw new ConfigError("access_token", "access_token is required");
  if (typeof v !== "string") throw new ConfigError("access_token", "access_token must be a string");
  if (v.length > 4096 || /\s/.test(v)) {
    throw new ConfigError(
      "access_token",
      "access_token must be a Meta access token (no spaces, at most 4096 characters)",
    );
  }
  return v;
}

function checkAudienceId(v: unknown): string {
  if (v === undefined || v === null || v === "")
    throw new ConfigError("audience_id", "audience_id is required");
  if (typeof v !== "string" || !/^\d{1,30}$/.test(v)) {
    throw new ConfigError(
      "audience_id",
      "audience_id must be the custom audience's id as a string of digits (Meta ids exceed exact JSON numbers)",
    );
  }
  return v;
}

function checkVersion(v: unknown): string {
  if (typeof v !== "string" || !/^v\d{1,3}\.\d{1,2}$/.test(v)) {
    throw new ConfigError("api_version", "api_version must be a Graph API version such as v24.0");
  }
  return v;
}

function checkApiUrl(v: unknown): string {
  if (typeof v !== "string" || v.length > 2048)
    throw new ConfigError("api_url", "api_url must be an absolute http or https URL");
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError("api_url", "api_url must be an absolute http or https URL");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new ConfigError("api_url", "api_url must use http or https");
  if (u.username !== "" || u.password !== "")
    throw new ConfigError("api_url", "api_url must not contain credentials");
  if (u.search !== "" || u.hash !== "")
    throw new ConfigError("api_url", "api_url must not have a query or a fragment");
  return v.replace(/\/+$/, "");
}

function checkIncludeSuppressed(v: unknown): boolean {
  if (typeof v !== "boolean")
    throw new ConfigError("include_suppressed", "include_suppressed must be true or false");
  return v;
}

/** Validates `config` of a `meta` destination and separates the token out. */
export function parseMetaConfig(input: unknown): ParsedConfig {
  if (!isPlainObject(input)) throw new ConfigError("", "config must be an object");
  for (const key of Object.keys(input)) {
    if (!CONFIG_KEYS.includes(key)) {
      throw new ConfigError(key, `unknown field ${key}: a meta destination takes ${CONFIG_KEYS.join(", ")}`);
    }
  }
  const access_token = checkToken(input.access_token);
  const config: JsonObject = {
    audience_id: checkAudienceId(input.audience_id),
    include_suppressed:
      input.include_suppressed === undefined ? false : checkIncludeSuppressed(input.include_suppressed),
  };
  if (input.api_version !== undefined) config.api_version = checkVersion(input.api_version);
  if (input.api_url !== undefined) config.api_url = checkApiUrl(input.api_url);
  return { config, secrets: { access_token } };
}

export function settingsOf(ctx: ConnectorContext): MetaSettings {
  const c = ctx.config;
  return {
    token: checkToken(ctx.secrets.access_token),
    audienceId: checkAudienceId(c.audience_id),
    version: c.api_version === undefined ? META_DEFAULT_API_VERSION : checkVersion(c.api_version),
    baseUrl: c.api_url === undefined ? META_DEFAULT_API_URL : checkApiUrl(c.api_url),
    includeSuppressed:
      c.include_suppressed === undefined ? false : checkIncludeSuppressed(c.include_suppressed),
  };
}

export function edgeUrl(s: MetaSettings, edge: "users" | "sessions"): string {
  return `${s.baseUrl}/${s.version}/${encodeURIComponent(s.audienceId)}/${edge}`;
}
