/**
 * A stand-in for Brevo API v3, written from its reference: `api-key` header auth (401
 * `{code: "unauthorized", message: "Key not found"}`), list add / remove of existing
 * contacts by email (150 a call; `{contacts: {success, failure}}`, or a 400
 * "Contact already in list and/or does not exist" when none moved), the asynchronous
 * contact import (`202 {processId}`, done after `importDelayMs`, its invalid addresses
 * listed in a CSV report behind `info.import.invalid_emails`), process and list reads.
 * Throttling answers 429 with `x-sib-ratelimit-*` headers and no Retry-After.
 *
 * Not checked against the real service: the exact error words for an oversize list call
 * (the reference gives the 150 maximum, not the answer), the 429 body, and how the real
 * import treats `emailBlacklist: false` for a blocklisted contact (here: left as it is).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { StandIn } from "./types.ts";

export interface BrevoContact {
  email: string;
  blacklisted: boolean;
  lists: Set<number>;
  attributes: Record<string, unknown>;
}

interface Process {
  id: number;
  status: "queued" | "in_process" | "completed";
  invalid: string[];
}

export interface BrevoStandIn extends StandIn {
  /** Every contact the account holds, by lower-cased email. */
  contacts: Map<string, BrevoContact>;
  /** Puts a contact in the account beforehand (in the list unless `inList: false`). */
  seed(email: string, opts?: { blacklisted?: boolean; inList?: boolean }): void;
  /** Keys of the list's members that are blocklisted for email. */
  blocklisted(): Set<string>;
  /** The bodies of the imports received, in order. */
  imports: Record<string, unknown>[];
}

export interface BrevoStandInOptions {
  apiKey?: string;
  listId?: number;
  /** How long an import stays queued before it is applied (default 30 ms). */
  importDelayMs?: number;
  /** Requests under /v3/contacts in flight at once before it answers 429 (default 10, the documented per-second rate). */
  maxInFlight?: number;
}

const MAX_EMAILS = 150;
const IMPORT_KEYS = new Set([
  "disableNotification",
  "emailBlacklist",
  "emptyContactsAttributes",
  "fileBody",
  "fileUrl",
  "jsonBody",
  "listIds",
  "consentGroupIds",
  "newList",
  "notifyUrl",
  "smsBlacklist",
  "updateExistingContacts",
]);
const IMPORT_FLAGS = [
  "disableNotification",
  "emailBlacklist",
  "emptyContactsAttributes",
  "smsBlacklist",
  "updateExistingContacts",
];

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const validEmail = (s: string) => /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/.test(s);

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function objectBody(text: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Refusal(400, "bad_request", "Request body is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new Refusal(400, "invalid_parameter", "Request body must be an object");
  }
  return body as Record<string, unknown>;
}

function emailsOf(body: Record<string, unknown>, allowed: string[]): string[] {
  for (const k of Object.keys(body)) {
    if (!allowed.includes(k)) throw new Refusal(400, "invalid_parameter", `${k} is not a valid parameter`);
  }
  const e = body.emails;
  if (e === undefined) throw new Refusal(400, "missing_parameter", "emails is missing");
  if (!Array.isArray(e) || e.length === 0 || e.some((x) => typeof x !== "string")) {
    throw new Refusal(400, "invalid_parameter", "emails must be a non-empty array of strings");
  }
  return e as string[];
}

export async function startBrevoStandIn(opts: BrevoStandInOptions = {}): Promise<BrevoStandIn> {
  const apiKey = opts.apiKey ?? "xkeysib-standin-0123456789abcdef";
  const listId = opts.listId ?? 7;
  const importDelayMs = opts.importDelayMs ?? 30;
  const maxInFlight = opts.maxInFlight ?? 10;
  const contacts = new Map<string, BrevoContact>();
  const processes = new Map<number, Process>();
  const timers = new Set<NodeJS.Timeout>();
  const calls: StandIn["calls"] = [];
  const violations: string[] = [];
  const imports: Record<string, unknown>[] = [];
  let limited = 0;
  let inFlight = 0;
  let nextProcess = 100;
  let base = "";

  const listOr404 = (raw: string): number => {
    if (Number(raw) !== listId) throw new Refusal(404, "document_not_found", "List ID does not exist");
    return listId;
  };

  function listAdd(id: number, body: Record<string, unknown>): [number, unknown, number] {
    const emails = emailsOf(body, ["emails", "ids", "extIds"]);
    if (emails.length > MAX_EMAILS) {
      violations.push(`list add with ${emails.length} emails (max ${MAX_EMAILS})`);
      throw new Refusal(
        400,
        "invalid_parameter",
        `You can pass a maximum of ${MAX_EMAILS} emails in one request`,
      );
    }
    const success: string[] = [];
    const failure: string[] = [];
    for (const e of emails) {
      const c = contacts.get(e.toLowerCase());
      if (c && !c.lists.has(id)) {
        c.lists.add(id);
        success.push(e);
      } else failure.push(e);
    }
    if (success.length === 0) {
      throw new Refusal(400, "invalid_parameter", "Contact already in list and/or does not exist");
    }
    return [201, { contacts: { success, failure } }, emails.length];
  }

  function listRemove(id: number, body: Record<string, unknown>): [number, unknown, number] {
    const emails = emailsOf(body, ["emails", "ids", "extIds", "all"]);
    if (emails.length > MAX_EMAILS) {
      violations.push(`list remove with ${emails.length} emails (max ${MAX_EMAILS})`);
      throw new Refusal(
        400,
        "invalid_parameter",
        `You can pass a maximum of ${MAX_EMAILS} emails in one request`,
      );
    }
    const success: string[] = [];
    const failure: string[] = [];
    for (const e of emails) {
      const c = contacts.get(e.toLowerCase());
      if (c?.lists.delete(id)) success.push(e);
      else failure.push(e);
    }
    if (success.length === 0) {
      throw new Refusal(400, "invalid_parameter", "Contact already removed from list and/or does not exist");
    }
    return [201, { contacts: { success, failure } }, emails.length];
  }

  function applyImport(p: Process, body: Record<string, unknown>): void {
    const rows = body.jsonBody as { email?: string; attributes?: Record<string, unknown> }[];
    const lists = body.listIds as number[];
    const update = body.updateExistingContacts !== false;
    for (const r of rows) {
      const email = (r.email ?? "").trim().toLowerCase();
      if (!validEmail(email)) {
        p.invalid.push(r.email ?? "");
        continue;
      }
      const c = contacts.get(email);
      if (!c) {
        contacts.set(email, {
          email,
          blacklisted: body.emailBlacklist === true,
          lists: new Set(lists),
          attributes: { ...r.attributes },
        });
      } else if (update) {
        for (const l of lists) c.lists.add(l);
        Object.assign(c.attributes, r.attributes);
        if (body.emailBlacklist === true) c.blacklisted = true;
      }
    }
    p.status = "completed";
  }

  function startImport(body: Record<string, unknown>): [number, unknown, number] {
    for (const k of Object.keys(body)) {
      if (!IMPORT_KEYS.has(k)) throw new Refusal(400, "invalid_parameter", `${k} is not a valid parameter`);
    }
    for (const k of IMPORT_FLAGS) {
      if (body[k] !== undefined && typeof body[k] !== "boolean") {
        throw new Refusal(400, "invalid_parameter", `${k} must be a boolean`);
      }
    }
    if (body.fileBody !== undefined || body.fileUrl !== undefined || body.newList !== undefined) {
      throw new Refusal(400, "invalid_parameter", "this stand-in takes jsonBody and listIds only");
    }
    const rows = body.jsonBody;
    if (!Array.isArray(rows) || rows.length === 0) {
      throw new Refusal(400, "missing_parameter", "fileUrl, fileBody or jsonBody is mandatory");
    }
    for (const r of rows) {
      const ok =
        typeof r === "object" &&
        r !== null &&
        Object.keys(r).every((k) => k === "email" || k === "attributes") &&
        typeof r.email === "string" &&
        (r.attributes === undefined || (typeof r.attributes === "object" && r.attributes !== null));
      if (!ok) throw new Refusal(400, "invalid_parameter", "jsonBody items are {email, attributes?}");
    }
    const lists = body.listIds;
    if (!Array.isArray(lists) || lists.length === 0) {
      throw new Refusal(400, "missing_parameter", "listIds is mandatory if newList is not defined");
    }
    for (const l of lists) listOr404(String(l));
    imports.push(body);
    const p: Process = { id: nextProcess++, status: "queued", invalid: [] };
    processes.set(p.id, p);
    const t = setTimeout(() => {
      timers.delete(t);
      applyImport(p, body);
    }, importDelayMs);
    timers.add(t);
    return [202, { processId: p.id }, rows.length];
  }

  function processView(raw: string): [number, unknown, number] {
    const p = processes.get(Number(raw));
    if (!p) throw new Refusal(404, "document_not_found", "Process does not exist");
    if (p.status === "queued") p.status = "in_process";
    const view: Record<string, unknown> = { id: p.id, name: "IMPORTUSER", status: p.status };
    if (p.status === "completed") {
      view.info = {
        import: {
          invalid_emails: p.invalid.length > 0 ? `${base}/reports/${p.id}/invalid_emails.csv` : null,
          duplicate_contact_id: null,
          duplicate_ext_id: null,
          duplicate_email_id: null,
        },
      };
    }
    return [200, view, 0];
  }

  function listView(id: number): [number, unknown, number] {
    const members = [...contacts.values()].filter((c) => c.lists.has(id));
    return [
      200,
      {
        id,
        name: "Slice stand-in list",
        totalBlacklisted: members.filter((c) => c.blacklisted).length,
        totalSubscribers: members.length,
        uniqueSubscribers: members.length,
        createdAt: "2024-01-01T00:00:00.000Z",
        folderId: 1,
        dynamicList: false,
      },
      0,
    ];
  }

  async function route(req: IncomingMessage, path: string): Promise<[number, unknown, number]> {
    const method = req.method ?? "GET";
    const text = method === "POST" ? await readBody(req) : "";
    let m = /^\/v3\/contacts\/lists\/([^/]+)\/contacts\/(add|remove)$/.exec(path);
    if (m && method === "POST") {
      const id = listOr404(m[1]);
      return m[2] === "add" ? listAdd(id, objectBody(text)) : listRemove(id, objectBody(text));
    }
    m = /^\/v3\/contacts\/lists\/([^/]+)$/.exec(path);
    if (m && method === "GET") return listView(listOr404(m[1]));
    if (path === "/v3/contacts/import" && method === "POST") return startImport(objectBody(text));
    m = /^\/v3\/processes\/([^/]+)$/.exec(path);
    if (m && method === "GET") return processView(m[1]);
    throw new Refusal(404, "document_not_found", `${method} ${path} does not exist`);
  }

  function send(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const method = req.method ?? "GET";
    const report = /^\/reports\/(\d+)\/invalid_emails\.csv$/.exec(path);
    if (report && method === "GET") {
      // The report sits behind a download URL of its own, without the API key.
      const p = processes.get(Number(report[1]));
      res.writeHead(p ? 200 : 404, { "content-type": "text/csv" });
      res.end(p ? `EMAIL\n${p.invalid.join("\n")}\n` : "");
      return;
    }
    const contactsPath = path.startsWith("/v3/contacts");
    const record = (status: number, rows: number) => calls.push({ method, path, rows, status });
    if (contactsPath) inFlight++;
    const done = () => {
      if (contactsPath) inFlight--;
    };
    res.on("close", done);
    const throttled = limited > 0 || (contactsPath && inFlight > maxInFlight);
    if (contactsPath && inFlight > maxInFlight)
      violations.push(`${inFlight} requests under /v3/contacts at once`);
    if (throttled) {
      if (limited > 0) limited--;
      record(429, 0);
      send(
        res,
        429,
        { code: "too_many_requests", message: "The expected rate limit is exceeded." },
        { "x-sib-ratelimit-limit": "10", "x-sib-ratelimit-remaining": "0", "x-sib-ratelimit-reset": "1" },
      );
      return;
    }
    if (req.headers["api-key"] !== apiKey) {
      record(401, 0);
      send(res, 401, { code: "unauthorized", message: "Key not found" });
      return;
    }
    route(req, path).then(
      ([status, body, rows]) => {
        record(status, rows);
        send(res, status, body, { "x-sib-ratelimit-limit": "10", "x-sib-ratelimit-remaining": "9" });
      },
      (e: unknown) => {
        const r = e instanceof Refusal ? e : new Refusal(500, "internal_error", String(e));
        record(r.status, 0);
        send(res, r.status, { code: r.code, message: r.message });
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const inList = () => [...contacts.values()].filter((c) => c.lists.has(listId));
  return {
    url: `${base}/v3`,
    config: { api_key: apiKey, list_id: listId },
    keyOf: (email) => email.trim().toLowerCase(),
    audience: () => new Set(inList().map((c) => c.email)),
    subscribed: () =>
      new Set(
        inList()
          .filter((c) => !c.blacklisted)
          .map((c) => c.email),
      ),
    blocklisted: () =>
      new Set(
        inList()
          .filter((c) => c.blacklisted)
          .map((c) => c.email),
      ),
    calls,
    violations,
    imports,
    contacts,
    rateLimit(n) {
      limited += n;
    },
    seed(email, o = {}) {
      const key = email.trim().toLowerCase();
      contacts.set(key, {
        email: key,
        blacklisted: o.blacklisted ?? false,
        lists: new Set(o.inList === false ? [] : [listId]),
        attributes: {},
      });
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
