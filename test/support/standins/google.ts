/**
 * A stand-in for Google's Data Manager API (IngestionService `audienceMembers:ingest`
 * and `audienceMembers:remove`) and Google's OAuth 2.0 token endpoint, written from
 * the API reference (the v1 protos of `@google-ads/datamanager`, the "Limits and
 * quotas", "Understand API errors" and quickstart pages):
 *
 * - Bearer token required: 401 UNAUTHENTICATED as google.rpc.Status otherwise.
 * - Proto3 JSON: lowerCamel or original field names, enums by name or number; an
 *   unknown field or a value of the wrong type → 400 "Invalid JSON payload received".
 * - At most 10,000 members and 10 destinations per request, 10 identifiers per member
 *   (documented); `encoding` required for user data; the Customer Match terms must be
 *   ACCEPTED on ingest.
 * - Fast-fail: a bad member fails the whole request, 400 INVALID_ARGUMENT with a
 *   google.rpc.BadRequest naming it (`audience_members.audience_members[i]…`, the form
 *   of the quickstart's examples); every bad member is listed (not checked against
 *   Google, which may list fewer).
 * - 429 RESOURCE_EXHAUSTED with ErrorInfo `metadata.quota_limit`; no Retry-After
 *   (Google documents none for this API). More than 10 requests in flight (Google
 *   recommends at most 10) is answered the same way and recorded as a violation.
 *
 * Not checked against Google and chosen here: the ErrorInfo reasons of the 401s, the
 * field paths of violations outside `audience_members`, INVALID_REGION_CODE for an
 * address's unknown region, and the 403 for an account or login account not ours.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { googleHash } from "../../../src/service/export-google.ts";
import type { StandIn } from "./types.ts";

export const GOOGLE_STANDIN_MAX_MEMBERS = 10_000;
const MAX_IDENTIFIERS = 10;
const MAX_DESTINATIONS = 10;
const MAX_IN_FLIGHT = 10;

export interface GoogleStandInOptions {
  accountId?: string;
  userListId?: string;
  /** A manager account allowed as `loginAccount`. */
  managerId?: string;
  clientId?: string;
  clientSecret?: string;
  refreshToken?: string;
  /** A long-lived token accepted besides the ones the token endpoint issues. */
  accessToken?: string;
  /** `expires_in` of issued tokens. */
  tokenTtlSeconds?: number;
  /** Holds each API answer this long (to observe requests in flight). */
  latencyMs?: number;
}

export interface GoogleMember {
  keys: Set<string>;
  consent: { adUserData: string | null; adPersonalization: string | null };
}

export interface GoogleStandIn extends StandIn {
  accountId: string;
  userListId: string;
  accessToken: string;
  /** Token endpoint requests answered with a token. */
  tokensIssued: number;
  /** Bodies of accepted (2xx) API requests, in order. */
  bodies: { path: string; body: Record<string, unknown> }[];
  members(): GoogleMember[];
  /** Makes every token issued so far invalid (as if expired or revoked). */
  revokeTokens(): void;
  /** Most requests seen in flight at once. */
  maxInFlight: number;
}

// ---- proto3 JSON schema of the requests ----------------------------------------------

type FieldType =
  | { kind: "string" }
  | { kind: "bool" }
  | { kind: "enum"; name: string; values: string[] }
  | { kind: "message"; name: string }
  | { kind: "opaque" };
interface Field {
  name: string;
  json: string;
  type: FieldType;
  repeated?: boolean;
  oneof?: string;
}

const S: FieldType = { kind: "string" };
const B: FieldType = { kind: "bool" };
const en = (name: string, values: string[]): FieldType => ({ kind: "enum", name, values });
const msg = (name: string): FieldType => ({ kind: "message", name });
const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const f = (name: string, type: FieldType, extra: Partial<Field> = {}): Field => ({
  name,
  json: camel(name),
  type,
  ...extra,
});

const ENCODING = en("Encoding", ["ENCODING_UNSPECIFIED", "HEX", "BASE64"]);
const CONSENT_STATUS = en("ConsentStatus", [
  "CONSENT_STATUS_UNSPECIFIED",
  "CONSENT_GRANTED",
  "CONSENT_DENIED",
]);
const ACCOUNT_TYPE = en("ProductAccount.AccountType", [
  "ACCOUNT_TYPE_UNSPECIFIED",
  "GOOGLE_ADS",
  "DISPLAY_VIDEO_PARTNER",
  "DISPLAY_VIDEO_ADVERTISER",
  "DATA_PARTNER",
  "GOOGLE_ANALYTICS_PROPERTY",
  "GOOGLE_AD_MANAGER_AUDIENCE_LINK",
]);
const PRODUCT = en("Product", [
  "PRODUCT_UNSPECIFIED",
  "GOOGLE_ADS",
  "DISPLAY_VIDEO_PARTNER",
  "DISPLAY_VIDEO_ADVERTISER",
  "DATA_PARTNER",
]);
const TOS_STATUS = en("TermsOfServiceStatus", [
  "TERMS_OF_SERVICE_STATUS_UNSPECIFIED",
  "ACCEPTED",
  "REJECTED",
]);

const MESSAGES: Record<string, Field[]> = {
  IngestAudienceMembersRequest: [
    f("destinations", msg("Destination"), { repeated: true }),
    f("audience_members", msg("AudienceMember"), { repeated: true }),
    f("consent", msg("Consent")),
    f("validate_only", B),
    f("encoding", ENCODING),
    f("encryption_info", { kind: "opaque" }),
    f("terms_of_service", msg("TermsOfService")),
  ],
  RemoveAudienceMembersRequest: [
    f("destinations", msg("Destination"), { repeated: true }),
    f("audience_members", msg("AudienceMember"), { repeated: true }),
    f("validate_only", B),
    f("encoding", ENCODING),
    f("encryption_info", { kind: "opaque" }),
  ],
  Destination: [
    f("reference", S),
    f("login_account", msg("ProductAccount")),
    f("linked_account", msg("ProductAccount")),
    f("operating_account", msg("ProductAccount")),
    f("product_destination_id", S),
  ],
  ProductAccount: [f("product", PRODUCT), f("account_id", S), f("account_type", ACCOUNT_TYPE)],
  AudienceMember: [
    f("destination_references", S, { repeated: true }),
    f("user_data", msg("UserData"), { oneof: "data" }),
    f("pair_data", { kind: "opaque" }, { oneof: "data" }),
    f("mobile_data", { kind: "opaque" }, { oneof: "data" }),
    f("user_id_data", { kind: "opaque" }, { oneof: "data" }),
    f("ppid_data", { kind: "opaque" }, { oneof: "data" }),
    f("consent", msg("Consent")),
  ],
  UserData: [f("user_identifiers", msg("UserIdentifier"), { repeated: true })],
  UserIdentifier: [
    f("email_address", S, { oneof: "identifier" }),
    f("phone_number", S, { oneof: "identifier" }),
    f("address", msg("AddressInfo"), { oneof: "identifier" }),
  ],
  AddressInfo: [f("given_name", S), f("family_name", S), f("region_code", S), f("postal_code", S)],
  Consent: [f("ad_user_data", CONSENT_STATUS), f("ad_personalization", CONSENT_STATUS)],
  TermsOfService: [f("customer_match_terms_of_service_status", TOS_STATUS)],
};

/** A request message read into original field names, enums as names. */
type Msg = { [name: string]: unknown };

class PayloadError extends Error {
  constructor(
    message: string,
    readonly at: string,
  ) {
    super(message);
  }
}

function readMessage(type: string, v: unknown, at: string): Msg {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new PayloadError(
      `Invalid value at '${at}' (type.googleapis.com/google.ads.datamanager.v1.${type}), ${JSON.stringify(v)}`,
      at,
    );
  }
  const fields = MESSAGES[type];
  const out: Msg = {};
  const oneofs = new Map<string, string>();
  for (const [key, value] of Object.entries(v)) {
    const field = fields.find((x) => x.json === key || x.name === key);
    const where = at === "" ? "" : ` at '${at}'`;
    if (!field)
      throw new PayloadError(
        `Invalid JSON payload received. Unknown name "${key}"${where}: Cannot find field.`,
        at,
      );
    if (value === null) continue;
    const path = at === "" ? field.name : `${at}.${field.name}`;
    if (field.oneof) {
      const other = oneofs.get(field.oneof);
      if (other) {
        throw new PayloadError(
          `Invalid JSON payload received. Multiple oneof fields set ("${other}" and "${field.name}")${where}.`,
          at,
        );
      }
      oneofs.set(field.oneof, field.name);
    }
    if (field.repeated) {
      if (!Array.isArray(value)) {
        throw new PayloadError(
          `Invalid value at '${path}', ${JSON.stringify(value)}: a list is expected`,
          path,
        );
      }
      out[field.name] = value.map((x, i) => readValue(field.type, x, `${path}[${i}]`));
    } else {
      out[field.name] = readValue(field.type, value, path);
    }
  }
  return out;
}

function readValue(type: FieldType, v: unknown, at: string): unknown {
  switch (type.kind) {
    case "string":
      if (typeof v !== "string")
        throw new PayloadError(`Invalid value at '${at}' (TYPE_STRING), ${JSON.stringify(v)}`, at);
      return v;
    case "bool":
      if (typeof v !== "boolean")
        throw new PayloadError(`Invalid value at '${at}' (TYPE_BOOL), ${JSON.stringify(v)}`, at);
      return v;
    case "enum": {
      if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v < type.values.length)
        return type.values[v];
      if (typeof v === "string" && type.values.includes(v)) return v;
      throw new PayloadError(
        `Invalid value at '${at}' (type.googleapis.com/google.ads.datamanager.v1.${type.name}), ${JSON.stringify(v)}`,
        at,
      );
    }
    case "message":
      return readMessage(type.name, v, at);
    case "opaque":
      return v;
  }
}

// ---- answers -------------------------------------------------------------------------

interface Violation {
  field: string;
  reason: string;
  description?: string;
}

function status(code: number, statusName: string, message: string, details: unknown[] = []) {
  return { error: { code, message, status: statusName, ...(details.length ? { details } : {}) } };
}

function badRequest(violations: Violation[], reason = "INVALID_ARGUMENT") {
  return status(400, "INVALID_ARGUMENT", "There was a problem with the request.", [
    { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain: "datamanager.googleapis.com" },
    {
      "@type": "type.googleapis.com/google.rpc.BadRequest",
      fieldViolations: violations.map((v) => ({
        field: v.field,
        ...(v.description ? { description: v.description } : {}),
        reason: v.reason,
      })),
    },
  ]);
}

const METHODS: Record<string, { rpc: string; request: string }> = {
  "/v1/audienceMembers:ingest": { rpc: "IngestAudienceMembers", request: "IngestAudienceMembersRequest" },
  "/v1/audienceMembers:remove": { rpc: "RemoveAudienceMembers", request: "RemoveAudienceMembersRequest" },
};

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

function regionKnown(code: string): boolean {
  if (
    !/^[A-Z]{2}$/.test(code) ||
    code === "ZZ" ||
    code.startsWith("X") ||
    code === "AA" ||
    code.startsWith("Q")
  ) {
    return false;
  }
  const names = new Intl.DisplayNames(["en"], { type: "region", fallback: "none" });
  return names.of(code) !== undefined;
}

// ---- the server ----------------------------------------------------------------------

export async function startGoogleStandIn(opts: GoogleStandInOptions = {}): Promise<GoogleStandIn> {
  const accountId = opts.accountId ?? "1234567890";
  const userListId = opts.userListId ?? "9876543210";
  const managerId = opts.managerId ?? "5550001111";
  const clientId = opts.clientId ?? "slice-test.apps.googleusercontent.com";
  const clientSecret = opts.clientSecret ?? `GOCSPX-${randomBytes(12).toString("hex")}`;
  const refreshToken = opts.refreshToken ?? `1//0${randomBytes(24).toString("hex")}`;
  const staticToken = opts.accessToken ?? `ya29.static-${randomBytes(16).toString("hex")}`;
  const ttl = opts.tokenTtlSeconds ?? 3599;

  const issued = new Set<string>();
  let members: GoogleMember[] = [];
  let throttle = 0;
  let inFlight = 0;

  const send = (res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(code, { "Content-Type": "application/json; charset=UTF-8", ...headers });
    res.end(JSON.stringify(body));
  };

  function tokenEndpoint(raw: string, req: IncomingMessage, res: ServerResponse): number {
    if (!(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
      send(res, 400, {
        error: "invalid_request",
        error_description: "Required parameter is missing: grant_type",
      });
      return 400;
    }
    const p = new URLSearchParams(raw);
    if (p.get("grant_type") !== "refresh_token") {
      send(res, 400, {
        error: "unsupported_grant_type",
        error_description: `Invalid grant_type: ${p.get("grant_type") ?? ""}`,
      });
      return 400;
    }
    if (p.get("client_id") !== clientId || p.get("client_secret") !== clientSecret) {
      send(res, 401, { error: "invalid_client", error_description: "The OAuth client was not found." });
      return 401;
    }
    if (p.get("refresh_token") !== refreshToken) {
      send(res, 400, { error: "invalid_grant", error_description: "Bad Request" });
      return 400;
    }
    const token = `ya29.${randomBytes(24).toString("base64url")}`;
    issued.add(token);
    standIn.tokensIssued++;
    send(res, 200, {
      access_token: token,
      expires_in: ttl,
      scope: "https://www.googleapis.com/auth/datamanager",
      token_type: "Bearer",
    });
    return 200;
  }

  function authFailure(
    req: IncomingMessage,
    rpc: string,
  ): { code: number; body: unknown; headers: Record<string, string> } | null {
    const h = req.headers.authorization;
    const metadata = {
      service: "datamanager.googleapis.com",
      method: `google.ads.datamanager.v1.IngestionService.${rpc}`,
    };
    if (!h) {
      return {
        code: 401,
        headers: { "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"' },
        body: status(
          401,
          "UNAUTHENTICATED",
          "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
          [
            {
              "@type": "type.googleapis.com/google.rpc.ErrorInfo",
              reason: "CREDENTIALS_MISSING",
              domain: "googleapis.com",
              metadata,
            },
          ],
        ),
      };
    }
    const m = /^Bearer (.+)$/.exec(h);
    if (m && (m[1] === staticToken || issued.has(m[1]))) return null;
    return {
      code: 401,
      headers: { "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"' },
      body: status(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        [
          {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            reason: "ACCESS_TOKEN_TYPE_UNSUPPORTED",
            domain: "googleapis.com",
            metadata,
          },
        ],
      ),
    };
  }

  function hashed(value: unknown, encoding: string): boolean {
    if (typeof value !== "string") return false;
    if (encoding === "HEX") return HEX.test(value) && value.length === 64;
    const buf = Buffer.from(value, "base64");
    return buf.length === 32 && buf.toString("base64").replace(/=+$/, "") === value.replace(/=+$/, "");
  }
  const encodingOk = (value: string, encoding: string) =>
    encoding === "HEX" ? HEX.test(value) : /^[A-Za-z0-9+/]*={0,2}$/.test(value);

  /** Violations of the request, and the members it carries as identifier keys. */
  function validate(
    path: string,
    r: Msg,
  ): { code: number; body: unknown } | { keys: string[][]; consent: Msg[] } {
    const dests = (r.destinations as Msg[] | undefined) ?? [];
    if (dests.length === 0)
      return { code: 400, body: badRequest([{ field: "destinations", reason: "REQUIRED_FIELD_MISSING" }]) };
    if (dests.length > MAX_DESTINATIONS) {
      return { code: 400, body: badRequest([{ field: "destinations", reason: "TOO_MANY_DESTINATIONS" }]) };
    }
    for (const [i, d] of dests.entries()) {
      const op = d.operating_account as Msg | undefined;
      const at = `destinations.destinations[${i}]`;
      if (!op?.account_id) {
        return {
          code: 400,
          body: badRequest([{ field: `${at}.operating_account`, reason: "REQUIRED_FIELD_MISSING" }]),
        };
      }
      if (!d.product_destination_id) {
        return {
          code: 400,
          body: badRequest([{ field: `${at}.product_destination_id`, reason: "REQUIRED_FIELD_MISSING" }]),
        };
      }
      const type = op.account_type ?? op.product;
      if (type !== "GOOGLE_ADS")
        return {
          code: 400,
          body: badRequest([{ field: `${at}.operating_account`, reason: "INVALID_DESTINATION" }]),
        };
      const login = d.login_account as Msg | undefined;
      if (
        op.account_id !== accountId ||
        (login && login.account_id !== accountId && login.account_id !== managerId)
      ) {
        return {
          code: 403,
          body: status(403, "PERMISSION_DENIED", "The caller does not have permission", [
            {
              "@type": "type.googleapis.com/google.rpc.ErrorInfo",
              reason: "PERMISSION_DENIED",
              domain: "datamanager.googleapis.com",
            },
          ]),
        };
      }
      if (d.product_destination_id !== userListId) {
        return {
          code: 400,
          body: badRequest([{ field: `${at}.product_destination_id`, reason: "INVALID_USER_LIST_ID" }]),
        };
      }
    }
    const list = (r.audience_members as Msg[] | undefined) ?? [];
    if (list.length === 0)
      return {
        code: 400,
        body: badRequest([{ field: "audience_members", reason: "REQUIRED_FIELD_MISSING" }]),
      };
    if (list.length > GOOGLE_STANDIN_MAX_MEMBERS) {
      standIn.violations.push(
        `${path}: ${list.length} audience members, over the maximum of ${GOOGLE_STANDIN_MAX_MEMBERS}`,
      );
      return {
        code: 400,
        body: badRequest([{ field: "audience_members", reason: "TOO_MANY_AUDIENCE_MEMBERS" }]),
      };
    }
    const encoding =
      typeof r.encoding === "string" && r.encoding !== "ENCODING_UNSPECIFIED" ? r.encoding : null;
    if (!encoding)
      return { code: 400, body: badRequest([{ field: "encoding", reason: "REQUIRED_FIELD_MISSING" }]) };
    if (path.endsWith(":ingest")) {
      const tos = (r.terms_of_service as Msg | undefined)?.customer_match_terms_of_service_status;
      if (tos !== "ACCEPTED") {
        return {
          code: 400,
          body: badRequest([{ field: "terms_of_service", reason: "TERMS_AND_CONDITIONS_NOT_SIGNED" }]),
        };
      }
    }
    const violations: Violation[] = [];
    const keys: string[][] = [];
    const consent: Msg[] = [];
    for (const [i, m] of list.entries()) {
      const at = `audience_members.audience_members[${i}]`;
      const ud = m.user_data as Msg | undefined;
      if (!ud) {
        violations.push({
          field: at,
          reason: "INVALID_AUDIENCE_MEMBER",
          description: "Only user_data is supported here.",
        });
        continue;
      }
      const ids = (ud.user_identifiers as Msg[] | undefined) ?? [];
      if (ids.length === 0) {
        violations.push({ field: `${at}.user_data.user_identifiers`, reason: "REQUIRED_FIELD_MISSING" });
        continue;
      }
      if (ids.length > MAX_IDENTIFIERS) {
        violations.push({ field: `${at}.user_data.user_identifiers`, reason: "TOO_MANY_USER_IDENTIFIERS" });
        continue;
      }
      const k: string[] = [];
      let bad: Violation | null = null;
      for (const id of ids) {
        if (id.email_address !== undefined || id.phone_number !== undefined) {
          const what = id.email_address !== undefined ? "Email" : "Phone number";
          const value = (id.email_address ?? id.phone_number) as string;
          if (!encodingOk(value, encoding)) {
            bad = {
              field: `${at}.user_data.user_identifiers`,
              reason: encoding === "HEX" ? "INVALID_HEX_ENCODING" : "INVALID_BASE64_ENCODING",
              description: `${what} is not ${encoding === "HEX" ? "hex" : "base64"} encoded.`,
            };
          } else if (!hashed(value, encoding)) bad = { field: at, reason: "INVALID_SHA256_FORMAT" };
          else k.push(`${id.email_address !== undefined ? "email" : "phone"}:${value.toLowerCase()}`);
        } else if (id.address !== undefined) {
          const a = id.address as Msg;
          if (!a.given_name || !a.family_name || !a.region_code || !a.postal_code) {
            bad = { field: `${at}.user_data.user_identifiers.address`, reason: "REQUIRED_FIELD_MISSING" };
          } else if (!hashed(a.given_name, encoding) || !hashed(a.family_name, encoding)) {
            bad = { field: at, reason: "INVALID_SHA256_FORMAT" };
          } else if (!regionKnown(a.region_code as string)) {
            bad = {
              field: `${at}.user_data.user_identifiers.address.region_code`,
              reason: "INVALID_REGION_CODE",
            };
          } else {
            k.push(
              `address:${(a.given_name as string).toLowerCase()}|${(a.family_name as string).toLowerCase()}|${a.region_code}|${a.postal_code}`,
            );
          }
        } else {
          bad = { field: `${at}.user_data.user_identifiers`, reason: "REQUIRED_FIELD_MISSING" };
        }
        if (bad) break;
      }
      if (bad) violations.push(bad);
      keys.push(k);
      consent.push({ ...((r.consent as Msg | undefined) ?? {}), ...((m.consent as Msg | undefined) ?? {}) });
    }
    if (violations.length > 0) return { code: 400, body: badRequest(violations) };
    return { keys, consent };
  }

  function apply(path: string, keys: string[][], consent: Msg[]) {
    if (path.endsWith(":ingest")) {
      keys.forEach((k, i) => {
        const touching = members.filter((m) => k.some((x) => m.keys.has(x)));
        const merged: GoogleMember = {
          keys: new Set([...touching.flatMap((m) => [...m.keys]), ...k]),
          consent: {
            adUserData: (consent[i].ad_user_data as string | undefined) ?? null,
            adPersonalization: (consent[i].ad_personalization as string | undefined) ?? null,
          },
        };
        members = [...members.filter((m) => !touching.includes(m)), merged];
      });
    } else {
      for (const k of keys) members = members.filter((m) => !k.some((x) => m.keys.has(x)));
    }
  }

  async function api(
    raw: string,
    req: IncomingMessage,
    path: string,
  ): Promise<{ code: number; body: unknown; headers?: Record<string, string>; rows: number }> {
    const method = METHODS[path];
    if (throttle > 0) {
      throttle--;
      return { code: 429, body: quotaExceeded(), rows: 0 };
    }
    const auth = authFailure(req, method.rpc);
    if (auth) return { ...auth, rows: 0 };
    if (!(req.headers["content-type"] ?? "").startsWith("application/json")) {
      return {
        code: 400,
        body: badRequest([
          { field: "", reason: "INVALID_ARGUMENT", description: "Invalid JSON payload received." },
        ]),
        rows: 0,
      };
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      const description = `Invalid JSON payload received. ${(e as Error).message}`;
      return {
        code: 400,
        body: status(400, "INVALID_ARGUMENT", description, [
          { "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ description }] },
        ]),
        rows: 0,
      };
    }
    let r: Msg;
    try {
      r = readMessage(method.request, json, "");
    } catch (e) {
      if (!(e instanceof PayloadError)) throw e;
      return {
        code: 400,
        body: status(400, "INVALID_ARGUMENT", e.message, [
          {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            fieldViolations: [{ field: e.at, description: e.message }],
          },
        ]),
        rows: 0,
      };
    }
    const rows = ((r.audience_members as unknown[] | undefined) ?? []).length;
    const v = validate(path, r);
    if ("code" in v) return { ...v, rows };
    if (r.validate_only !== true) {
      apply(path, v.keys, v.consent);
      standIn.bodies.push({ path, body: json as Record<string, unknown> });
      return { code: 200, body: { requestId: randomUUID() }, rows };
    }
    return { code: 200, body: {}, rows };
  }

  function quotaExceeded() {
    return status(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        reason: "RATE_LIMIT_EXCEEDED",
        domain: "googleapis.com",
        metadata: {
          service: "datamanager.googleapis.com",
          quota_limit: "IngestionMutateRequestsPerMinutePerProject",
          quota_limit_value: "300",
        },
      },
    ]);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    const url = new URL(req.url ?? "/", "http://x");
    const isApi = url.pathname in METHODS;
    if (isApi) {
      inFlight++;
      standIn.maxInFlight = Math.max(standIn.maxInFlight, inFlight);
    }
    const overLimit = isApi && inFlight > MAX_IN_FLIGHT;
    if (overLimit)
      standIn.violations.push(`${inFlight} requests in flight, over the ${MAX_IN_FLIGHT} Google recommends`);
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const record = (code: number, rows: number) =>
        standIn.calls.push({ method: req.method ?? "", path: url.pathname, rows, status: code });
      try {
        if (req.method === "POST" && url.pathname === "/token") {
          record(tokenEndpoint(raw, req, res), 0);
          return;
        }
        if (!isApi || req.method !== "POST") {
          res.writeHead(404, { "Content-Type": "text/html; charset=UTF-8" });
          res.end(
            "<!DOCTYPE html><title>Error 404 (Not Found)!!1</title><p>The requested URL was not found on this server.",
          );
          record(404, 0);
          return;
        }
        const out = overLimit
          ? { code: 429, body: quotaExceeded(), rows: 0 }
          : await api(raw, req, url.pathname);
        if (opts.latencyMs) await new Promise((r) => setTimeout(r, opts.latencyMs));
        record(out.code, out.rows);
        send(res, out.code, out.body, "headers" in out ? out.headers : {});
      } finally {
        if (isApi) inFlight--;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const standIn: GoogleStandIn = {
    url: base,
    config: {
      account_id: accountId,
      user_list_id: userListId,
      client_id: clientId,
      client_secret: clientSecret,
      refresh_token: refreshToken,
      token_url: `${base}/token`,
    },
    accountId,
    userListId,
    accessToken: staticToken,
    tokensIssued: 0,
    bodies: [],
    maxInFlight: 0,
    keyOf: (email) => googleHash("email", email),
    audience() {
      return new Set(
        members.map((m) => {
          const e = [...m.keys].find((k) => k.startsWith("email:"));
          return e ? e.slice("email:".length) : [...m.keys][0];
        }),
      );
    },
    subscribed: () => new Set(),
    calls: [],
    rateLimit(n) {
      throttle += n;
    },
    violations: [],
    members: () => members,
    revokeTokens() {
      issued.clear();
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      });
    },
  };
  return standIn;
}
