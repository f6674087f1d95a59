/**
 * A receiver of the generic `http` destination (src/service/destinations/http.ts), written
 * from that contract: `POST /add` and `POST /remove` with `{destination_id, contacts}`,
 * signed the Standard Webhooks way. Every call is verified with the `standardwebhooks`
 * library (the one receivers use); a call that fails verification is answered 401 and
 * counted as a violation, as is a malformed body, a batch over 1000 contacts or more than
 * 4 calls in flight.
 *
 * The audience is keyed by lower-case email (contacts without one are held by id but
 * not listed). `subscribed()` lists those whose last received wire contact reads as
 * `subscribed` by consent.ts (status subscribed, email neither hard-bounced nor
 * complained): the stand-in plays a receiver that honours the consent Slice sends.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { consentOf } from "../../../src/service/destinations/consent.ts";
import { newStandardSecret } from "../../../src/service/standard-webhooks.ts";
import type { StandIn } from "./types.ts";

const MAX_BATCH = 1000;
const MAX_IN_FLIGHT = 4;

interface HeldContact {
  id: string;
  email: string | null;
  status: string | null;
  email_status: string | null;
}

/** A call that passed verification, as received. */
export interface ReceivedCall {
  path: string;
  headers: { id: string; timestamp: string; signature: string; userAgent: string; contentType: string };
  /** The raw body, exactly as signed. */
  raw: string;
  body: { destination_id: string; contacts: Record<string, unknown>[] };
}

export interface HttpStandIn extends StandIn {
  config: { add_url: string; remove_url: string; secret: string };
  secret: string;
  /** Every call that passed verification, in order. */
  received: ReceivedCall[];
  /** Every `webhook-id` seen, rejected calls included, in order. */
  ids: string[];
  /** The next `n` calls are answered `status` (a 3xx with a Location to elsewhere). */
  fail(n: number, status: number): void;
}

export interface HttpStandInOptions {
  /** The secret the receiver verifies with (default: a new one, also put in `config`). */
  secret?: string;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

const header = (req: IncomingMessage, name: string): string => {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(", ") : (v ?? "");
};

function isContactList(v: unknown): v is Record<string, unknown>[] {
  return Array.isArray(v) && v.every((c) => typeof c === "object" && c !== null && !Array.isArray(c));
}

export async function startHttpStandIn(opts: HttpStandInOptions = {}): Promise<HttpStandIn> {
  const secret = opts.secret ?? newStandardSecret();
  const verifier = new Webhook(secret);
  const held = new Map<string, HeldContact>();
  const calls: StandIn["calls"] = [];
  const violations: string[] = [];
  const received: ReceivedCall[] = [];
  const ids: string[] = [];
  let limited = 0;
  let failing = { n: 0, status: 0 };
  let inFlight = 0;

  function apply(path: string, contacts: Record<string, unknown>[]): string | null {
    for (const [i, c] of contacts.entries()) {
      if (typeof c.id !== "string") return `contacts[${i}].id is not a string`;
      for (const k of ["email", "external_id"]) {
        if (!(k in c) || (c[k] !== null && typeof c[k] !== "string")) return `contacts[${i}].${k} is missing`;
      }
    }
    for (const c of contacts) {
      const id = c.id as string;
      if (path === "/remove") held.delete(id);
      else {
        const str = (v: unknown) => (typeof v === "string" ? v : null);
        held.set(id, { id, email: str(c.email), status: str(c.status), email_status: str(c.email_status) });
      }
    }
    return null;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const raw = await readBody(req);
    let rows = 0;
    const answer = (status: number, body: unknown, extra: Record<string, string> = {}) => {
      calls.push({ method: req.method ?? "", path, rows, status });
      res.writeHead(status, { "Content-Type": "application/json", ...extra });
      res.end(JSON.stringify(body));
    };
    ids.push(header(req, "webhook-id"));
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(raw);
    } catch {
      // Judged below.
    }
    const body = parsed as ReceivedCall["body"] | null;
    if (body && isContactList(body.contacts)) rows = body.contacts.length;

    if (limited > 0) {
      limited--;
      return answer(429, { error: "too many requests" }, { "Retry-After": "1" });
    }
    if (failing.n > 0) {
      failing.n--;
      const s = failing.status;
      return answer(
        s,
        { error: `told to fail with ${s}` },
        s >= 300 && s < 400 ? { Location: "http://127.0.0.1:9/" } : {},
      );
    }
    if (req.method !== "POST") return answer(405, { error: "POST only" });
    if (path !== "/add" && path !== "/remove") return answer(404, { error: "not found" });
    try {
      verifier.verify(raw, {
        "webhook-id": header(req, "webhook-id"),
        "webhook-timestamp": header(req, "webhook-timestamp"),
        "webhook-signature": header(req, "webhook-signature"),
      });
    } catch (e) {
      violations.push(`${path}: signature verification failed: ${(e as Error).message}`);
      return answer(401, { error: "invalid signature" });
    }
    if (!header(req, "content-type").startsWith("application/json")) {
      violations.push(`${path}: Content-Type ${header(req, "content-type")}`);
      return answer(415, { error: "application/json expected" });
    }
    if (!body || typeof body.destination_id !== "string" || !isContactList(body.contacts)) {
      violations.push(`${path}: body is not {destination_id, contacts: [...]}`);
      return answer(400, { error: "malformed body" });
    }
    if (rows > MAX_BATCH) {
      violations.push(`${path}: ${rows} contacts in one call (max ${MAX_BATCH})`);
      return answer(413, { error: "batch too large" });
    }
    const bad = apply(path, body.contacts);
    if (bad !== null) {
      violations.push(`${path}: ${bad}`);
      return answer(400, { error: bad });
    }
    received.push({
      path,
      raw,
      body,
      headers: {
        id: header(req, "webhook-id"),
        timestamp: header(req, "webhook-timestamp"),
        signature: header(req, "webhook-signature"),
        userAgent: header(req, "user-agent"),
        contentType: header(req, "content-type"),
      },
    });
    return answer(200, { received: rows });
  }

  const server = createServer((req, res) => {
    inFlight++;
    if (inFlight > MAX_IN_FLIGHT) violations.push(`${inFlight} calls in flight (max ${MAX_IN_FLIGHT})`);
    res.on("close", () => inFlight--);
    handle(req, res).catch((e: unknown) => {
      violations.push(`stand-in error: ${(e as Error).message}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const keyOf = (email: string) => email.toLowerCase();
  const keys = (pick: (c: HeldContact) => boolean) =>
    new Set([...held.values()].filter((c) => c.email !== null && pick(c)).map((c) => keyOf(c.email!)));

  return {
    url,
    secret,
    config: { add_url: `${url}/add`, remove_url: `${url}/remove`, secret },
    keyOf,
    audience: () => keys(() => true),
    subscribed: () => keys((c) => consentOf(c) === "subscribed"),
    calls,
    received,
    ids,
    violations,
    rateLimit(n) {
      limited = n;
    },
    fail(n, status) {
      failing = { n, status };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
