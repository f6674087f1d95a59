/**
 * A Kit API v4 stand-in, written from Kit's reference (developers.kit.com/api-reference):
 * the `/v4` paths the Kit connector uses, with Kit's authentication (`X-Kit-Api-Key` or
 * `Authorization: Bearer`, and bulk endpoints refused to API keys), answer shapes
 * (`{subscriber}`, `{subscribers, failures}`, `{tag}`, errors as `{errors: [...]}`),
 * the synchronous bulk maximum (100: Kit answers 202 `{}` and works asynchronously
 * above it, which this stand-in records as a violation and does not process) and the
 * rolling rate budget (120 requests per 60 s per API key, 600 per OAuth token; 429 with
 * the plain-text body "Retry later" and no Retry-After).
 *
 * Not in Kit's reference, chosen here: the 401 wording for an API key on a bulk
 * endpoint; unknown body fields refused with 422 (Kit may ignore them: this stand-in is
 * stricter on purpose); an invalid `state` refused with 422; tag names matched without
 * regard to case; an existing subscriber's state left unchanged by the bulk create as
 * the single create documents.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { StandIn } from "./types.ts";

export type KitState = "active" | "inactive" | "cancelled" | "bounced" | "complained";
const STATES: readonly string[] = ["active", "inactive", "cancelled", "bounced", "complained"];

interface Subscriber {
  id: number;
  email: string;
  first_name: string | null;
  state: KitState;
  created_at: string;
}

interface Tag {
  id: number;
  name: string;
  created_at: string;
  /** subscriber id → tagged_at */
  members: Map<number, string>;
}

export interface KitStandInOptions {
  /** The credential `config` carries (default `oauth`, so that bulk endpoints are used). */
  auth?: "oauth" | "api_key";
  /** Requests allowed per window and credential kind (Kit: 120 / 600 per 60 s). */
  rate?: { api_key: number; oauth: number; windowMs: number };
}

export interface KitStandIn extends StandIn {
  apiKey: string;
  accessToken: string;
  /** The tag `config.tag_id` names. */
  tagId: number;
  /** An existing Kit subscriber (not tagged), as if made in Kit beforehand. */
  seed(email: string, state: KitState, firstName?: string): number;
  stateOf(email: string): KitState | undefined;
  firstNameOf(email: string): string | null | undefined;
  /** Emails carrying the tag of that name, if it exists. */
  membersOfTag(name: string): Set<string> | undefined;
  tagNames(): string[];
  /** Sends one request as a client would (to check refusals directly). */
  request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: unknown; headers: Headers }>;
}

const BULK_MAX = 100;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
  ) {
    super(errors.join("; "));
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function onlyKeys(v: Record<string, unknown>, allowed: string[], where: string): void {
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) throw new HttpError(422, [`${where}: unknown parameter ${k}`]);
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, ["Request body is not valid JSON"]);
  }
}

export async function startKitStandIn(opts: KitStandInOptions = {}): Promise<KitStandIn> {
  const apiKey = "kit_standin_api_key_0123456789";
  const accessToken = "kit_standin_oauth_token_abcdef";
  const rate = opts.rate ?? { api_key: 120, oauth: 600, windowMs: 60_000 };
  const now = () => new Date().toISOString();
  let nextId = 1000;
  const subscribers = new Map<number, Subscriber>();
  const byEmail = new Map<string, Subscriber>();
  const tags = new Map<number, Tag>();
  const defaultTag: Tag = { id: 4242, name: "Slice segment", created_at: now(), members: new Map() };
  tags.set(defaultTag.id, defaultTag);

  const calls: StandIn["calls"] = [];
  const violations: string[] = [];
  const arrivals: Record<"api_key" | "oauth", number[]> = { api_key: [], oauth: [] };
  let throttleNext = 0;

  const keyOf = (email: string) => email.trim().toLowerCase();

  function upsert(
    email: string,
    firstName: string | null | undefined,
    state: unknown,
  ): [Subscriber, boolean] {
    if (state !== undefined && state !== null && !STATES.includes(state as string)) {
      throw new HttpError(422, ["State is not included in the list"]);
    }
    const existing = byEmail.get(keyOf(email));
    if (existing) {
      if (typeof firstName === "string") existing.first_name = firstName;
      return [existing, false];
    }
    const sub: Subscriber = {
      id: nextId++,
      email: email.trim(),
      first_name: firstName ?? null,
      state: (state as KitState | null | undefined) ?? "active",
      created_at: now(),
    };
    subscribers.set(sub.id, sub);
    byEmail.set(keyOf(sub.email), sub);
    return [sub, true];
  }

  const view = (s: Subscriber) => ({
    id: s.id,
    first_name: s.first_name,
    email_address: s.email,
    state: s.state,
    created_at: s.created_at,
  });

  const tagView = (t: Tag) => ({ id: t.id, name: t.name, created_at: t.created_at });

  function tagOf(id: string): Tag {
    const t = tags.get(Number(id));
    if (!t) throw new HttpError(404, ["Not Found"]);
    return t;
  }

  function subscriberOf(id: string): Subscriber {
    const s = subscribers.get(Number(id));
    if (!s) throw new HttpError(404, ["Not Found"]);
    return s;
  }

  function bulkList(body: unknown, key: string, empty: string): Record<string, unknown>[] | null {
    if (!isRecord(body)) throw new HttpError(422, [empty]);
    onlyKeys(body, [key, "callback_url"], "body");
    const list = body[key];
    if (!Array.isArray(list) || list.length === 0) throw new HttpError(422, [empty]);
    if (list.length > BULK_MAX) {
      violations.push(`POST /v4/bulk/${key}: ${list.length} items, synchronous maximum ${BULK_MAX}`);
      return null;
    }
    return list.map((item) => {
      if (!isRecord(item)) throw new HttpError(422, [`${key}: each item must be an object`]);
      return item;
    });
  }

  type Answer = { status: number; body?: unknown; rows: number };

  function route(method: string, path: string, query: URLSearchParams, body: unknown, auth: string): Answer {
    let m: RegExpMatchArray | null;
    if (method === "POST" && path === "/v4/bulk/subscribers") {
      if (auth !== "oauth") throw new HttpError(401, ["This endpoint requires OAuth authentication"]);
      const list = bulkList(body, "subscribers", "No subscribers included for processing");
      if (list === null)
        return { status: 202, body: {}, rows: (body as { subscribers: unknown[] }).subscribers.length };
      const done: ReturnType<typeof view>[] = [];
      const failures: unknown[] = [];
      for (const item of list) {
        onlyKeys(item, ["first_name", "email_address", "state"], "subscribers");
        const email = item.email_address;
        if (typeof email !== "string" || !EMAIL.test(email.trim())) {
          const state = typeof item.state === "string" ? item.state : "active";
          failures.push({
            subscriber: { first_name: item.first_name ?? null, email_address: null, state, created_at: null },
            errors: ["Email address is invalid"],
          });
          continue;
        }
        const first = typeof item.first_name === "string" ? item.first_name : undefined;
        done.push(view(upsert(email, first, item.state)[0]));
      }
      return { status: 200, body: { subscribers: done, failures }, rows: list.length };
    }
    if (method === "POST" && path === "/v4/bulk/tags/subscribers") {
      if (auth !== "oauth") throw new HttpError(401, ["This endpoint requires OAuth authentication"]);
      const list = bulkList(body, "taggings", "No taggings included for processing");
      if (list === null)
        return { status: 202, body: {}, rows: (body as { taggings: unknown[] }).taggings.length };
      const done: unknown[] = [];
      const failures: unknown[] = [];
      for (const item of list) {
        onlyKeys(item, ["tag_id", "subscriber_id"], "taggings");
        if (!("tag_id" in item) || !("subscriber_id" in item)) {
          throw new HttpError(422, ["taggings: tag_id and subscriber_id are required"]);
        }
        const tag = tags.get(Number(item.tag_id));
        const sub = subscribers.get(Number(item.subscriber_id));
        if (!sub) {
          failures.push({
            errors: ["Subscriber does not exist"],
            tagging: { tag_id: item.tag_id, subscriber_id: null },
          });
        } else if (!tag) {
          failures.push({ errors: ["Tag does not exist"], tagging: { tag_id: null, subscriber_id: sub.id } });
        } else {
          if (!tag.members.has(sub.id)) tag.members.set(sub.id, now());
          const { state: _state, ...rest } = view(sub);
          done.push({ ...rest, tagged_at: tag.members.get(sub.id) });
        }
      }
      return { status: 200, body: { subscribers: done, failures }, rows: list.length };
    }
    if (method === "POST" && path === "/v4/subscribers") {
      if (!isRecord(body)) throw new HttpError(422, ["Email address is invalid"]);
      onlyKeys(body, ["first_name", "email_address", "state", "fields"], "body");
      const email = body.email_address;
      if (typeof email !== "string" || !EMAIL.test(email.trim()))
        throw new HttpError(422, ["Email address is invalid"]);
      const first = typeof body.first_name === "string" ? body.first_name : undefined;
      const [sub, made] = upsert(email, first, body.state);
      return { status: made ? 201 : 200, body: { subscriber: { ...view(sub), fields: {} } }, rows: 1 };
    }
    if (method === "GET" && path === "/v4/tags") {
      const list = [...tags.values()].map(tagView);
      const pagination = {
        has_previous_page: false,
        has_next_page: false,
        start_cursor: null,
        end_cursor: null,
      };
      return { status: 200, body: { tags: list, pagination: { ...pagination, per_page: 500 } }, rows: 0 };
    }
    if (method === "POST" && path === "/v4/tags") {
      if (!isRecord(body)) throw new HttpError(422, ["Name can't be blank"]);
      onlyKeys(body, ["name"], "body");
      const name = typeof body.name === "string" ? body.name.trim() : "";
      if (name === "") throw new HttpError(422, ["Name can't be blank"]);
      const found = [...tags.values()].find((t) => t.name.toLowerCase() === name.toLowerCase());
      if (found) return { status: 200, body: { tag: tagView(found) }, rows: 0 };
      const tag: Tag = { id: nextId++, name, created_at: now(), members: new Map() };
      tags.set(tag.id, tag);
      return { status: 201, body: { tag: tagView(tag) }, rows: 0 };
    }
    m = path.match(/^\/v4\/tags\/(\d+)\/subscribers\/(\d+)$/);
    if (m && method === "POST") {
      if (body !== undefined && !isRecord(body)) throw new HttpError(422, ["Body must be an object"]);
      if (isRecord(body)) onlyKeys(body, [], "body");
      const tag = tagOf(m[1]);
      const sub = subscriberOf(m[2]);
      const had = tag.members.has(sub.id);
      if (!had) tag.members.set(sub.id, now());
      const answer = { subscriber: { ...view(sub), tagged_at: tag.members.get(sub.id), fields: {} } };
      return { status: had ? 200 : 201, body: answer, rows: 1 };
    }
    if (m && method === "DELETE") {
      const tag = tagOf(m[1]);
      const sub = subscriberOf(m[2]);
      tag.members.delete(sub.id);
      return { status: 204, rows: 1 };
    }
    m = path.match(/^\/v4\/tags\/(\d+)\/subscribers$/);
    if (m && method === "GET") {
      const tag = tagOf(m[1]);
      const status = query.get("status") ?? "active";
      const list = [...tag.members.keys()]
        .map((id) => subscribers.get(id)!)
        .filter((s) => status === "all" || s.state === status);
      const perPage = Math.min(1000, Number(query.get("per_page") ?? 500) || 500);
      const pagination: Record<string, unknown> = {
        has_previous_page: false,
        has_next_page: list.length > perPage,
        start_cursor: null,
        end_cursor: null,
        per_page: perPage,
      };
      if (query.get("include_total_count") === "true") pagination.total_count = list.length;
      const page = list
        .slice(0, perPage)
        .map((s) => ({ ...view(s), tagged_at: tag.members.get(s.id), fields: {} }));
      return { status: 200, body: { subscribers: page, pagination }, rows: 0 };
    }
    throw new HttpError(404, ["Not Found"]);
  }

  /** Which credential kind the request carries, or null when it carries none the stand-in accepts. */
  function authOf(req: IncomingMessage): "api_key" | "oauth" | null {
    const key = req.headers["x-kit-api-key"];
    if (typeof key === "string") return key === apiKey ? "api_key" : null;
    const authz = req.headers.authorization;
    if (typeof authz === "string" && authz.startsWith("Bearer ")) {
      return authz.slice(7) === accessToken ? "oauth" : null;
    }
    return null;
  }

  function overBudget(kind: "api_key" | "oauth"): boolean {
    const t = Date.now();
    const list = arrivals[kind];
    while (list.length > 0 && list[0] <= t - rate.windowMs) list.shift();
    list.push(t);
    return list.length > rate[kind];
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://standin");
    const method = req.method ?? "GET";
    const send = (status: number, body: unknown, rows: number) => {
      calls.push({ method, path: url.pathname, rows, status });
      if (status === 429) {
        res.writeHead(429, { "Content-Type": "text/plain" }).end("Retry later");
      } else if (body === undefined) {
        res.writeHead(status).end();
      } else {
        res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
      }
    };
    let body: unknown;
    try {
      body = await readJson(req);
    } catch (e) {
      const err = e as HttpError;
      send(err.status, { errors: err.errors }, 0);
      return;
    }
    if (throttleNext > 0) {
      throttleNext--;
      send(429, null, 0);
      return;
    }
    const auth = authOf(req);
    if (auth === null) {
      send(401, { errors: ["The access token is invalid"] }, 0);
      return;
    }
    if (overBudget(auth)) {
      violations.push(
        `${method} ${url.pathname}: over ${rate[auth]} requests in ${rate.windowMs} ms (${auth})`,
      );
      send(429, null, 0);
      return;
    }
    try {
      const answer = route(method, url.pathname, url.searchParams, body, auth);
      send(answer.status, answer.body, answer.rows);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      send(e.status, { errors: e.errors }, 0);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      res.writeHead(500, { "Content-Type": "application/json" }).end(JSON.stringify({ errors: [String(e)] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const url = `${base}/v4`;
  const credential = (opts.auth ?? "oauth") === "oauth" ? { access_token: accessToken } : { api_key: apiKey };

  const membersOf = (tag: Tag) =>
    new Set([...tag.members.keys()].map((id) => keyOf(subscribers.get(id)!.email)));

  return {
    url,
    config: { ...credential, tag_id: defaultTag.id },
    apiKey,
    accessToken,
    tagId: defaultTag.id,
    keyOf,
    audience: () => membersOf(defaultTag),
    subscribed: () =>
      new Set([...subscribers.values()].filter((s) => s.state === "active").map((s) => keyOf(s.email))),
    calls,
    violations,
    rateLimit(n: number) {
      throttleNext += n;
    },
    seed(email, state, firstName) {
      const [sub, made] = upsert(email, firstName ?? null, state);
      if (!made) sub.state = state;
      return sub.id;
    },
    stateOf: (email) => byEmail.get(keyOf(email))?.state,
    firstNameOf: (email) => byEmail.get(keyOf(email))?.first_name,
    membersOfTag(name) {
      const tag = [...tags.values()].find((t) => t.name.toLowerCase() === name.toLowerCase());
      return tag ? membersOf(tag) : undefined;
    },
    tagNames: () => [...tags.values()].map((t) => t.name),
    async request(method, path, body, headers) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { ...(body !== undefined ? { "Content-Type": "application/json" } : {}), ...headers },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : "";
      } catch {
        // plain text answers (429 "Retry later") stay text
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
