/**
 * A Mailchimp Marketing API 3.0 stand-in: one audience with its members (and their
 * status) and static segments (tags), under `/3.0`, answering the documented shapes.
 *
 * - Auth: HTTP Basic, any user name, the API key as password; 401 "API Key Missing" /
 *   "API Key Invalid" problem bodies otherwise.
 * - Errors are RFC 7807 problem JSON (`type, title, status, detail, instance`), with an
 *   `errors: [{field, message}]` array for schema failures ("Invalid Resource").
 * - `POST /lists/{id}` (batch subscribe): at most 500 members; each needs
 *   `email_address` and `status`; with `update_existing` false an existing member is
 *   left alone and named in `errors` with `ERROR_CONTACT_EXISTS`; an unsubscribed or
 *   cleaned member cannot be set to subscribed ("compliance state").
 * - `POST /lists/{id}/segments/{sid}`: at most 500 emails in `members_to_add` and in
 *   `members_to_remove`; emails not in the audience are ignored (as documented).
 * - More than 10 requests in flight: 429 "Too Many Requests" (the per-key limit).
 *   Mailchimp's documentation shows no Retry-After on it, so none is sent unless
 *   `retryAfter` is given.
 * Not checked against the live service: exact wording of the messages, how
 * `member_count` treats non-subscribed members (here: subscribed and pending only,
 * unless the `include_*` query flags ask for more), and the 400 for a duplicate tag name.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { StandIn } from "./types.ts";

export type MemberStatus = "subscribed" | "unsubscribed" | "cleaned" | "pending" | "transactional";
const STATUSES = new Set<string>(["subscribed", "unsubscribed", "cleaned", "pending", "transactional"]);

export interface StandInMember {
  email: string;
  status: MemberStatus;
  merge_fields: Record<string, unknown>;
}

interface Segment {
  id: number;
  name: string;
  members: Set<string>;
  created_at: string;
}

export interface MailchimpStandInOptions {
  apiKey?: string;
  listId?: string;
  tag?: string;
  /** Milliseconds every answer is held back (to make concurrent calls overlap). */
  latencyMs?: number;
  /** A Retry-After value for the throttling answers of `rateLimit` (none by default). */
  retryAfter?: string;
}

export interface MailchimpStandIn extends StandIn {
  apiKey: string;
  listId: string;
  /** Puts a member in the audience as if it had been there before Slice. */
  seed(email: string, status: MemberStatus): void;
  member(email: string): StandInMember | undefined;
  /** Lower-cased emails carrying the tag named `name`. */
  tagged(name: string): Set<string>;
  segmentNames(): string[];
  /** Deletes a tag as a Mailchimp user could, behind Slice's back. */
  deleteTag(name: string): void;
  /** Existing members whose status a request changed to `subscribed` (Slice must never cause one). */
  raised: string[];
  /** Most requests that were in flight at once. */
  maxInFlight: number;
}

const MAX_BATCH = 500;
const MAX_CONNECTIONS = 10;
const ERROR_DOC = "https://mailchimp.com/developer/marketing/docs/errors/";
const SCHEMA_DETAIL =
  "The resource submitted could not be validated. For field-specific details, see the 'errors' array.";

class Problem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors?: { field: string; message: string }[],
  ) {
    super(detail);
  }
}

const invalid = (field: string, message: string) =>
  new Problem(400, "Invalid Resource", SCHEMA_DETAIL, [{ field, message }]);
const notFound = () => new Problem(404, "Resource Not Found", "The requested resource could not be found.");

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function onlyKeys(o: Record<string, unknown>, allowed: string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k))
      throw invalid(
        where ? `${where}.${k}` : k,
        `Schema describes object, additional property '${k}' not allowed`,
      );
  }
}

/** Contacts a request carries, for `calls` (refused requests included). */
function rowsOf(body: unknown): number {
  if (!isObject(body)) return 0;
  let n = 0;
  for (const f of ["members", "members_to_add", "members_to_remove"]) {
    const v = body[f];
    if (Array.isArray(v)) n += v.length;
  }
  return n;
}

const looksLikeEmail = (s: string) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s) && s.length <= 254;

export async function startMailchimpStandIn(opts: MailchimpStandInOptions = {}): Promise<MailchimpStandIn> {
  const apiKey = opts.apiKey ?? "0123456789abcdef0123456789abcdef-us99";
  const listId = opts.listId ?? "a1b2c3d4e5";
  const tag = opts.tag ?? "Slice segment";
  const members = new Map<string, StandInMember>();
  const segments = new Map<number, Segment>();
  let nextSegment = 1001;
  let throttled = 0;
  let inFlight = 0;

  const memberJson = (m: StandInMember) => ({
    id: randomUUID().replace(/-/g, ""),
    email_address: m.email,
    status: m.status,
    merge_fields: m.merge_fields,
    list_id: listId,
  });
  const segmentJson = (s: Segment, q: URLSearchParams) => {
    let count = 0;
    for (const e of s.members) {
      const st = members.get(e)?.status;
      if (
        st === "subscribed" ||
        st === "pending" ||
        (st === "transactional" && q.get("include_transactional") === "true") ||
        (st === "unsubscribed" && q.get("include_unsubscribed") === "true") ||
        (st === "cleaned" && q.get("include_cleaned") === "true")
      ) {
        count++;
      }
    }
    return {
      id: s.id,
      name: s.name,
      member_count: count,
      type: "static",
      created_at: s.created_at,
      updated_at: s.created_at,
      list_id: listId,
    };
  };

  const standIn: MailchimpStandIn = {
    url: "",
    config: { api_key: apiKey, list_id: listId, tag },
    apiKey,
    listId,
    keyOf: (email) => email.trim().toLowerCase(),
    audience() {
      return standIn.tagged(tag);
    },
    subscribed() {
      return new Set([...members].filter(([, m]) => m.status === "subscribed").map(([k]) => k));
    },
    calls: [],
    violations: [],
    raised: [],
    maxInFlight: 0,
    rateLimit(n) {
      throttled += n;
    },
    seed(email, status) {
      members.set(email.toLowerCase(), { email, status, merge_fields: {} });
    },
    member: (email) => members.get(email.toLowerCase()),
    tagged(name) {
      const s = [...segments.values()].find((x) => x.name.toLowerCase() === name.toLowerCase());
      return new Set(s ? s.members : []);
    },
    segmentNames: () => [...segments.values()].map((s) => s.name),
    deleteTag(name) {
      for (const [id, s] of segments) if (s.name === name) segments.delete(id);
    },
    close: async () => {},
  };

  function batchSubscribe(body: unknown, q: URLSearchParams): { rows: number; answer: unknown } {
    if (!isObject(body)) throw invalid("", "Schema describes object, NULL found instead");
    onlyKeys(body, ["members", "update_existing", "sync_tags"], "");
    if (!Array.isArray(body.members)) throw invalid("members", "Schema describes array, NULL found instead");
    const list = body.members;
    if (list.length > MAX_BATCH) {
      standIn.violations.push(`POST /lists/${listId}: ${list.length} members (at most ${MAX_BATCH})`);
      throw invalid(
        "members",
        `Schema describes array with at most ${MAX_BATCH} items, ${list.length} found`,
      );
    }
    if (body.update_existing !== undefined && typeof body.update_existing !== "boolean") {
      throw invalid("update_existing", "Schema describes boolean");
    }
    list.forEach((m, i) => {
      if (!isObject(m)) throw invalid(`members.item:${i}`, "Schema describes object");
      onlyKeys(
        m,
        [
          "email_address",
          "email_type",
          "status",
          "status_if_new",
          "merge_fields",
          "interests",
          "language",
          "vip",
          "location",
          "ip_signup",
          "timestamp_signup",
          "ip_opt",
          "timestamp_opt",
          "tags",
        ],
        `members.item:${i}`,
      );
      if (typeof m.email_address !== "string")
        throw invalid(`members.item:${i}.email_address`, "Schema describes string, NULL found instead");
      if (typeof m.status !== "string" || !STATUSES.has(m.status))
        throw invalid(`members.item:${i}.status`, "Schema describes enum, value not allowed");
      if (m.merge_fields !== undefined && !isObject(m.merge_fields))
        throw invalid(`members.item:${i}.merge_fields`, "Schema describes object");
    });
    const update = body.update_existing === true;
    const skipDup = q.get("skip_duplicate_check") === "true";
    const seen = new Set<string>();
    const created: unknown[] = [];
    const updated: unknown[] = [];
    const errors: {
      email_address: string;
      error: string;
      error_code: string;
      field: string;
      field_message: string;
    }[] = [];
    const fail = (email: string, error: string, code = "ERROR_GENERIC") =>
      errors.push({ email_address: email, error, error_code: code, field: "", field_message: "" });
    for (const raw of list as Record<string, unknown>[]) {
      const email = String(raw.email_address);
      const key = email.toLowerCase();
      const status = raw.status as MemberStatus;
      const merge = isObject(raw.merge_fields) ? raw.merge_fields : {};
      if (!looksLikeEmail(email)) {
        fail(email, "Please provide a valid email address.");
        continue;
      }
      if (seen.has(key)) {
        if (!skipDup) fail(email, `${email} is a duplicate in this request.`);
        continue;
      }
      seen.add(key);
      const existing = members.get(key);
      if (!existing) {
        const m: StandInMember = { email, status, merge_fields: { ...merge } };
        members.set(key, m);
        created.push(memberJson(m));
        continue;
      }
      if (!update) {
        fail(
          email,
          `${email} is already a list member. Use PUT to insert or update list members.`,
          "ERROR_CONTACT_EXISTS",
        );
        continue;
      }
      if (status === "subscribed" && (existing.status === "unsubscribed" || existing.status === "cleaned")) {
        fail(
          email,
          `${email} is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed.`,
        );
        continue;
      }
      if (status === "subscribed" && existing.status !== "subscribed") standIn.raised.push(key);
      existing.status = status;
      Object.assign(existing.merge_fields, merge);
      updated.push(memberJson(existing));
    }
    return {
      rows: list.length,
      answer: {
        new_members: created,
        updated_members: updated,
        errors,
        total_created: created.length,
        total_updated: updated.length,
        error_count: errors.length,
        _links: [],
      },
    };
  }

  function segmentMembers(seg: Segment, body: unknown): { rows: number; answer: unknown } {
    if (!isObject(body)) throw invalid("", "Schema describes object, NULL found instead");
    onlyKeys(body, ["members_to_add", "members_to_remove"], "");
    let rows = 0;
    for (const f of ["members_to_add", "members_to_remove"] as const) {
      const v = body[f];
      if (v === undefined) continue;
      if (!Array.isArray(v) || v.some((x) => typeof x !== "string"))
        throw invalid(f, "Schema describes array of strings");
      rows += v.length;
      if (v.length > MAX_BATCH) {
        standIn.violations.push(
          `POST /lists/${listId}/segments/${seg.id}: ${v.length} ${f} (at most ${MAX_BATCH})`,
        );
        throw invalid(f, `Schema describes array with at most ${MAX_BATCH} items, ${v.length} found`);
      }
    }
    const added: unknown[] = [];
    const removed: unknown[] = [];
    for (const e of (body.members_to_add as string[] | undefined) ?? []) {
      const m = members.get(e.toLowerCase());
      if (!m || seg.members.has(e.toLowerCase())) continue;
      seg.members.add(e.toLowerCase());
      added.push(memberJson(m));
    }
    for (const e of (body.members_to_remove as string[] | undefined) ?? []) {
      const m = members.get(e.toLowerCase());
      if (!m || !seg.members.delete(e.toLowerCase())) continue;
      removed.push(memberJson(m));
    }
    return {
      rows,
      answer: {
        members_added: added,
        members_removed: removed,
        errors: [],
        total_added: added.length,
        total_removed: removed.length,
        error_count: 0,
        _links: [],
      },
    };
  }

  function route(
    method: string,
    path: string,
    q: URLSearchParams,
    body: unknown,
  ): { rows: number; answer: unknown } {
    const parts = path.split("/").filter(Boolean);
    if (parts[0] !== "3.0" || parts[1] !== "lists" || parts.length < 3) throw notFound();
    if (parts[2] !== listId) throw notFound();
    if (parts.length === 3 && method === "POST") return batchSubscribe(body, q);
    if (parts[3] !== "segments") throw notFound();
    if (parts.length === 4 && method === "GET") {
      const type = q.get("type");
      // Every segment here is static (tags): another type lists nothing.
      const all = !type || type === "static" ? [...segments.values()] : [];
      const count = Math.min(1000, Number(q.get("count") ?? "10") || 10);
      const offset = Number(q.get("offset") ?? "0") || 0;
      return {
        rows: 0,
        answer: {
          segments: all.slice(offset, offset + count).map((s) => segmentJson(s, q)),
          list_id: listId,
          total_items: all.length,
          _links: [],
        },
      };
    }
    if (parts.length === 4 && method === "POST") {
      if (!isObject(body)) throw invalid("", "Schema describes object, NULL found instead");
      onlyKeys(body, ["name", "static_segment", "options"], "");
      if (typeof body.name !== "string" || body.name === "")
        throw invalid("name", "Schema describes string, NULL found instead");
      if (body.static_segment !== undefined && !Array.isArray(body.static_segment))
        throw invalid("static_segment", "Schema describes array");
      const name = body.name;
      if ([...segments.values()].some((s) => s.name.toLowerCase() === name.toLowerCase())) {
        throw new Problem(400, "Invalid Resource", `A tag or segment named "${name}" already exists.`);
      }
      const seg: Segment = {
        id: nextSegment++,
        name,
        members: new Set(),
        created_at: new Date().toISOString(),
      };
      for (const e of (body.static_segment as unknown[] | undefined) ?? [])
        if (typeof e === "string" && members.has(e.toLowerCase())) seg.members.add(e.toLowerCase());
      segments.set(seg.id, seg);
      return { rows: 0, answer: segmentJson(seg, q) };
    }
    const seg = parts.length === 5 ? segments.get(Number(parts[4])) : undefined;
    if (!seg) throw notFound();
    if (method === "GET") return { rows: 0, answer: segmentJson(seg, q) };
    if (method === "POST") return segmentMembers(seg, body);
    throw new Problem(405, "Method Not Allowed", "The requested method and resource are not compatible.");
  }

  function authProblem(req: IncomingMessage): Problem | null {
    const h = req.headers.authorization;
    if (!h) return new Problem(401, "API Key Missing", "Your request did not include an API key.");
    const m = /^Basic\s+(.+)$/i.exec(h);
    const decoded = m ? Buffer.from(m[1]!, "base64").toString("utf8") : "";
    const password = decoded.includes(":") ? decoded.slice(decoded.indexOf(":") + 1) : "";
    if (password !== apiKey) {
      return new Problem(
        401,
        "API Key Invalid",
        "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
      );
    }
    return null;
  }

  function send(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    const problem = status >= 400;
    res.writeHead(status, {
      "Content-Type": problem ? "application/problem+json; charset=utf-8" : "application/json; charset=utf-8",
      ...headers,
    });
    res.end(JSON.stringify(body));
  }

  const problemBody = (p: Problem) => ({
    type: ERROR_DOC,
    title: p.title,
    status: p.status,
    detail: p.detail,
    instance: randomUUID(),
    ...(p.errors ? { errors: p.errors } : {}),
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://stand-in");
    const method = req.method ?? "GET";
    const record = (status: number, rows: number) =>
      standIn.calls.push({ method, path: url.pathname, rows, status });
    inFlight++;
    standIn.maxInFlight = Math.max(standIn.maxInFlight, inFlight);
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      if (opts.latencyMs) await new Promise((r) => setTimeout(r, opts.latencyMs));
      if (inFlight > MAX_CONNECTIONS) {
        standIn.violations.push(`${inFlight} requests in flight (at most ${MAX_CONNECTIONS})`);
        record(429, 0);
        return send(
          res,
          429,
          problemBody(
            new Problem(
              429,
              "Too Many Requests",
              `You have exceeded the limit of ${MAX_CONNECTIONS} simultaneous connections.`,
            ),
          ),
        );
      }
      if (throttled > 0) {
        throttled--;
        record(429, 0);
        const p = new Problem(
          429,
          "Too Many Requests",
          `You have exceeded the limit of ${MAX_CONNECTIONS} simultaneous connections.`,
        );
        return send(res, 429, problemBody(p), opts.retryAfter ? { "Retry-After": opts.retryAfter } : {});
      }
      const auth = authProblem(req);
      if (auth) {
        record(auth.status, 0);
        return send(res, auth.status, problemBody(auth));
      }
      let body: unknown;
      const raw = Buffer.concat(chunks).toString("utf8");
      if (raw !== "") {
        try {
          body = JSON.parse(raw);
        } catch {
          record(400, 0);
          return send(
            res,
            400,
            problemBody(
              new Problem(400, "JSON Parse Error", "We encountered an unspecified JSON parsing error."),
            ),
          );
        }
      }
      try {
        const { rows, answer } = route(method, url.pathname, url.searchParams, body);
        record(200, rows);
        send(res, 200, answer);
      } catch (e) {
        if (!(e instanceof Problem)) throw e;
        record(e.status, rowsOf(body));
        send(res, e.status, problemBody(e));
      }
    } finally {
      inFlight--;
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      send(res, 500, {
        type: ERROR_DOC,
        title: "Internal Server Error",
        status: 500,
        detail: String(e),
        instance: randomUUID(),
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  standIn.url = `http://127.0.0.1:${port}/3.0`;
  standIn.close = () =>
    new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((e) => (e ? reject(e) : resolve()));
    });
  return standIn;
}
