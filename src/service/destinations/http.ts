/**
 * The generic `http` destination: Slice POSTs the contacts entering the audience to
 * `add_url` and those leaving it to `remove_url`, signed the Standard Webhooks way.
 *
 * Config: `{add_url, remove_url, secret?}`. Both URLs are absolute http(s) URLs under the
 * webhook address rules (webhook-url.ts): with `denyPrivate` (the service's default;
 * `SLICE_WEBHOOK_ALLOW_PRIVATE=1` turns it off), loopback, private and
 * link-local hosts are refused, when the destination is created
 * (`checkHttpDestinationConfig`, which needs DNS) and again before every call (a name
 * may resolve elsewhere later). URLs with credentials are refused: config is shown by
 * reads, and fetch will not send them anyway. `api_url` does not apply: the two URLs are
 * complete.
 *
 * The secret must be a Standard Webhooks secret (`whsec_` + base64 of 24–64 bytes),
 * not any long string: receivers verify with the Standard Webhooks libraries, which
 * base64-decode the secret, so a free-form string would sign with a key they cannot
 * rebuild. Absent, one is made; the service shows it once, at creation.
 *
 * Calls (one per batch, at most 1000 contacts, 4 in flight):
 *
 *     POST add_url     {"destination_id": "…", "contacts": [<wire contact>, …]}
 *     POST remove_url  {"destination_id": "…", "contacts": [{"id", "email", "external_id"}, …]}
 *     User-Agent: Slice-Destinations/1, Content-Type: application/json,
 *     webhook-id, webhook-timestamp, webhook-signature (Standard Webhooks)
 *
 * `webhook-id` is derived from the destination, the operation and the body, so the
 * same batch sent again (a retry, or the syncer's next pass) carries the same id and the
 * receiver can deduplicate on it. The flip side: re-adding a contact whose data did not
 * change since an identical earlier add repeats that add's id too, so a receiver should
 * forget ids after a few minutes (the specification suggests five), not keep them.
 * The timestamp is taken once per call: HttpCaller's retries of that call re-send the
 * same headers, so a call retried for longer than a receiver's tolerance (five minutes
 * in the reference libraries) may be refused as too old; the syncer's next pass signs
 * afresh.
 *
 * Answers: 2xx, every row is done (absent members included: removal is idempotent, so
 * a receiver answers 2xx for them). 429, 408, 5xx: retried by HttpCaller, Retry-After
 * honoured. 3xx: a failure (redirects are not followed: they could lead past the address
 * check). 401, 403, 404, 405, 410: the endpoint refuses us whatever the rows, so the
 * ProviderError propagates rather than splitting the batch down to single rows. Any
 * other 4xx: the batch's content was refused without naming rows → BatchRejected.
 *
 * Consent: the receiver decides, so every contact is sent whatever its consent, with its
 * effective `status` and `email_status` in the wire contact:
 *
 * | consent (consent.ts) | sent to add_url | what tells the receiver                    |
 * | -------------------- | --------------- | ------------------------------------------ |
 * | subscribed           | yes             | `status: "subscribed"`                     |
 * | non_subscribed       | yes             | `status` null or not (un)subscribed        |
 * | unsubscribed         | yes             | `status: "unsubscribed"`                   |
 * | hard_bounced         | yes             | `email_status: "hard_bounced"`             |
 * | complained           | yes             | `email_status: "complained"`               |
 *
 * Contacts without an email are sent too (the receiver may know them by id or
 * external_id). `add` returns as remote_key `{"id","email","external_id"}` as JSON, which
 * `remove` sends back.
 */
import { createHash } from "node:crypto";
import type { JsonObject } from "../../store/types.ts";
import { isStandardSecret, newStandardSecret, standardHeaders } from "../standard-webhooks.ts";
import { checkWebhookUrl, type WebhookUrlOptions } from "../webhook-url.ts";
import { describeFailure, ProviderError } from "./http-call.ts";
import {
  BatchRejected,
  type BatchResult,
  ConfigError,
  type Connector,
  type ConnectorContext,
  type ParsedConfig,
  type PlannedRequest,
  type RemoteMember,
  type SyncContact,
} from "./types.ts";

export const HTTP_USER_AGENT = "Slice-Destinations/1";
/** What a dry run shows for the headers that depend on the secret or the clock. */
export const COMPUTED_AT_SEND = "<computed at send time>";
const MAX_URL_LENGTH = 2048;
const URL_FIELDS = ["add_url", "remove_url"] as const;
type UrlField = (typeof URL_FIELDS)[number];
const SECRET_RULE =
  "secret must be a Standard Webhooks secret: whsec_ followed by the base64 of 24 to 64 bytes";
/** Statuses saying the endpoint refuses us whatever the rows: splitting the batch cannot help. */
const ENDPOINT_REFUSALS = new Set([401, 403, 404, 405, 410]);

export type HttpConnectorOptions = WebhookUrlOptions;

export interface HttpConfigProblem {
  path: string;
  message: string;
}

/** How the receiver knows a member; `add` returns it as JSON and `remove` sends it back. */
export interface HttpMemberKey {
  id: string;
  email: string | null;
  external_id: string | null;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The syntax rules of webhook URLs (checkWebhookUrl without DNS), plus ours. */
function urlSyntaxProblem(field: UrlField, value: string): string | null {
  if (value.length > MAX_URL_LENGTH) return `${field} is longer than ${MAX_URL_LENGTH} characters`;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return `${field} must be an absolute http or https URL`;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return `${field} must use http or https`;
  if (parsed.hostname === "") return `${field} has no host`;
  if (parsed.username !== "" || parsed.password !== "") {
    return `${field} must not contain credentials (they would be shown with the config); the signature authenticates calls`;
  }
  return null;
}

/** Validates `config` of an `http` destination; makes a secret when none is given. */
export function parseHttpConfig(input: unknown): ParsedConfig {
  if (!isPlainObject(input)) throw new ConfigError("", "config must be an object");
  for (const key of Object.keys(input)) {
    if (key === "api_url") {
      throw new ConfigError(
        key,
        "api_url does not apply to http destinations: add_url and remove_url are full URLs",
      );
    }
    if (!(URL_FIELDS as readonly string[]).includes(key) && key !== "secret") {
      throw new ConfigError(
        key,
        `unknown field ${key}: an http destination takes add_url, remove_url and secret`,
      );
    }
  }
  const config: JsonObject = {};
  for (const field of URL_FIELDS) {
    const value = input[field];
    if (value === undefined || value === null || value === "")
      throw new ConfigError(field, `${field} is required`);
    if (typeof value !== "string") throw new ConfigError(field, `${field} must be a string`);
    const problem = urlSyntaxProblem(field, value);
    if (problem !== null) throw new ConfigError(field, problem);
    config[field] = value;
  }
  const given = input.secret;
  let secret: string;
  // Only an absent secret is made: the service shows a made secret when none was given.
  if (given === undefined) secret = newStandardSecret();
  else if (typeof given === "string" && isStandardSecret(given)) secret = given;
  else throw new ConfigError("secret", SECRET_RULE);
  return { config, secrets: { secret } };
}

/**
 * The address rules that need DNS, for the service to run at creation (after
 * `parseConfig`): the first URL refused, as a config path and message, or null.
 */
export async function checkHttpDestinationConfig(
  config: unknown,
  opts: WebhookUrlOptions,
): Promise<HttpConfigProblem | null> {
  if (!isPlainObject(config)) return { path: "", message: "config must be an object" };
  for (const field of URL_FIELDS) {
    const value = config[field];
    if (typeof value !== "string") return { path: field, message: `${field} is required` };
    const syntax = urlSyntaxProblem(field, value);
    if (syntax !== null) return { path: field, message: syntax };
    const problem = await checkWebhookUrl(value, opts);
    if (problem !== null) return { path: field, message: problem.replace(/^url\b/, field) };
  }
  return null;
}

/**
 * The `webhook-id` of a call: the same destination, operation and body always give the
 * same id (base64url, so never a `.`, which the signed content reserves).
 */
export function httpMessageId(destinationId: string, op: "add" | "remove", body: string): string {
  const digest = createHash("sha256").update(`${destinationId}\n${op}\n`, "utf8").update(body, "utf8");
  return `msg_${digest.digest("base64url")}`;
}

export function memberKeyOf(c: Pick<SyncContact, "id" | "email" | "external_id">): string {
  const key: HttpMemberKey = { id: c.id, email: c.email, external_id: c.external_id };
  return JSON.stringify(key);
}

/** The member as the remove call names it; a key `add` did not write still names the contact by id. */
export function parseMemberKey(m: RemoteMember): HttpMemberKey {
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(m.remote_key);
  } catch {
    // Not ours: fall through to the id alone.
  }
  const str = (v: unknown) => (typeof v === "string" ? v : null);
  const o = isPlainObject(parsed) ? parsed : {};
  return { id: m.contact_id, email: str(o.email), external_id: str(o.external_id) };
}

interface Call {
  op: "add" | "remove";
  url: string;
  /** Exactly the bytes that are signed and sent. */
  text: string;
  body: { destination_id: string; contacts: unknown[] };
  id: string;
}

function urlOf(ctx: ConnectorContext, op: "add" | "remove"): string {
  const url = ctx.config[`${op}_url`];
  if (typeof url !== "string") {
    throw new ProviderError(`destination ${ctx.destinationId} has no ${op}_url`, null, false);
  }
  return url;
}

function buildCall(ctx: ConnectorContext, op: "add" | "remove", contacts: unknown[]): Call {
  const body = { destination_id: ctx.destinationId, contacts };
  const text = JSON.stringify(body);
  return { op, url: urlOf(ctx, op), text, body, id: httpMessageId(ctx.destinationId, op, text) };
}

const baseHeaders = (): Record<string, string> => ({
  "User-Agent": HTTP_USER_AGENT,
  "Content-Type": "application/json",
});

function plan(call: Call): PlannedRequest {
  return {
    method: "POST",
    url: call.url,
    headers: {
      ...baseHeaders(),
      "webhook-id": call.id,
      "webhook-timestamp": COMPUTED_AT_SEND,
      "webhook-signature": COMPUTED_AT_SEND,
    },
    body: call.body,
    rows: call.body.contacts.length,
  };
}

/** checkWebhookUrl, bounded by the call timeout (a stalled resolver must not hold a batch). */
async function addressProblem(
  url: string,
  opts: WebhookUrlOptions,
  timeoutMs: number,
): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    checkWebhookUrl(url, opts),
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`address check timed out after ${timeoutMs} ms`), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function send(ctx: ConnectorContext, call: Call, opts: WebhookUrlOptions): Promise<void> {
  // Again before every call: the name may resolve to a private address by now.
  const problem = await addressProblem(call.url, opts, ctx.http.policy.timeoutMs);
  if (problem !== null) {
    const transient = /does not resolve|timed out/.test(problem);
    throw new ProviderError(
      `${call.op}_url refused: ${problem.replace(/^url\b/, `${call.op}_url`)}`,
      null,
      transient,
    );
  }
  const secret = ctx.secrets.secret;
  if (typeof secret !== "string" || secret === "") {
    throw new ProviderError(`destination ${ctx.destinationId} has no signing secret`, null, false);
  }
  const headers = {
    ...baseHeaders(),
    ...standardHeaders(secret, call.id, Date.now() / 1000, call.text),
  };
  try {
    await ctx.http.request({ method: "POST", url: call.url, headers, body: call.text });
  } catch (e) {
    if (!(e instanceof ProviderError) || e.status === null) throw e;
    const s = e.status;
    if (s >= 300 && s < 400) {
      throw new ProviderError(`${describeFailure(s, e.body)} (redirects are not followed)`, s, false, e.body);
    }
    if (s >= 400 && s < 500 && !e.retryable && !ENDPOINT_REFUSALS.has(s)) {
      throw new BatchRejected(describeFailure(s, e.body), s);
    }
    throw e;
  }
}

export function createHttpConnector(opts: HttpConnectorOptions): Connector {
  const urlOpts: WebhookUrlOptions = {
    denyPrivate: opts.denyPrivate,
    ...(opts.resolve ? { resolve: opts.resolve } : {}),
  };
  const addCall = (ctx: ConnectorContext, contacts: SyncContact[]) => buildCall(ctx, "add", contacts);
  const removeCall = (ctx: ConnectorContext, members: RemoteMember[]) =>
    buildCall(ctx, "remove", members.map(parseMemberKey));
  return {
    kind: "http",
    limits: { batchSize: 1000, concurrency: 4 },
    parseConfig: parseHttpConfig,

    async checkConfig(config) {
      const p = await checkHttpDestinationConfig(config, urlOpts);
      return p ? new ConfigError(p.path, p.message) : null;
    },

    async add(ctx, contacts): Promise<BatchResult> {
      if (contacts.length === 0) return { rows: [] };
      await send(ctx, addCall(ctx, contacts), urlOpts);
      return {
        rows: contacts.map((c) => ({ contact_id: c.id, status: "ok", remote_key: memberKeyOf(c) })),
      };
    },

    async remove(ctx, members): Promise<BatchResult> {
      if (members.length === 0) return { rows: [] };
      await send(ctx, removeCall(ctx, members), urlOpts);
      return { rows: members.map((m) => ({ contact_id: m.contact_id, status: "ok" })) };
    },

    planAdd: (ctx, contacts) => (contacts.length === 0 ? [] : [plan(addCall(ctx, contacts))]),
    planRemove: (ctx, members) => (members.length === 0 ? [] : [plan(removeCall(ctx, members))]),
  };
}
