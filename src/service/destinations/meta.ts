/**
 * The `meta` destination: a Meta (Facebook) customer-list custom audience, kept through
 * the Marketing API's `/{audience_id}/users` edge.
 *
 * Config: `{access_token, audience_id, api_version?, include_suppressed?, api_url?}`.
 * `access_token` (a system-user token with `ads_management`) is the one secret.
 * `audience_id` is a string of digits (Meta ids exceed the integers JSON numbers hold
 * exactly). `api_version` defaults to META_DEFAULT_API_VERSION, `api_url` to
 * https://graph.facebook.com.
 *
 * Calls (one per batch, at most 10,000 rows, the documented maximum; 2 in flight):
 *
 *     POST   {api_url}/{version}/{audience_id}/users      add
 *     DELETE {api_url}/{version}/{audience_id}/users      remove
 *     Authorization: Bearer <token>, Content-Type: application/json
 *     {"payload": {"schema": ["EMAIL","PHONE","FN","LN","CT","ST","ZIP","COUNTRY","EXTERN_ID"],
 *                  "data": [[<cell>, …], …]},
 *      "session": {"session_id": <random>, "batch_seq": 1, "last_batch_flag": true,
 *                  "estimated_num_total": <rows>}}
 *     → {audience_id, session_id, num_received, num_invalid_entries, invalid_entry_samples}
 *
 *     GET {api_url}/{version}/{audience_id}/sessions?session_id=<id>&fields=…   after an add
 *     → {data: [{session_id, num_received, num_matched, num_invalid_entries, stage, …}]}
 *
 * The token goes in the Authorization header (Graph API takes OAuth bearer tokens there
 * as well as in an `access_token` parameter), so it is never in a URL, a body, a dry run
 * or a retry log line. Each call is its own one-batch upload session: the syncer's
 * batches are independent, and a session per call lets the session read report the
 * call's own counts.
 *
 * Cells are made exactly as the Meta CSV export makes them (export-meta.ts: `metaRow`,
 * Meta's normalisation, SHA-256 hex; EXTERN_ID in clear). A contact with no cell filled
 * is skipped ("no identifier"). `add` returns as remote_key the row it sent, as JSON, and
 * `remove` sends that same row back, so a contact whose data changed since is still taken
 * out by what Meta matched.
 *
 * Answers: 2xx: rows named in `invalid_entry_samples` (matched by a cell or the whole row)
 * fail with Meta's reason, the others are ok; BatchResult.stats = {received, invalid}
 * from the answer and, after an add, `matched` from the session read (Meta matches
 * asynchronously, so it may still be growing; the read is best-effort and dropped when it
 * fails). Throttling (codes 4, 17, 32, 341, 613, 80000–80014, with HTTP 400/403) and
 * temporary errors (1, 2, `is_transient`) are retried by HttpCaller, after Meta's
 * `estimated_time_to_regain_access` when given. Token and permission errors (190, 102,
 * 104, 10, 200–299) and audience errors (100/33 missing audience, 100/1713230 flagged,
 * 2650 failed update) propagate as ProviderError. Any other `(#100) Invalid parameter`
 * is a content refusal naming no row → BatchRejected.
 *
 * Consent (ad platform: nothing is ever marked subscribed on Meta; Slice only decides who
 * is in the audience):
 *
 * | consent (consent.ts) | include_suppressed false (default)          | include_suppressed true |
 * | -------------------- | ------------------------------------------- | ----------------------- |
 * | subscribed           | added (hashed row)                          | added                   |
 * | non_subscribed       | added (hashed row)                          | added                   |
 * | unsubscribed         | skipped, "suppressed: unsubscribed"         | added                   |
 * | hard_bounced         | skipped, "suppressed: hard_bounced"         | added                   |
 * | complained           | skipped, "suppressed: complained"           | added                   |
 *
 * `remove` takes out whoever it is given, whatever their consent.
 *
 * Why not Meta's SDK (facebook-nodejs-business-sdk): its base URL is a static getter
 * (`FacebookAdsApi.GRAPH`, https://graph.facebook.com) and its version another
 * (`VERSION`), shared by the whole process, and `CustomAudience.createUser` /
 * `deleteUsers` call `api.call` without its per-call `urlOverride`, so neither
 * `api_url` nor `api_version` could be set per destination without patching a global;
 * `deleteUsers` sends every parameter (the 10,000-row payload and the token) in the
 * query string, which no URL can hold; and `new FacebookAdsApi(token)` enables by
 * default a crash reporter that installs a process-wide `uncaughtException` handler
 * and posts reports to Meta. Plain HTTP through ctx.http keeps HttpCaller's retries,
 * timeouts and Meta's throttling classification.
 */
import { randomInt } from "node:crypto";
import type { ContactRecord } from "../../store/types.ts";
import { META_FIELDS, metaRow } from "../export-meta.ts";
import { consentOf } from "./consent.ts";
import { ProviderError } from "./http-call.ts";
import { edgeUrl, type MetaSettings, parseMetaConfig, settingsOf } from "./meta-config.ts";
import {
  classifyGraphAnswer,
  describeGraphError,
  graphErrorOf,
  isContentRefusal,
  parseSessionsAnswer,
  parseUsersAnswer,
  type UsersAnswer,
} from "./meta-graph.ts";
import {
  BatchRejected,
  type BatchResult,
  type CallStats,
  type Connector,
  type ConnectorContext,
  type PlannedRequest,
  type RemoteMember,
  type RowOutcome,
  type SyncContact,
} from "./types.ts";

export { META_DEFAULT_API_URL, META_DEFAULT_API_VERSION, parseMetaConfig } from "./meta-config.ts";

export const META_KIND = "meta" as const;
/** Rows per `/users` call (Custom Audience Users reference: "a maximum of 10000 at a time"). */
export const META_MAX_ROWS = 10_000;
/** The payload schema: Meta's key names for the export's columns, in the same order. */
export const META_SCHEMA: readonly string[] = META_FIELDS.map((f) => f.toUpperCase());
export const REDACTED = "<redacted>";

const SESSION_FIELDS = "session_id,num_received,num_matched,num_invalid_entries,stage";

export interface MetaConnectorOptions {
  /** Calls in flight at once (default 2). */
  concurrency?: number;
  /** Read the upload session after an add for the match count (default true). */
  readSessions?: boolean;
  /** Session ids (default: random positive integers below 2^48). */
  sessionId?: () => number;
}

interface MetaBody {
  payload: { schema: readonly string[]; data: string[][] };
  session: { session_id: number; batch_seq: number; last_batch_flag: boolean; estimated_num_total: number };
}

/**
 * metaRow reads a stored record; a SyncContact carries the same profile fields. The
 * timestamps it does not read are filled with placeholders rather than cast away.
 */
function recordOf(c: SyncContact): ContactRecord {
  return {
    ...c,
    tags: [...c.tags],
    fields: { ...c.fields },
    created_at: 0,
    subscribed_at: null,
    status_written_at: null,
    email_status_written_at: null,
    updated_at: 0,
  };
}

/** The cells Meta gets for a contact, in META_SCHEMA order (export-meta.ts's normalisation and hashing). */
export function metaCellsOf(c: SyncContact): string[] {
  return metaRow(recordOf(c));
}

/** The row `remove` sends back, read from a remote_key `add` wrote; null when it is not one. */
export function rowOfRemoteKey(key: string): string[] | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(key);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length !== META_SCHEMA.length) return null;
  if (!parsed.every((cell) => typeof cell === "string")) return null;
  return parsed.some((cell) => cell !== "") ? (parsed as string[]) : null;
}

interface Prepared {
  rows: string[][];
  /** contact_id of each row. */
  ids: string[];
  done: RowOutcome[];
}

function prepareAdd(s: MetaSettings, contacts: SyncContact[]): Prepared {
  const out: Prepared = { rows: [], ids: [], done: [] };
  for (const c of contacts) {
    const consent = consentOf(c);
    if (
      !s.includeSuppressed &&
      (consent === "unsubscribed" || consent === "complained" || consent === "hard_bounced")
    ) {
      out.done.push({ contact_id: c.id, status: "skipped", error: `suppressed: ${consent}` });
      continue;
    }
    const row = metaCellsOf(c);
    if (row.every((cell) => cell === "")) {
      out.done.push({ contact_id: c.id, status: "skipped", error: "no identifier" });
      continue;
    }
    out.rows.push(row);
    out.ids.push(c.id);
  }
  return out;
}

function prepareRemove(members: RemoteMember[]): Prepared {
  const out: Prepared = { rows: [], ids: [], done: [] };
  for (const m of members) {
    const row = rowOfRemoteKey(m.remote_key);
    if (row === null) {
      out.done.push({
        contact_id: m.contact_id,
        status: "failed",
        error: "remote_key is not a Meta row written by add",
      });
      continue;
    }
    out.rows.push(row);
    out.ids.push(m.contact_id);
  }
  return out;
}

function bodyOf(rows: string[][], sessionId: number): MetaBody {
  return {
    payload: { schema: META_SCHEMA, data: rows },
    session: { session_id: sessionId, batch_seq: 1, last_batch_flag: true, estimated_num_total: rows.length },
  };
}

/** Row index → Meta's reason, for the rows `invalid_entry_samples` names by one of their cells or as a whole. */
export function rowsNamedBySamples(rows: string[][], samples: Record<string, string>): Map<number, string> {
  const named = new Map<number, string>();
  const entries = Object.entries(samples);
  if (entries.length === 0) return named;
  const wanted = new Map(entries.filter(([k]) => k !== ""));
  rows.forEach((row, i) => {
    const whole = wanted.get(JSON.stringify(row));
    if (whole !== undefined) {
      named.set(i, whole);
      return;
    }
    for (const cell of row) {
      const reason = cell === "" ? undefined : wanted.get(cell);
      if (reason !== undefined) {
        named.set(i, reason);
        return;
      }
    }
  });
  return named;
}

function outcomes(p: Prepared, answer: UsersAnswer, withKeys: boolean): RowOutcome[] {
  const bad = rowsNamedBySamples(p.rows, answer.invalid_entry_samples);
  const rows = [...p.done];
  p.rows.forEach((row, i) => {
    const reason = bad.get(i);
    if (reason !== undefined)
      rows.push({ contact_id: p.ids[i], status: "failed", error: `invalid entry: ${reason}` });
    else if (withKeys) rows.push({ contact_id: p.ids[i], status: "ok", remote_key: JSON.stringify(row) });
    else rows.push({ contact_id: p.ids[i], status: "ok" });
  });
  return rows;
}

export function createMetaConnector(opts: MetaConnectorOptions = {}): Connector {
  const readSessions = opts.readSessions ?? true;
  const nextSessionId = opts.sessionId ?? (() => randomInt(1, 2 ** 48 - 1));

  function planned(s: MetaSettings, method: string, rows: string[][], sessionId: number): PlannedRequest {
    return {
      method,
      url: edgeUrl(s, "users"),
      headers: { Authorization: REDACTED, "Content-Type": "application/json" },
      body: bodyOf(rows, sessionId),
      rows: rows.length,
    };
  }

  async function send(
    ctx: ConnectorContext,
    s: MetaSettings,
    method: string,
    body: MetaBody,
  ): Promise<UsersAnswer> {
    try {
      const res = await ctx.http.with(classifyGraphAnswer).request({
        method,
        url: edgeUrl(s, "users"),
        headers: { Authorization: `Bearer ${s.token}` },
        body,
      });
      return parseUsersAnswer(res.body);
    } catch (e) {
      if (e instanceof ProviderError && isContentRefusal(e)) {
        const g = graphErrorOf(e.body);
        throw new BatchRejected(g ? describeGraphError(g) : e.message, e.status);
      }
      throw e;
    }
  }

  /** The session's match count, or null: stats must not fail a batch Meta accepted. */
  async function matchedOf(
    ctx: ConnectorContext,
    s: MetaSettings,
    sessionId: number,
  ): Promise<number | null> {
    const qs = new URLSearchParams({ session_id: String(sessionId), fields: SESSION_FIELDS });
    try {
      const res = await ctx.http
        .with(() => ({ retry: false }))
        .request({
          method: "GET",
          url: `${edgeUrl(s, "sessions")}?${qs}`,
          headers: { Authorization: `Bearer ${s.token}` },
        });
      return parseSessionsAnswer(res.body, String(sessionId))?.num_matched ?? null;
    } catch {
      return null;
    }
  }

  function statsOf(answer: UsersAnswer, matched: number | null): CallStats {
    const stats: CallStats = {};
    if (answer.num_received !== null) stats.received = answer.num_received;
    if (matched !== null) stats.matched = matched;
    if (answer.num_invalid_entries !== null) stats.invalid = answer.num_invalid_entries;
    return stats;
  }

  return {
    kind: META_KIND,
    limits: { batchSize: META_MAX_ROWS, concurrency: opts.concurrency ?? 2 },
    parseConfig: parseMetaConfig,

    async add(ctx, contacts): Promise<BatchResult> {
      const s = settingsOf(ctx);
      const p = prepareAdd(s, contacts);
      if (p.rows.length === 0) return { rows: p.done };
      const sessionId = nextSessionId();
      const answer = await send(ctx, s, "POST", bodyOf(p.rows, sessionId));
      const matched = readSessions ? await matchedOf(ctx, s, sessionId) : null;
      return { rows: outcomes(p, answer, true), stats: statsOf(answer, matched) };
    },

    async remove(ctx, members): Promise<BatchResult> {
      const s = settingsOf(ctx);
      const p = prepareRemove(members);
      if (p.rows.length === 0) return { rows: p.done };
      const answer = await send(ctx, s, "DELETE", bodyOf(p.rows, nextSessionId()));
      return { rows: outcomes(p, answer, false), stats: statsOf(answer, null) };
    },

    planAdd(ctx, contacts) {
      const s = settingsOf(ctx);
      const p = prepareAdd(s, contacts);
      return p.rows.length === 0 ? [] : [planned(s, "POST", p.rows, nextSessionId())];
    },

    planRemove(ctx, members) {
      const s = settingsOf(ctx);
      const p = prepareRemove(members);
      return p.rows.length === 0 ? [] : [planned(s, "DELETE", p.rows, nextSessionId())];
    },
  };
}
