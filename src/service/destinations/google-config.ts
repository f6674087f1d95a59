/**
 * The Google destination's configuration: `parseConfig` for `POST /v1/destinations`,
 * and its reading back at each call.
 */
import type { JsonObject } from "../../store/types.ts";
import { GOOGLE_API_URL, GOOGLE_TOKEN_URL, type GoogleAuth } from "./google-api.ts";
import { ConfigError, type ConnectorContext, type ParsedConfig } from "./types.ts";

type ConsentStatusName = "CONSENT_GRANTED" | "CONSENT_DENIED";

const CONFIG_KEYS = new Set([
  "account_id",
  "user_list_id",
  "login_account_id",
  "access_token",
  "client_id",
  "client_secret",
  "refresh_token",
  "token_url",
  "include_suppressed",
  "consent_ad_user_data",
  "consent_ad_personalization",
  "api_url",
]);

export interface GoogleConfig {
  accountId: string;
  userListId: string;
  loginAccountId: string | null;
  includeSuppressed: boolean;
  adUserData: ConsentStatusName | null;
  adPersonalization: ConsentStatusName | null;
  apiUrl: string;
  tokenUrl: string;
}

export function readConfig(ctx: ConnectorContext): GoogleConfig {
  const k = ctx.config;
  const consent = (v: unknown): ConsentStatusName | null =>
    v === "granted" ? "CONSENT_GRANTED" : v === "denied" ? "CONSENT_DENIED" : null;
  return {
    accountId: String(k.account_id),
    userListId: String(k.user_list_id),
    loginAccountId: typeof k.login_account_id === "string" ? k.login_account_id : null,
    includeSuppressed: k.include_suppressed === true,
    adUserData: consent(k.consent_ad_user_data),
    adPersonalization: consent(k.consent_ad_personalization),
    apiUrl: typeof k.api_url === "string" ? k.api_url : GOOGLE_API_URL,
    tokenUrl: typeof k.token_url === "string" ? k.token_url : GOOGLE_TOKEN_URL,
  };
}

export function authOf(ctx: ConnectorContext): GoogleAuth {
  const s = ctx.secrets;
  if (s.access_token) return { kind: "access_token", accessToken: s.access_token };
  if (s.client_id && s.client_secret && s.refresh_token) {
    const c = readConfig(ctx);
    return {
      kind: "refresh_token",
      clientId: s.client_id,
      clientSecret: s.client_secret,
      refreshToken: s.refresh_token,
      tokenUrl: c.tokenUrl,
    };
  }
  throw new ConfigError(
    "access_token",
    "no Google credentials: access_token, or client_id, client_secret and refresh_token",
  );
}

function str(input: Record<string, unknown>, key: string, required: boolean): string | null {
  const v = input[key];
  if (v === undefined || v === null || v === "") {
    if (required) throw new ConfigError(key, "is required");
    return null;
  }
  if (typeof v !== "string") throw new ConfigError(key, "must be a string");
  return v.trim();
}

/** A Google Ads customer id, with or without its dashes (`123-456-7890`). */
function customerId(input: Record<string, unknown>, key: string, required: boolean): string | null {
  const v = input[key];
  if ((v === undefined || v === null || v === "") && !required) return null;
  const s = typeof v === "number" && Number.isSafeInteger(v) ? String(v) : str(input, key, required);
  const digits = s?.replace(/-/g, "") ?? "";
  if (!/^\d{1,20}$/.test(digits))
    throw new ConfigError(key, "must be a Google Ads customer id, e.g. 123-456-7890");
  return digits;
}

function url(input: Record<string, unknown>, key: string): string | null {
  const s = str(input, key, false);
  if (s === null) return null;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new ConfigError(key, "must be an absolute http or https URL");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new ConfigError(key, "must be an absolute http or https URL");
  }
  if (u.search || u.hash || u.username || u.password) {
    throw new ConfigError(key, "must not carry a query, a fragment or credentials");
  }
  return s.replace(/\/+$/, "");
}

function consentSetting(input: Record<string, unknown>, key: string): "granted" | "denied" | null {
  const s = str(input, key, false);
  if (s === null) return null;
  const v = s.toLowerCase();
  if (v === "granted" || v === "denied") return v;
  throw new ConfigError(key, 'must be "granted" or "denied"');
}

export function parseGoogleConfig(input: unknown): ParsedConfig {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ConfigError("", "must be an object");
  }
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!CONFIG_KEYS.has(k)) throw new ConfigError(k, "is not a Google setting");

  const accountId = customerId(o, "account_id", true) as string;
  const userList = o.user_list_id;
  const userListId =
    typeof userList === "number" && Number.isSafeInteger(userList) && userList > 0
      ? String(userList)
      : str(o, "user_list_id", true);
  if (!userListId || !/^\d{1,20}$/.test(userListId)) {
    throw new ConfigError("user_list_id", "must be the numeric id of a Customer Match user list");
  }
  const loginAccountId = customerId(o, "login_account_id", false);

  const accessToken = str(o, "access_token", false);
  const clientId = str(o, "client_id", false);
  const clientSecret = str(o, "client_secret", false);
  const refreshToken = str(o, "refresh_token", false);
  const oauth = clientId !== null || clientSecret !== null || refreshToken !== null;
  const secrets: Record<string, string> = {};
  if (accessToken !== null && oauth) {
    throw new ConfigError(
      "access_token",
      "give access_token, or client_id, client_secret and refresh_token, not both",
    );
  }
  if (accessToken !== null) secrets.access_token = accessToken;
  else if (oauth) {
    if (clientId === null) throw new ConfigError("client_id", "is required with refresh_token");
    if (clientSecret === null) throw new ConfigError("client_secret", "is required with refresh_token");
    if (refreshToken === null) throw new ConfigError("refresh_token", "is required with client_id");
    Object.assign(secrets, { client_id: clientId, client_secret: clientSecret, refresh_token: refreshToken });
  } else {
    throw new ConfigError("access_token", "is required, or client_id, client_secret and refresh_token");
  }
  const tokenUrl = url(o, "token_url");
  if (tokenUrl !== null && !oauth) throw new ConfigError("token_url", "is used only with refresh_token");

  const include = o.include_suppressed;
  if (include !== undefined && typeof include !== "boolean") {
    throw new ConfigError("include_suppressed", "must be true or false");
  }
  const adUserData = consentSetting(o, "consent_ad_user_data");
  const adPersonalization = consentSetting(o, "consent_ad_personalization");
  const apiUrl = url(o, "api_url");

  const config: JsonObject = { account_id: accountId, user_list_id: userListId };
  if (loginAccountId !== null) config.login_account_id = loginAccountId;
  if (tokenUrl !== null) config.token_url = tokenUrl;
  config.include_suppressed = include === true;
  if (adUserData !== null) config.consent_ad_user_data = adUserData;
  if (adPersonalization !== null) config.consent_ad_personalization = adPersonalization;
  if (apiUrl !== null) config.api_url = apiUrl;
  return { config, secrets };
}
