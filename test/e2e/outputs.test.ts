/**
 * End to end, over real HTTP, on SQLite and on PostgreSQL: what leaves the service.
 * Webhooks (signed deliveries to a local receiver, retries, the delivery log, the
 * segment filter, private-address refusal), the SSE stream, segment exports (csv,
 * ndjson, Meta and Google files checked byte for byte, suppression) and imports (CSV of
 * contacts and NDJSON of events, with per-row errors and the static segment).
 *
 * Expected hashes and signatures are computed here with node:crypto from the documented
 * normalised strings (docs/exports.md, docs/webhooks.md), not with the server's helpers.
 */
import { createHash, createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PgServer, startPostgres } from "../support/postgres.ts";
import { type Backend, eventually, type Json, startTestServer, type TestServer } from "../support/server.ts";

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

/** Retries of a failed delivery are due ~30 s later (±20 %): the tests move the clock past that. */
const RETRY_JUMP_MS = 60_000;

// ---------------------------------------------------------------- webhook receiver

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: Json;
  status: number;
}

/**
 * A local webhook receiver. Paths under `/flaky` answer 500 to the first attempt of
 * every delivery (by the body's `id`) and 200 to the next ones; other paths answer 200.
 */
async function startReceiver(): Promise<{ url: string; got: Received[]; close(): Promise<void> }> {
  const got: Received[] = [];
  const failed = new Set<string>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: Json = null;
      try {
        body = JSON.parse(raw);
      } catch {
        body = null;
      }
      const path = req.url ?? "";
      let status = 200;
      if (path.startsWith("/flaky") && body && !failed.has(body.id)) {
        failed.add(body.id);
        status = 500;
      }
      got.push({ path, headers: req.headers, raw, body, status });
      res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "try later");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    got,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Checks `Slice-Signature: t=<unix s>,v1=<hex>` against the raw body, as a receiver would. */
function signatureOk(header: string | string[] | undefined, raw: string, secret: string): { t: number } {
  expect(typeof header).toBe("string");
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header as string);
  expect(m, `Slice-Signature ${String(header)}`).not.toBeNull();
  const t = Number(m![1]);
  const expected = createHmac("sha256", secret).update(`${t}.${raw}`, "utf8").digest("hex");
  expect(m![2]).toBe(expected);
  return { t };
}

// ---------------------------------------------------------------- SSE reader

function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let pending: ReturnType<typeof reader.read> | null = null;
  return {
    get text() {
      return text;
    },
    /** Reads until `pred(text)` holds; fails after `ms`. */
    async until(pred: (text: string) => boolean, ms: number): Promise<string> {
      const deadline = Date.now() + ms;
      while (!pred(text)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`stream: timed out; read so far: ${JSON.stringify(text)}`);
        pending ??= reader.read();
        let timer: NodeJS.Timeout | undefined;
        const r = await Promise.race([
          pending,
          new Promise<"timeout">((resolve) => {
            timer = setTimeout(() => resolve("timeout"), left);
          }),
        ]).finally(() => clearTimeout(timer));
        if (r === "timeout") continue;
        pending = null;
        if (r.done) throw new Error(`stream ended; read: ${JSON.stringify(text)}`);
        text += decoder.decode(r.value, { stream: true });
      }
      return text;
    },
  };
}

/** The change objects of the `data:` lines read so far. */
function dataLines(text: string): Json[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith("data:"))
    .map((l) => JSON.parse(l.slice("data:".length).trim()));
}

// ---------------------------------------------------------------- csv oracle

const CSV_COLUMNS = [
  "id",
  "email",
  "external_id",
  "phone",
  "first_name",
  "last_name",
  "country",
  "region",
  "city",
  "postal_code",
  "timezone",
  "language",
  "status",
  "email_status",
  "tags",
  "created_at",
  "subscribed_at",
];

/** RFC 4180 cell as docs/exports.md describes it. */
function csvCell(v: unknown): string {
  let s: string;
  if (v === null || v === undefined) s = "";
  else if (Array.isArray(v)) s = v.join(";");
  else s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csvRow(wire: Json, custom: string[]): string {
  return [...CSV_COLUMNS.map((c) => csvCell(wire[c])), ...custom.map((k) => csvCell(wire.fields[k]))].join(
    ",",
  );
}

// ---------------------------------------------------------------- the suites

const backends: { name: string; kind: Backend["kind"] }[] = [
  { name: "sqlite", kind: "sqlite" },
  { name: "postgres", kind: "postgres" },
];

describe.each(backends)("outputs over HTTP ($name)", ({ kind }) => {
  let pgServer: PgServer | null = null;
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  /** The server's clock: real time plus `offset`, which the retry test moves forward. */
  let offset = 0;
  let databases = 0;

  async function backend(): Promise<Backend> {
    if (kind === "sqlite") return { kind: "sqlite" };
    pgServer ??= await startPostgres();
    return { kind: "postgres", url: await pgServer.createDatabase(`outputs_${++databases}`) };
  }

  /** A fresh workspace (isolated from the other tests' changes) and a caller with its key. */
  async function workspace(name: string) {
    const r = await t.call("POST", "/v1/workspaces", { name });
    expect(r.status, r.text).toBe(201);
    const key: string = r.body.api_key;
    const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
      t.call(method, path, body, { key, ...(headers ? { headers } : {}) });
    const raw = (method: string, path: string, text: string, contentType: string) =>
      t.call(method, path, undefined, { key, raw: text, headers: { "content-type": contentType } });
    return { key, call, raw };
  }

  beforeAll(async () => {
    receiver = await startReceiver();
    t = await startTestServer(await backend(), { clock: { now: () => Date.now() + offset } });
  });

  afterAll(async () => {
    await t?.stop();
    await receiver?.close();
    await pgServer?.stop();
  });

  // -------------------------------------------------------------- webhooks

  it("webhooks: signed deliveries, a retry after a 500, the delivery log, the segment filter, delete", async () => {
    const { call } = await workspace("webhooks");
    const segA = await call("POST", "/v1/segments", {
      name: "Buyers",
      rule: { type: "event", event: "order_placed", op: "gte", value: 1 },
    });
    expect(segA.status, segA.text).toBe(201);
    const segB = await call("POST", "/v1/segments", {
      name: "Visitors",
      rule: { type: "event", event: "page_viewed", op: "gte", value: 1 },
    });
    expect(segB.status, segB.text).toBe(201);
    const A: string = segA.body.id;
    const B: string = segB.body.id;

    // A subscription to everything, whose receiver fails every first attempt.
    const secret = "whsec_e2e_secret_0123456789";
    const hookAll = await call("POST", "/v1/webhooks", { url: `${receiver.url}/flaky/${kind}`, secret });
    expect(hookAll.status, hookAll.text).toBe(201);
    expect(hookAll.body).toMatchObject({
      url: `${receiver.url}/flaky/${kind}`,
      events: ["segment.entered", "segment.exited"],
      segment_id: null,
      secret,
    });
    expect(hookAll.body.id).toEqual(expect.any(String));
    // One for segment B's entries only; the server makes the secret.
    const hookB = await call("POST", "/v1/webhooks", {
      url: `${receiver.url}/only-b/${kind}`,
      events: ["segment.entered"],
      segment_id: B,
    });
    expect(hookB.status, hookB.text).toBe(201);
    expect(hookB.body).toMatchObject({ events: ["segment.entered"], segment_id: B });
    expect(hookB.body.secret).toEqual(expect.any(String));
    expect(hookB.body.secret.length).toBeGreaterThanOrEqual(16);

    const listed = await call("GET", "/v1/webhooks");
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((h: Json) => h.id).sort()).toEqual([hookAll.body.id, hookB.body.id].sort());

    const created = await call("POST", "/v1/contacts", { email: "buyer@example.com", status: "subscribed" });
    expect(created.status, created.text).toBe(201);
    const contactId: string = created.body.id;
    const ev = await call("POST", "/v1/events", {
      type: "order_placed",
      contact: { email: "buyer@example.com" },
      properties: { amount: 42 },
    });
    expect(ev.status, ev.text).toBe(200);
    expect(ev.body).toMatchObject({ accepted: 1, errors: [] });

    const hookAllPath = `/flaky/${kind}`;
    const forA = () => receiver.got.filter((r) => r.path === hookAllPath && r.body?.data?.segment_id === A);
    // The first attempt arrives (and is answered 500).
    await eventually(() => forA().length >= 1, 5000, "first delivery");
    const first = forA()[0];
    expect(first!.status).toBe(500);
    expect(Object.keys(first!.body).sort()).toEqual(["created_at", "data", "id", "type"]);
    expect(first!.body).toMatchObject({
      type: "segment.entered",
      data: { segment_id: A, contact_id: contactId, change: "entered" },
    });
    expect(first!.body.id).toMatch(/^del_/);
    expect(Object.keys(first!.body.data).sort()).toEqual(["at", "change", "contact_id", "segment_id"]);
    expect(new Date(first!.body.created_at).toISOString()).toBe(first!.body.created_at);
    expect(new Date(first!.body.data.at).toISOString()).toBe(first!.body.data.at);
    expect(first!.headers["content-type"]).toMatch(/^application\/json/);
    const sig1 = signatureOk(first!.headers["slice-signature"], first!.raw, secret);
    expect(Math.abs(sig1.t - (Date.now() + offset) / 1000)).toBeLessThan(60);

    // The delivery log: one failed attempt, pending, due again later.
    const pendingLog = await eventually(
      async () => {
        const r = await call("GET", `/v1/webhooks/${hookAll.body.id}/deliveries`);
        const d = r.body.data.find((x: Json) => `del_${x.id}` === first!.body.id);
        return d && d.attempts === 1 ? d : null;
      },
      5000,
      "the failed attempt in the log",
    );
    expect(pendingLog).toMatchObject({
      status: "pending",
      attempts: 1,
      last_status_code: 500,
      delivered_at: null,
    });
    expect(pendingLog.last_error).toMatch(/500/);
    expect(Date.parse(pendingLog.next_attempt_at)).toBeGreaterThan(Date.now() + offset);

    // Nothing is retried before it is due …
    await new Promise((r) => setTimeout(r, 300));
    expect(forA()).toHaveLength(1);
    // … and once the server's clock passes the retry time, the retry arrives: same id, same bytes.
    offset += RETRY_JUMP_MS;
    await eventually(() => forA().length >= 2, 5000, "the retry");
    const second = forA()[1]!;
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first!.body.id);
    expect(second.raw).toBe(first!.raw);
    const sig2 = signatureOk(second.headers["slice-signature"], second.raw, secret);
    expect(sig2.t).toBeGreaterThanOrEqual(sig1.t + RETRY_JUMP_MS / 1000 - 5);

    const deliveredLog = await eventually(
      async () => {
        const r = await call("GET", `/v1/webhooks/${hookAll.body.id}/deliveries`);
        const d = r.body.data.find((x: Json) => `del_${x.id}` === first!.body.id);
        return d && d.status === "delivered" ? d : null;
      },
      5000,
      "the delivery marked delivered",
    );
    expect(deliveredLog).toMatchObject({ attempts: 2, last_status_code: 200, next_attempt_at: null });
    expect(deliveredLog.delivered_at).toEqual(expect.any(String));

    // The subscription to all segments also got the contact's entry into `all` and `customers`.
    await eventually(
      () => {
        const segs = new Set(
          receiver.got.filter((r) => r.path === hookAllPath).map((r) => r.body.data.segment_id),
        );
        return segs.has("all") && segs.has("customers");
      },
      5000,
      "entries into the default segments",
    );

    // Segment filter: B's subscription got nothing of the above; a page view makes B's entry.
    const onlyB = () => receiver.got.filter((r) => r.path === `/only-b/${kind}`);
    expect(onlyB()).toHaveLength(0);
    const ev2 = await call("POST", "/v1/events", { type: "page_viewed", contact: { id: contactId } });
    expect(ev2.status, ev2.text).toBe(200);
    await eventually(() => onlyB().length >= 1, 5000, "segment B's delivery");
    const b1 = onlyB()[0];
    expect(b1!.body).toMatchObject({
      type: "segment.entered",
      data: { segment_id: B, contact_id: contactId, change: "entered" },
    });
    signatureOk(b1!.headers["slice-signature"], b1!.raw, hookB.body.secret);
    // The attempt is recorded once the receiver's answer is back, a moment after it got the POST.
    const logB = (await eventually(
      async () => {
        const r = await call("GET", `/v1/webhooks/${hookB.body.id}/deliveries`);
        return r.status === 200 && r.body.data[0]?.status !== "pending" ? r : null;
      },
      5000,
      "segment B's delivery recorded",
    ))!;
    expect(logB.body.data).toHaveLength(1);
    expect(logB.body.data[0]).toMatchObject({ status: "delivered", attempts: 1, last_status_code: 200 });

    // A segment a subscription filters on cannot be deleted while the subscription exists.
    const inUse = await call("DELETE", `/v1/segments/${B}`);
    expect(inUse.status, inUse.text).toBe(409);
    expect(inUse.body.error.details.uses).toContainEqual(expect.objectContaining({ id: hookB.body.id }));

    // An exit: B's subscription (entries only) ignores it; the subscription to all gets it.
    const del = await call("DELETE", `/v1/contacts/${contactId}`);
    expect(del.status, del.text).toBe(204);
    await eventually(
      () =>
        receiver.got.some(
          (r) => r.path === hookAllPath && r.body.type === "segment.exited" && r.body.data.segment_id === B,
        ),
      5000,
      "segment.exited for B",
    );
    expect(onlyB()).toHaveLength(1);

    // Delete a subscription: gone from reads, and sent nothing more.
    const gone = await call("DELETE", `/v1/webhooks/${hookAll.body.id}`);
    expect(gone.status, gone.text).toBe(204);
    expect((await call("GET", `/v1/webhooks/${hookAll.body.id}`)).status).toBe(404);
    expect((await call("GET", `/v1/webhooks/${hookAll.body.id}/deliveries`)).status).toBe(404);
    expect((await call("DELETE", `/v1/webhooks/${hookAll.body.id}`)).status).toBe(404);
    expect((await call("GET", "/v1/webhooks")).body.data.map((h: Json) => h.id)).toEqual([hookB.body.id]);
    const before = receiver.got.filter((r) => r.path === hookAllPath).length;
    await call("POST", "/v1/events", { type: "page_viewed", contact: { email: "visitor@example.com" } });
    await eventually(() => onlyB().length >= 2, 5000, "B's second delivery");
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.got.filter((r) => r.path === hookAllPath).length).toBe(before);
  });

  it("webhooks: bad input answers 400 / 404", async () => {
    const { call } = await workspace("webhooks-errors");
    const bad = await call("POST", "/v1/webhooks", { url: "ftp://example.com/hook" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.path).toBe("url");
    const badEvent = await call("POST", "/v1/webhooks", {
      url: `${receiver.url}/x`,
      events: ["contact.created"],
    });
    expect(badEvent.status).toBe(400);
    expect(badEvent.body.error.details.path).toMatch(/^events/);
    const unknown = await call("POST", "/v1/webhooks", { url: `${receiver.url}/x`, segment_id: "seg_nope" });
    expect(unknown.status).toBe(404);
  });

  it("webhooks: by default (no SLICE_WEBHOOK_ALLOW_PRIVATE) a loopback URL is refused", async () => {
    const strict = await startTestServer(await backend(), { allowPrivateAddresses: false });
    try {
      const r = await strict.call("POST", "/v1/webhooks", { url: `${receiver.url}/private` });
      expect(r.status, r.text).toBe(400);
      expect(r.body.error.details.path).toBe("url");
      expect(r.body.error.message).toMatch(/private|loopback|public/i);
      const local = await strict.call("POST", "/v1/webhooks", { url: "http://localhost:9/x" });
      expect(local.status, local.text).toBe(400);
      expect((await strict.call("GET", "/v1/webhooks")).body.data).toEqual([]);
    } finally {
      await strict.stop();
    }
  });

  // -------------------------------------------------------------- SSE

  it("stream: `: connected` at once, then a data line per change", async () => {
    const { key, call } = await workspace("stream");
    const other = await workspace("stream-other");
    const seg = await call("POST", "/v1/segments", {
      name: "Clickers",
      rule: { type: "event", event: "email_clicked", op: "gte", value: 1 },
    });
    expect(seg.status, seg.text).toBe(201);
    const contact = await call("POST", "/v1/contacts", { email: "clicker@example.com" });

    const ac = new AbortController();
    const res = await fetch(`${t.url}/v1/stream`, {
      headers: { authorization: `Bearer ${key}` },
      signal: ac.signal,
    });
    try {
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
      const sse = sseReader(res.body!);
      await sse.until((s) => s.length >= ": connected".length, 2000);
      expect(sse.text.startsWith(": connected")).toBe(true);

      // A change of another workspace is not streamed here.
      await other.call("POST", "/v1/contacts", { email: "elsewhere@example.com" });

      const sent = Date.now();
      const ev = await call("POST", "/v1/events", {
        type: "email_clicked",
        contact: { id: contact.body.id },
      });
      expect(ev.status, ev.text).toBe(200);
      const hit = (c: Json) => c.segment_id === seg.body.id && c.contact_id === contact.body.id;
      await sse.until((s) => s.endsWith("\n\n") && dataLines(s).some(hit), 2000);
      expect(Date.now() - sent).toBeLessThan(2000);
      const change = dataLines(sse.text).find(hit);
      expect(change).toEqual({
        segment_id: seg.body.id,
        contact_id: contact.body.id,
        change: "entered",
        at: expect.any(String),
      });
      expect(new Date(change.at).toISOString()).toBe(change.at);

      // Editing the rule so that the contact no longer matches streams its exit.
      const put = await call("PUT", `/v1/segments/${seg.body.id}`, {
        name: "Clickers",
        rule: { type: "event", event: "email_clicked", op: "gte", value: 2 },
      });
      expect(put.status, put.text).toBe(200);
      const exited = (c: Json) => hit(c) && c.change === "exited";
      await sse.until((s) => s.endsWith("\n\n") && dataLines(s).some(exited), 2000);

      // Time-driven: a static membership that expires streams its exit without any write.
      const stat = await call("POST", "/v1/segments", { name: "For a second", kind: "static" });
      const expiresAt = new Date(Date.now() + offset + 1000).toISOString();
      const added = await call("POST", `/v1/segments/${stat.body.id}/members`, {
        contacts: [{ id: contact.body.id }],
        expires_at: expiresAt,
      });
      expect(added.status, added.text).toBe(200);
      const left = (c: Json) => c.segment_id === stat.body.id && c.change === "exited";
      await sse.until((s) => s.endsWith("\n\n") && dataLines(s).some(left), 3000);
      expect(Date.parse(dataLines(sse.text).find(left).at)).toBe(Date.parse(expiresAt));
      expect(
        dataLines(sse.text)
          .filter((c: Json) => c.segment_id === stat.body.id)
          .map((c: Json) => c.change),
      ).toEqual(["entered", "exited"]);

      for (const c of dataLines(sse.text)) {
        expect(Object.keys(c).sort()).toEqual(["at", "change", "contact_id", "segment_id"]);
        expect(c.contact_id).toBe(contact.body.id);
      }
    } finally {
      ac.abort();
      await res.body?.cancel().catch(() => undefined);
    }
    // The server is still fine after the client went away.
    expect((await call("GET", "/v1/segments")).status).toBe(200);
  });

  // -------------------------------------------------------------- exports

  it("exports: csv, ndjson, meta and google files, suppression, errors", async () => {
    const { call } = await workspace("exports");
    expect((await call("POST", "/v1/fields", { key: "plan", type: "string", label: "Plan" })).status).toBe(
      201,
    );
    const john = await call("POST", "/v1/contacts", {
      email: " John.Doe@Example.COM ",
      external_id: "EXT-1",
      phone: "(415) 555-2671",
      first_name: "John",
      last_name: "Smith, Jr.",
      country: "US",
      region: "California",
      city: "San Francisco",
      postal_code: "94107-1234",
      status: "subscribed",
      tags: ["vip", "beta"],
      fields: { plan: 'Pro "annual"' },
    });
    expect(john.status, john.text).toBe(201);
    expect(john.body.email).toBe("john.doe@example.com");
    const jane = await call("POST", "/v1/contacts", {
      email: "Jane.Roe@gmail.com",
      phone: "020 7183 8750",
      first_name: "Jane",
      last_name: "Roe",
      country: "gb",
      postal_code: "SW1A 1AA",
      status: "subscribed",
    });
    expect(jane.status, jane.text).toBe(201);
    const unsub = await call("POST", "/v1/contacts", { email: "gone@example.com", status: "unsubscribed" });
    const bounced = await call("POST", "/v1/contacts", { email: "bounce@example.com", status: "subscribed" });
    // Hard bounced through an event: the export must use the effective email_status.
    const ev = await call("POST", "/v1/events", {
      type: "email_bounced",
      contact: { id: bounced.body.id },
      properties: { bounce_type: "hard" },
    });
    expect(ev.status, ev.text).toBe(200);
    const outsider = await call("POST", "/v1/contacts", {
      email: "outsider@example.com",
      status: "subscribed",
    });

    const seg = await call("POST", "/v1/segments", { name: "Export me", kind: "static" });
    expect(seg.status, seg.text).toBe(201);
    const S: string = seg.body.id;
    const add = await call("POST", `/v1/segments/${S}/members`, {
      contacts: [john, jane, unsub, bounced].map((c) => ({ id: c.body.id })),
    });
    expect(add.status, add.text).toBe(200);

    const wire = async (id: string) => {
      const r = await call("GET", `/v1/contacts/${id}`);
      expect(r.status).toBe(200);
      const { segments: _s, ...rest } = r.body;
      return rest;
    };
    const wJohn = await wire(john.body.id);
    const wJane = await wire(jane.body.id);
    const wUnsub = await wire(unsub.body.id);
    const wBounced = await wire(bounced.body.id);
    expect(wBounced.email_status).toBe("hard_bounced");
    const kept = [wJohn, wJane];
    const all = [wJohn, wJane, wUnsub, wBounced];
    const ids = (xs: Json[]) => xs.map((x) => x.id).sort();

    // ---- csv
    const csv = await call("GET", `/v1/segments/${S}/export?format=csv`);
    expect(csv.status, csv.text).toBe(200);
    expect(csv.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(csv.headers.get("content-disposition")).toBe(`attachment; filename="${S}.csv"`);
    expect(csv.text.charCodeAt(0)).not.toBe(0xfeff);
    expect(csv.text.endsWith("\r\n")).toBe(true);
    const csvLines = csv.text.slice(0, -2).split("\r\n");
    expect(csvLines[0]).toBe([...CSV_COLUMNS, "plan"].join(","));
    expect(csvLines.slice(1).sort()).toEqual(kept.map((w) => csvRow(w, ["plan"])).sort());
    const johnLine = csvLines.find((l) => l.startsWith(`${wJohn.id},`))!;
    expect(johnLine).toContain(',John,"Smith, Jr.",US,');
    expect(johnLine).toContain(",vip;beta,");
    expect(johnLine.endsWith(',"Pro ""annual"""')).toBe(true);
    expect(csv.text).not.toContain(wUnsub.id);
    expect(csv.text).not.toContain(wBounced.id);
    expect(csv.text).not.toContain(outsider.body.id);

    const csvAll = await call("GET", `/v1/segments/${S}/export?format=csv&include_suppressed=true`);
    expect(csvAll.status).toBe(200);
    const csvAllLines = csvAll.text.slice(0, -2).split("\r\n");
    expect(csvAllLines.slice(1).sort()).toEqual(all.map((w) => csvRow(w, ["plan"])).sort());
    expect(csvAllLines.find((l) => l.startsWith(`${wBounced.id},`))).toContain(",subscribed,hard_bounced,");
    expect(csvAllLines.find((l) => l.startsWith(`${wUnsub.id},`))).toContain(",unsubscribed,");

    const cols = await call("GET", `/v1/segments/${S}/export?format=csv&columns=email,fields.plan,last_name`);
    expect(cols.status, cols.text).toBe(200);
    expect(cols.text.split("\r\n")[0]).toBe("email,fields.plan,last_name");
    expect(cols.text).toContain('john.doe@example.com,"Pro ""annual""","Smith, Jr."\r\n');
    expect(cols.text).toContain("jane.roe@gmail.com,,Roe\r\n");

    // ---- ndjson
    const nd = await call("GET", `/v1/segments/${S}/export?format=ndjson`);
    expect(nd.status).toBe(200);
    expect(nd.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    expect(nd.headers.get("content-disposition")).toBe(`attachment; filename="${S}.ndjson"`);
    expect(nd.text.endsWith("\n")).toBe(true);
    expect(nd.text).not.toContain("\r");
    const ndRows = nd.text
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(ndRows.sort((a: Json, b: Json) => a.id.localeCompare(b.id))).toEqual(
      [...kept].sort((a, b) => a.id.localeCompare(b.id)),
    );
    for (const r of ndRows) expect(r).not.toHaveProperty("segments");
    const ndAll = await call("GET", `/v1/segments/${S}/export?format=ndjson&include_suppressed=1`);
    expect(
      ids(
        ndAll.text
          .trimEnd()
          .split("\n")
          .map((l) => JSON.parse(l)),
      ),
    ).toEqual(ids(all));

    // ---- meta
    const meta = await call("GET", `/v1/segments/${S}/export?format=meta`);
    expect(meta.status).toBe(200);
    expect(meta.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(meta.headers.get("content-disposition")).toBe(`attachment; filename="${S}-meta.csv"`);
    const metaLines = meta.text.slice(0, -2).split("\r\n");
    expect(metaLines[0]).toBe("email,phone,fn,ln,ct,st,zip,country,extern_id");
    const metaJohn = [
      sha256("john.doe@example.com"),
      sha256("14155552671"),
      sha256("john"),
      sha256("smithjr"),
      sha256("sanfrancisco"),
      sha256("ca"),
      sha256("94107"),
      sha256("us"),
      "EXT-1",
    ].join(",");
    const metaJane = [
      sha256("jane.roe@gmail.com"), // Meta keeps Gmail dots
      sha256("442071838750"),
      sha256("jane"),
      sha256("roe"),
      "",
      "",
      sha256("sw1a1"),
      sha256("gb"),
      "",
    ].join(",");
    expect(metaLines.slice(1).sort()).toEqual([metaJohn, metaJane].sort());
    const metaAll = await call("GET", `/v1/segments/${S}/export?format=meta&include_suppressed=true`);
    const metaAllLines = metaAll.text.slice(0, -2).split("\r\n");
    expect(metaAllLines).toHaveLength(5);
    expect(metaAllLines).toContain(`${sha256("gone@example.com")},,,,,,,,`);
    expect(metaAllLines).toContain(`${sha256("bounce@example.com")},,,,,,,,`);

    // ---- google
    const google = await call("GET", `/v1/segments/${S}/export?format=google`);
    expect(google.status).toBe(200);
    expect(google.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(google.headers.get("content-disposition")).toBe(`attachment; filename="${S}-google.csv"`);
    const googleLines = google.text.slice(0, -2).split("\r\n");
    expect(googleLines[0]).toBe("Email,Phone,First Name,Last Name,Country,Zip");
    const googleJohn = [
      sha256("john.doe@example.com"), // dots kept outside gmail.com
      sha256("+14155552671"),
      sha256("john"),
      sha256("smith, jr."),
      "US",
      "94107-1234",
    ].join(",");
    const googleJane = [
      sha256("janeroe@gmail.com"), // Gmail dots removed
      sha256("+442071838750"),
      sha256("jane"),
      sha256("roe"),
      "GB",
      "SW1A 1AA",
    ].join(",");
    expect(googleLines.slice(1).sort()).toEqual([googleJohn, googleJane].sort());
    const googleAll = await call("GET", `/v1/segments/${S}/export?format=google&include_suppressed=true`);
    expect(googleAll.text.slice(0, -2).split("\r\n")).toHaveLength(5);

    // A dynamic segment exports its current members (here `all`: every contact, outsider included).
    const everyone = await call("GET", "/v1/segments/all/export?format=ndjson");
    expect(
      ids(
        everyone.text
          .trimEnd()
          .split("\n")
          .map((l) => JSON.parse(l)),
      ),
    ).toEqual([wJohn.id, wJane.id, outsider.body.id].sort());

    // ---- errors
    const badFormat = await call("GET", `/v1/segments/${S}/export?format=xml`);
    expect(badFormat.status).toBe(400);
    expect(badFormat.body.error.details.path).toBe("format");
    const unknownSeg = await call("GET", "/v1/segments/seg_nope/export?format=csv");
    expect(unknownSeg.status).toBe(404);
    expect(unknownSeg.body.error.code).toBe("not_found");
    const badColumn = await call("GET", `/v1/segments/${S}/export?format=csv&columns=id,nope`);
    expect(badColumn.status).toBe(400);
    expect(badColumn.body.error.details.path).toBe("columns[1]");
    expect(badColumn.body.error.message).toContain("nope");
    const noColumns = await call("GET", `/v1/segments/${S}/export?format=csv&columns=`);
    expect(noColumns.status).toBe(400);
    expect(noColumns.body.error.details.path).toBe("columns");
    const badFlag = await call("GET", `/v1/segments/${S}/export?format=csv&include_suppressed=maybe`);
    expect(badFlag.status).toBe(400);
    expect(badFlag.body.error.details.path).toBe("include_suppressed");
    const off = await call("GET", `/v1/segments/${S}/export?format=csv&include_suppressed=false`);
    expect(off.text).toBe(csv.text);
    const columnsElsewhere = await call("GET", `/v1/segments/${S}/export?format=meta&columns=email`);
    expect(columnsElsewhere.status).toBe(400);
    expect(columnsElsewhere.body.error.details.path).toBe("columns");
  });

  // -------------------------------------------------------------- imports

  async function finished(
    call: (m: string, p: string) => Promise<{ body: Json }>,
    id: string,
  ): Promise<Json> {
    return eventually(
      async () => {
        const r = await call("GET", `/v1/imports/${id}`);
        return r.body.status === "done" || r.body.status === "failed" ? r.body : null;
      },
      30_000,
      `import ${id} to finish`,
    );
  }

  it("imports: a CSV of contacts with bad rows, into a static segment; NDJSON of events; the list", async () => {
    const { call, raw } = await workspace("imports");
    expect((await call("POST", "/v1/fields", { key: "score", type: "number", label: "Score" })).status).toBe(
      201,
    );
    const seg = await call("POST", "/v1/segments", { name: "Imported", kind: "static" });
    const S: string = seg.body.id;
    const dynamic = await call("POST", "/v1/segments", {
      name: "Dyn",
      rule: { type: "field", field: "country", op: "eq", value: "FR" },
    });

    const file = [
      "E-mail,Given,Score,Labels,Ignored",
      "ann@example.com,Ann,10,a;b,x",
      "not-an-email,Bob,5,,x",
      "cat@example.com,Cat,lots,,x",
      'dan@example.com,"Dan, Jr",7.5,vip,x',
      "",
    ].join("\r\n");
    const mapping = {
      "E-mail": "email",
      Given: "first_name",
      Score: "fields.score",
      Labels: "tags",
      Ignored: null,
    };
    const q = `mapping=${encodeURIComponent(JSON.stringify(mapping))}&segment_id=${S}`;
    const started = await raw("POST", `/v1/imports?${q}`, file, "text/csv");
    expect(started.status, started.text).toBe(202);
    expect(started.body).toMatchObject({ kind: "contacts", options: { mapping, segment_id: S } });
    expect(["pending", "running", "done"]).toContain(started.body.status);

    const job = await finished(call, started.body.id);
    expect(job).toMatchObject({
      id: started.body.id,
      kind: "contacts",
      status: "done",
      processed: 4,
      accepted: 2,
      rejected: 2,
      failure: null,
    });
    expect(job.errors).toHaveLength(2);
    expect(job.errors[0].row).toBe(3);
    expect(job.errors[0].error).toMatch(/email/);
    expect(job.errors[0].error).toContain("not-an-email");
    expect(job.errors[1].row).toBe(4);
    expect(job.errors[1].error).toMatch(/column "Score"/);
    expect(job.errors[1].error).toMatch(/number/);
    expect(job.finished_at).toEqual(expect.any(String));

    const members = await call("GET", `/v1/segments/${S}/contacts`);
    expect(members.status).toBe(200);
    const byEmail = new Map<string, Json>(members.body.data.map((c: Json) => [c.email, c]));
    expect([...byEmail.keys()].sort()).toEqual(["ann@example.com", "dan@example.com"]);
    const ann = byEmail.get("ann@example.com");
    expect(ann).toMatchObject({ first_name: "Ann", tags: ["a", "b"], fields: { score: 10 } });
    expect(byEmail.get("dan@example.com")).toMatchObject({
      first_name: "Dan, Jr",
      tags: ["vip"],
      fields: { score: 7.5 },
    });
    const annRead = await call("GET", `/v1/contacts/${ann.id}`);
    expect(annRead.body.segments).toContain(S);
    const everyone = await call("GET", "/v1/contacts");
    expect(everyone.body.data.map((c: Json) => c.email).sort()).toEqual([
      "ann@example.com",
      "dan@example.com",
    ]);

    // Events: a line that is not JSON and a type name the API refuses are rejected with their
    // line numbers; a custom type is accepted (SPEC §2: any name matching [a-z0-9_.:-]{1,64}).
    const events = [
      JSON.stringify({
        type: "order_placed",
        contact: { email: "ann@example.com" },
        properties: { amount: 12 },
      }),
      "{not json",
      JSON.stringify({ type: "webinar_attended", contact: { email: "ann@example.com" } }),
      JSON.stringify({ type: "Bad Type!", contact: { email: "ann@example.com" } }),
      "",
      JSON.stringify({
        type: "page_viewed",
        contact: { email: "eve@example.com" },
        timestamp: "2025-01-02T03:04:05Z",
      }),
    ].join("\n");
    const evStarted = await raw("POST", "/v1/imports", events, "application/x-ndjson");
    expect(evStarted.status, evStarted.text).toBe(202);
    expect(evStarted.body.kind).toBe("events");
    const evJob = await finished(call, evStarted.body.id);
    expect(evJob).toMatchObject({ status: "done", processed: 5, accepted: 3, rejected: 2 });
    expect(evJob.errors.map((e: Json) => e.row)).toEqual([2, 4]);
    expect(evJob.errors[0].error).toMatch(/JSON/);
    expect(evJob.errors[1].error).toMatch(/type/);
    const annEvents = await call("GET", `/v1/contacts/${ann.id}/events`);
    expect(annEvents.body.data.map((e: Json) => e.type).sort()).toEqual(["order_placed", "webinar_attended"]);
    const customers = await call("GET", "/v1/segments/customers/contacts");
    expect(customers.body.data.map((c: Json) => c.id)).toEqual([ann.id]);
    const eve = (await call("GET", "/v1/contacts")).body.data.find(
      (c: Json) => c.email === "eve@example.com",
    );
    expect(eve).toBeDefined();
    const eveEvents = await call("GET", `/v1/contacts/${eve.id}/events`);
    expect(eveEvents.body.data).toHaveLength(1);
    expect(eveEvents.body.data[0]).toMatchObject({ type: "page_viewed" });
    expect(Date.parse(eveEvents.body.data[0].timestamp)).toBe(Date.parse("2025-01-02T03:04:05Z"));

    // The list, newest first.
    const list = await call("GET", "/v1/imports");
    expect(list.status).toBe(200);
    expect(list.body.data.map((j: Json) => j.id)).toEqual([evStarted.body.id, started.body.id]);
    expect(list.body.next_cursor).toBeNull();
    expect((await call("GET", "/v1/imports?limit=1")).body.data.map((j: Json) => j.id)).toEqual([
      evStarted.body.id,
    ]);

    // Refused at once: a dynamic or unknown segment, a mapping that is not JSON, no file; an unknown import.
    const dyn = await raw("POST", `/v1/imports?segment_id=${dynamic.body.id}`, file, "text/csv");
    expect(dyn.status).toBe(400);
    expect(dyn.body.error.details.path).toBe("segment_id");
    expect((await raw("POST", "/v1/imports?segment_id=seg_nope", file, "text/csv")).status).toBe(404);
    const badMapping = await raw("POST", "/v1/imports?mapping=%7Bnope", file, "text/csv");
    expect(badMapping.status).toBe(400);
    expect(badMapping.body.error.details.path).toBe("mapping");
    expect((await call("POST", "/v1/imports", { rows: [] })).status).toBe(400);
    // Contact-import options on an events import are refused at once too.
    const evMapping = await raw(
      "POST",
      `/v1/imports?mapping=${encodeURIComponent("{}")}`,
      "{}",
      "application/x-ndjson",
    );
    expect(evMapping.status, evMapping.text).toBe(400);
    expect(evMapping.body.error.details.path).toBe("mapping");
    const evSegment = await raw("POST", `/v1/imports?kind=events&segment_id=${S}`, "{}", "text/plain");
    expect(evSegment.status, evSegment.text).toBe(400);
    expect(evSegment.body.error.details.path).toBe("segment_id");
    expect((await call("GET", "/v1/imports")).body.data).toHaveLength(2);
    expect((await call("GET", "/v1/imports/imp_nope")).status).toBe(404);

    // A mapping that does not fit the header fails the job as a whole, with the reason.
    const misfit = await raw(
      "POST",
      `/v1/imports?mapping=${encodeURIComponent('{"Mail":"email"}')}`,
      file,
      "text/csv",
    );
    expect(misfit.status, misfit.text).toBe(202);
    const misfitJob = await finished(call, misfit.body.id);
    expect(misfitJob.status).toBe("failed");
    expect(misfitJob.failure).toContain("Mail");
  });

  it("imports: a file bigger than the stream buffers is read whole after the 202", async () => {
    const { call, raw } = await workspace("imports-big");
    const rows = 3000;
    const pad = "x".repeat(500);
    const lines = ["email,note"];
    for (let i = 0; i < rows; i++) lines.push(`big${i}@example.com,${pad}`);
    const file = `${lines.join("\n")}\n`;
    expect(file.length).toBeGreaterThan(1_000_000);
    const started = await raw(
      "POST",
      `/v1/imports?mapping=${encodeURIComponent('{"email":"email"}')}`,
      file,
      "text/csv",
    );
    expect(started.status, started.text).toBe(202);
    const job = await finished(call, started.body.id);
    expect(job).toMatchObject({ status: "done", processed: rows, accepted: rows, rejected: 0, errors: [] });
    const all = await call("GET", "/v1/segments");
    expect(all.body.data.find((s: Json) => s.id === "all").size).toBe(rows);
  });
});
