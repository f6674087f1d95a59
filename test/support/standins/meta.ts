/**
 * A strict stand-in for the Meta Marketing API's customer-list custom audience edges,
 * written from the Custom Audience Users and Custom Audience Session references and the
 * Graph API error and rate-limiting guides:
 *
 *     POST   /{version}/{audience_id}/users      add rows
 *     DELETE /{version}/{audience_id}/users      remove rows
 *     GET    /{version}/{audience_id}/sessions   upload sessions (?session_id=)
 *
 * Parameters come as JSON or form bodies or in the query string (Graph merges them;
 * `payload` and `session` in a form are JSON strings), the token as `access_token` or an
 * `Authorization: Bearer|OAuth` header. Errors are Graph's `{error: {message, type, code,
 * error_subcode?, fbtrace_id}}` with HTTP 400, as Graph answers them; throttling is code
 * 80003 (the custom-audience business use case) with HTTP 400 and an
 * `X-Business-Use-Case-Usage` header, not a 429. Message texts for the missing token,
 * the invalid token, the unknown object and the missing parameter are Graph's; those for
 * other parameter problems and for an oversize batch are ours (the reference gives the
 * limit, not the words).
 *
 * Each row is checked the way the connector's rows must pass: one cell per schema key,
 * hashed keys empty or 64 hex digits, at least one cell filled. Rows that fail are not
 * applied and come back in `num_invalid_entries` / `invalid_entry_samples` (sample key:
 * the offending cell, or the row as JSON when it has none), like entries Meta cannot
 * use; `refuseEntry` makes a given cell value such an entry (Meta refuses entries the
 * stand-in cannot judge, e.g. digests of nothing it knows how to match).
 *
 * The audience is keyed by the EMAIL cell (so `keyOf(email)` is the SHA-256 of the
 * normalised email), else `<key>:<cell>` of the first filled cell.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { metaHash } from "../../../src/service/export-meta.ts";
import type { StandIn } from "./types.ts";

export const META_STANDIN_TOKEN = "EAAGstandin0123456789abcdef";
export const META_STANDIN_AUDIENCE = "23851234567890123";
export const META_STANDIN_MAX_ROWS = 10_000;

/** Keys Meta's customer-list schema knows (the multi-key list of the Users reference, plus the single-key hashed forms). */
const KNOWN_KEYS = new Set([
  "EXTERN_ID",
  "EMAIL",
  "PHONE",
  "GEN",
  "DOBY",
  "DOBM",
  "DOBD",
  "LN",
  "FN",
  "FI",
  "CT",
  "ST",
  "ZIP",
  "MADID",
  "COUNTRY",
  "EMAIL_SHA256",
  "PHONE_SHA256",
  "MOBILE_ADVERTISER_ID",
  "LOOKALIKE_VALUE",
  "DATA_PROCESSING_OPTIONS",
]);
/** Keys sent in clear: everything else must be a SHA-256 hex digest. */
const CLEAR_KEYS = new Set([
  "EXTERN_ID",
  "MADID",
  "MOBILE_ADVERTISER_ID",
  "LOOKALIKE_VALUE",
  "DATA_PROCESSING_OPTIONS",
]);
const PAYLOAD_KEYS = new Set([
  "schema",
  "is_raw",
  "data",
  "app_ids",
  "page_ids",
  "ig_account_ids",
  "data_source",
]);
const SESSION_KEYS = new Set(["session_id", "batch_seq", "last_batch_flag", "estimated_num_total"]);
const TOP_KEYS = new Set(["access_token", "appsecret_proof", "payload", "session", "method"]);
const SHA256 = /^[0-9a-f]{64}$/i;

export interface MetaSession {
  session_id: string;
  num_received: number;
  num_matched: number;
  num_invalid_entries: number;
  batches: number;
  last_batch_flag: boolean;
  start_time: number;
  end_time: number;
}

export interface MetaStandIn extends StandIn {
  token: string;
  audienceId: string;
  /** The rows held, by audience key. */
  rows: Map<string, string[]>;
  sessions: Map<string, MetaSession>;
  /** Parsed parameters of every request that reached validation, in order (token removed). */
  bodies: Record<string, unknown>[];
  /** Most requests seen in flight at once. */
  maxInFlight: number;
  /** Makes rows holding this cell value invalid entries, answered with `reason`. */
  refuseEntry(value: string, reason?: string): void;
}

export interface MetaStandInOptions {
  token?: string;
  audienceId?: string;
  /** Requests in flight above this are a violation and answered as throttled (not documented by Meta: unset, no limit). */
  maxConcurrent?: number;
  /** Time each request is held before its answer, to let concurrent calls overlap. */
  delayMs?: number;
}

class GraphFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly type = "OAuthException",
    readonly subcode: number | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function invalidParam(message: string): GraphFailure {
  return new GraphFailure(400, 100, `(#100) ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isInt(v: unknown): boolean {
  return (typeof v === "number" && Number.isInteger(v)) || (typeof v === "string" && /^\d{1,19}$/.test(v));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Graph's parameters: query string, then the body (JSON, or a form whose object values are JSON strings). */
function paramsOf(url: URL, req: IncomingMessage, text: string): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  const fromForm = (sp: URLSearchParams) => {
    for (const [k, v] of sp) {
      if (k === "payload" || k === "session") {
        try {
          params[k] = JSON.parse(v);
        } catch {
          throw invalidParam(`Param ${k} must be a JSON object`);
        }
      } else params[k] = v;
    }
  };
  fromForm(url.searchParams);
  if (text === "") return params;
  const type = req.headers["content-type"] ?? "";
  if (type.includes("application/json")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw invalidParam("The request body is not valid JSON");
    }
    if (!isObject(parsed)) throw invalidParam("The request body must be a JSON object");
    Object.assign(params, parsed);
  } else if (type.includes("application/x-www-form-urlencoded")) {
    fromForm(new URLSearchParams(text));
  } else {
    throw invalidParam(`Unsupported content type ${type || "(none)"}`);
  }
  return params;
}

function tokenOf(req: IncomingMessage, params: Record<string, unknown>): string | null {
  const auth = req.headers.authorization;
  if (typeof auth === "string") {
    const m = /^(?:Bearer|OAuth)\s+(\S+)$/i.exec(auth.trim());
    if (m) return m[1];
  }
  return typeof params.access_token === "string" && params.access_token !== "" ? params.access_token : null;
}

export async function startMetaStandIn(opts: MetaStandInOptions = {}): Promise<MetaStandIn> {
  const token = opts.token ?? META_STANDIN_TOKEN;
  const audienceId = opts.audienceId ?? META_STANDIN_AUDIENCE;
  const rows = new Map<string, string[]>();
  const sessions = new Map<string, MetaSession>();
  const refused = new Map<string, string>();
  const calls: StandIn["calls"] = [];
  const violations: string[] = [];
  const bodies: Record<string, unknown>[] = [];
  let throttleNext = 0;
  let inFlight = 0;

  const keyOfRow = (schema: string[], row: string[]): string => {
    const e = schema.indexOf("EMAIL");
    if (e >= 0 && row[e] !== "") return row[e].toLowerCase();
    const i = row.findIndex((cell) => cell !== "");
    return `${schema[i].toLowerCase()}:${row[i]}`;
  };

  /** Why Meta could not use a row, with the cell it names, or null when the row is usable. */
  const rowProblem = (schema: string[], row: string[]): [string, string] | null => {
    for (let i = 0; i < row.length; i++) {
      const cell = row[i];
      if (cell === "") continue;
      if (!CLEAR_KEYS.has(schema[i]) && !SHA256.test(cell))
        return [cell, `${schema[i]} is not a SHA-256 hex digest`];
      const reason = refused.get(cell);
      if (reason !== undefined) return [cell, reason];
    }
    if (row.every((cell) => cell === "")) return [JSON.stringify(row), "no identifier in the row"];
    return null;
  };

  const throttled = () =>
    new GraphFailure(
      400,
      80003,
      "(#80003) There have been too many calls to this ad-account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting#custom-audience.",
      "OAuthException",
      null,
      {
        "X-Business-Use-Case-Usage": JSON.stringify({
          "1234567890": [
            {
              type: "custom_audience",
              call_count: 100,
              total_cputime: 10,
              total_time: 10,
              estimated_time_to_regain_access: 0,
            },
          ],
        }),
      },
    );

  function users(method: string, params: Record<string, unknown>, tally: { rows: number }): unknown {
    const payload = params.payload;
    if (payload === undefined) throw invalidParam("The parameter payload is required");
    if (!isObject(payload)) throw invalidParam("Param payload must be a JSON object");
    for (const k of Object.keys(payload)) {
      if (!PAYLOAD_KEYS.has(k)) throw invalidParam(`Param payload[${k}] is not a valid parameter`);
    }
    const rawSchema = payload.schema;
    const schema = typeof rawSchema === "string" ? [rawSchema] : rawSchema;
    if (!Array.isArray(schema) || schema.length === 0 || !schema.every((k) => typeof k === "string")) {
      throw invalidParam("Param payload[schema] must be a key or a non-empty array of keys");
    }
    for (const k of schema as string[])
      if (!KNOWN_KEYS.has(k)) throw invalidParam(`Invalid schema key: ${k}`);
    if (new Set(schema).size !== schema.length) throw invalidParam("Duplicate keys in payload[schema]");
    const data = payload.data;
    if (!Array.isArray(data)) throw invalidParam("Param payload[data] must be an array");
    tally.rows = data.length;
    if (data.length === 0) throw invalidParam("Param payload[data] must not be empty");
    if (data.length > META_STANDIN_MAX_ROWS) {
      violations.push(`${method} /users with ${data.length} rows (maximum ${META_STANDIN_MAX_ROWS})`);
      throw invalidParam(
        `Too many rows in payload[data]: ${data.length}, at most ${META_STANDIN_MAX_ROWS} per request`,
      );
    }
    const multi = typeof rawSchema !== "string" && schema.length > 1;
    const table: string[][] = data.map((entry, i) => {
      const row = multi ? entry : Array.isArray(entry) ? entry : [entry];
      if (!Array.isArray(row) || row.length !== schema.length || !row.every((c) => typeof c === "string")) {
        throw invalidParam(
          `payload[data][${i}] must be an array of ${schema.length} strings, one per schema key`,
        );
      }
      return row as string[];
    });

    const session = params.session;
    let sessionId: string;
    let last = true;
    if (session !== undefined) {
      if (!isObject(session)) throw invalidParam("Param session must be a JSON object");
      for (const k of Object.keys(session)) {
        if (!SESSION_KEYS.has(k)) throw invalidParam(`Param session[${k}] is not a valid parameter`);
      }
      if (!isInt(session.session_id)) throw invalidParam("Param session[session_id] must be an integer");
      if (session.batch_seq !== undefined && (!isInt(session.batch_seq) || Number(session.batch_seq) < 1)) {
        throw invalidParam("Param session[batch_seq] must be a positive integer");
      }
      if (session.last_batch_flag !== undefined && typeof session.last_batch_flag !== "boolean") {
        throw invalidParam("Param session[last_batch_flag] must be a boolean");
      }
      if (session.estimated_num_total !== undefined && !isInt(session.estimated_num_total)) {
        throw invalidParam("Param session[estimated_num_total] must be an integer");
      }
      sessionId = String(session.session_id);
      last = session.last_batch_flag !== false;
    } else {
      sessionId = String(BigInt(`0x${randomBytes(6).toString("hex")}`));
    }

    const samples: Record<string, string> = {};
    let invalid = 0;
    let matched = 0;
    for (const row of table) {
      const problem = rowProblem(schema as string[], row);
      if (problem) {
        invalid++;
        samples[problem[0]] = problem[1];
        continue;
      }
      const key = keyOfRow(schema as string[], row);
      if (method === "POST") rows.set(key, row);
      else rows.delete(key);
      const e = schema.indexOf("EMAIL");
      const p = schema.indexOf("PHONE");
      if ((e >= 0 && row[e] !== "") || (p >= 0 && row[p] !== "")) matched++;
    }
    const now = Math.floor(Date.now() / 1000);
    const s = sessions.get(sessionId) ?? {
      session_id: sessionId,
      num_received: 0,
      num_matched: 0,
      num_invalid_entries: 0,
      batches: 0,
      last_batch_flag: false,
      start_time: now,
      end_time: now,
    };
    s.num_received += table.length;
    s.num_matched += matched;
    s.num_invalid_entries += invalid;
    s.batches++;
    s.last_batch_flag = last;
    s.end_time = now;
    sessions.set(sessionId, s);
    return {
      audience_id: audienceId,
      session_id: sessionId,
      num_received: table.length,
      num_invalid_entries: invalid,
      invalid_entry_samples: samples,
    };
  }

  function sessionsRead(params: Record<string, unknown>): unknown {
    const wanted = params.session_id;
    const list = [...sessions.values()].filter(
      (s) => wanted === undefined || String(wanted) === s.session_id,
    );
    return {
      data: list.map((s) => ({
        session_id: s.session_id,
        num_received: String(s.num_received),
        num_matched: String(s.num_matched),
        num_invalid_entries: String(s.num_invalid_entries),
        // Stage names are not listed by the reference; these are the stand-in's.
        stage: s.last_batch_flag ? "finished" : "uploading",
        progress: s.last_batch_flag ? "100" : "0",
        start_time: String(s.start_time),
        end_time: String(s.end_time),
      })),
      paging: { cursors: { before: "", after: "" } },
    };
  }

  async function handle(req: IncomingMessage, tally: { rows: number }): Promise<unknown> {
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const text = await readBody(req);
    if (throttleNext > 0) {
      throttleNext--;
      throw throttled();
    }
    const params = paramsOf(url, req, text);
    const given = tokenOf(req, params);
    if (given === null)
      throw new GraphFailure(400, 104, "An access token is required to request this resource.");
    if (given !== token)
      throw new GraphFailure(400, 190, "Invalid OAuth access token - Cannot parse access token");
    const m = /^\/(v\d{1,3}\.\d{1,2})\/(\d{1,30})\/(users|sessions)\/?$/.exec(url.pathname);
    if (!m) throw new GraphFailure(400, 2500, `Unknown path components: ${url.pathname}`);
    if (m[2] !== audienceId) {
      throw new GraphFailure(
        400,
        100,
        `Unsupported ${method.toLowerCase()} request. Object with ID '${m[2]}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
        "GraphMethodException",
        33,
      );
    }
    const edge = m[3];
    const allowed = edge === "users" ? ["POST", "DELETE"] : ["GET"];
    if (!allowed.includes(method)) {
      throw new GraphFailure(
        400,
        100,
        `Unsupported request - method type: ${method.toLowerCase()}`,
        "GraphMethodException",
      );
    }
    const recorded = { ...params };
    delete recorded.access_token;
    bodies.push(recorded);
    if (edge === "sessions") {
      for (const k of Object.keys(params)) {
        if (!["access_token", "session_id", "fields", "limit", "after", "before"].includes(k)) {
          throw invalidParam(`Param ${k} is not a valid parameter`);
        }
      }
      return sessionsRead(params);
    }
    for (const k of Object.keys(params))
      if (!TOP_KEYS.has(k)) throw invalidParam(`Param ${k} is not a valid parameter`);
    return users(method, params, tally);
  }

  const server = createServer((req, res: ServerResponse) => {
    inFlight++;
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    const tally = { rows: 0 };
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      calls.push({ method: req.method ?? "GET", path, rows: tally.rows, status });
      res.writeHead(status, { "Content-Type": "application/json; charset=UTF-8", ...headers });
      res.end(JSON.stringify(body));
      inFlight--;
    };
    const over = opts.maxConcurrent !== undefined && inFlight > opts.maxConcurrent;
    if (over) violations.push(`${inFlight} requests in flight (limit ${opts.maxConcurrent})`);
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    const work = async () => {
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      if (over) throw throttled();
      return handle(req, tally);
    };
    work().then(
      (body) => answer(200, body),
      (e: unknown) => {
        if (e instanceof GraphFailure) {
          const error: Record<string, unknown> = { message: e.message, type: e.type, code: e.code };
          if (e.subcode !== null) error.error_subcode = e.subcode;
          if (e.code === 80003) error.is_transient = true;
          error.fbtrace_id = randomBytes(8).toString("base64url");
          const headers = { ...e.headers };
          if (e.code === 190 || e.code === 104) {
            headers["WWW-Authenticate"] = `OAuth "Facebook Platform" "invalid_token" "${e.message}"`;
          }
          answer(e.status, { error }, headers);
        } else {
          answer(500, {
            error: { message: "An unexpected error has occurred.", type: "OAuthException", code: 2 },
          });
        }
      },
    );
  });

  const state = { maxInFlight: 0 };
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    config: { access_token: token, audience_id: audienceId },
    token,
    audienceId,
    rows,
    sessions,
    bodies,
    get maxInFlight() {
      return state.maxInFlight;
    },
    keyOf: (email) => metaHash("email", email),
    audience: () => new Set(rows.keys()),
    subscribed: () => new Set<string>(),
    calls,
    violations,
    rateLimit(n) {
      throttleNext += n;
    },
    refuseEntry(value, reason = "invalid entry") {
      refused.set(value, reason);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
