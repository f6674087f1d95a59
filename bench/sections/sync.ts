/**
 * Live sync lag (docs/destinations.md): how long after a write that changes a segment
 * the destination's provider gets the call. One server (a child process over a fresh
 * SQLite file) with 20,000 contacts, half of them in the segment; an `http` destination
 * and, as the yardstick on the same changes, a webhook subscription, both to a receiver
 * in this process. After the first full sync, 1,000 contacts a second change side for
 * 20 s (batches of 100 every 100 ms). Lag = when the receiver got the contact − when
 * the write that moved it was acknowledged (the change is logged at or after that, so
 * this overstates the lag a little). Reports p50 / p99 / max of both and their ratio.
 */
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Section } from "../context.ts";
import { post, startServerProcess } from "../http-server.ts";
import { fmtInt, log, percentile, round, table } from "../util.ts";

const KEY = "sk_sync_bench_admin_0123456789";
const SECRET_KEY = "sync-bench-secret-key-0123456789";
const CONTACTS = 20_000;
const PER_SECOND = 1_000;
const SECONDS = 20;
const TICK_MS = 100;

const emailOf = (i: number) => `s${i}@example.com`;

interface Receiver {
  url: string;
  /** email → when the destination's call carrying it arrived (the last one). */
  destination: Map<string, number>;
  /** contact id → when its webhook delivery arrived (the last one). */
  webhook: Map<string, number>;
  /** contact id → email, from the destination's calls (wire contacts carry both). */
  emails: Map<string, string>;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const r: Omit<Receiver, "url" | "close"> = {
    destination: new Map(),
    webhook: new Map(),
    emails: new Map(),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const now = performance.now();
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        contacts?: { id: string; email: string | null }[];
        data?: { contact_id: string };
      };
      if (req.url === "/hook" && body.data) r.webhook.set(body.data.contact_id, now);
      for (const c of body.contacts ?? []) {
        if (c.email) {
          r.destination.set(c.email, now);
          r.emails.set(c.id, c.email);
        }
      }
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", () => done()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { ...r, url, close: () => new Promise((done) => server.close(() => done())) };
}

async function call(base: string, path: string, body: unknown): Promise<unknown> {
  const res = await post(`${base}${path}`, `Bearer ${KEY}`, JSON.stringify(body));
  if (res.status >= 300) throw new Error(`sync bench: ${path} answered ${res.status}: ${res.body}`);
  return res.body ? JSON.parse(res.body) : null;
}

function stats(lags: number[]) {
  const sorted = Float64Array.from(lags).sort();
  return {
    p50: round(percentile(sorted, 50) / 1000, 3),
    p99: round(percentile(sorted, 99) / 1000, 3),
    max: round(sorted[sorted.length - 1]! / 1000, 3),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const syncSection: Section = {
  name: "sync",

  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), "slice-sync-"));
    const receiver = await startReceiver();
    const before = process.env.SLICE_SECRET_KEY;
    process.env.SLICE_SECRET_KEY = SECRET_KEY;
    const server = await startServerProcess(join(dir, "slice.db"), KEY).finally(() => {
      if (before === undefined) delete process.env.SLICE_SECRET_KEY;
      else process.env.SLICE_SECRET_KEY = before;
    });
    try {
      const country = (i: number, flipped: boolean) => ((i % 2 === 0) !== flipped ? "FR" : "DE");
      for (let from = 0; from < CONTACTS; from += 10_000) {
        const contacts = [];
        for (let i = from; i < from + 10_000; i++) {
          contacts.push({ email: emailOf(i), country: country(i, false), status: "subscribed" });
        }
        await call(server.url, "/v1/contacts/batch", { contacts });
      }
      const seg = (await call(server.url, "/v1/segments", {
        name: "France",
        rule: { type: "field", field: "country", op: "eq", value: "FR" },
      })) as { id: string };
      await call(server.url, "/v1/webhooks", { url: `${receiver.url}/hook`, segment_id: seg.id });
      await call(server.url, "/v1/destinations", {
        name: "bench",
        kind: "http",
        segment_id: seg.id,
        config: { add_url: `${receiver.url}/add`, remove_url: `${receiver.url}/remove` },
      });
      // The first full sync: every member once.
      for (let t = 0; receiver.destination.size < CONTACTS / 2; t++) {
        if (t > 1200) throw new Error("sync bench: the first full sync did not finish in 2 minutes");
        await sleep(100);
      }
      log(`sync: first full sync of ${fmtInt(CONTACTS / 2)} members done`);
      // Contacts not synced yet (odd ones, entering) are known by email only: their ids come with their adds.
      receiver.destination.clear();
      receiver.webhook.clear();

      const acked = new Map<string, number>();
      const perTick = (PER_SECOND * TICK_MS) / 1000;
      const ticks = (SECONDS * 1000) / TICK_MS;
      const start = performance.now();
      const inflight: Promise<void>[] = [];
      for (let t = 0; t < ticks; t++) {
        const due = start + t * TICK_MS;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        const batch: { email: string; country: string }[] = [];
        for (let k = 0; k < perTick; k++) {
          const i = t * perTick + k;
          batch.push({ email: emailOf(i), country: country(i, true) });
        }
        inflight.push(
          call(server.url, "/v1/contacts/batch", { contacts: batch }).then(() => {
            const at = performance.now();
            for (const c of batch) acked.set(c.email, at);
          }),
        );
      }
      await Promise.all(inflight);
      const changes = ticks * perTick;
      const driveS = (performance.now() - start) / 1000;
      for (let t = 0; receiver.destination.size < changes || receiver.webhook.size < changes; t++) {
        if (t > 600) throw new Error("sync bench: changes did not all arrive within 60 s");
        await sleep(100);
      }
      const destLags: number[] = [];
      for (const [email, at] of acked) destLags.push(receiver.destination.get(email)! - at);
      const hookLags: number[] = [];
      const emailToId = new Map([...receiver.emails].map(([id, e]) => [e, id]));
      for (const [email, at] of acked) {
        const id = emailToId.get(email);
        const got = id === undefined ? undefined : receiver.webhook.get(id);
        if (got !== undefined) hookLags.push(got - at);
      }
      const d = stats(destLags);
      const w = stats(hookLags);
      ctx.json.sync = {
        changes,
        changes_per_s: Math.round(changes / driveS),
        destination_lag_s: d,
        webhook_lag_s: w,
        webhook_samples: hookLags.length,
        p99_ratio: round(d.p99 / Math.max(0.001, w.p99), 2),
      };
      log(`sync: destination p99 ${d.p99} s, webhook p99 ${w.p99} s`);
    } finally {
      await server.stop();
      await receiver.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },

  report(ctx) {
    const s = ctx.json.sync as
      | {
          changes: number;
          changes_per_s: number;
          destination_lag_s: { p50: number; p99: number; max: number };
          webhook_lag_s: { p50: number; p99: number; max: number };
          p99_ratio: number;
        }
      | undefined;
    if (!s) return [];
    return [
      `Live sync lag: ${fmtInt(s.changes)} membership changes at ${fmtInt(s.changes_per_s)}/s, write acknowledged → receiver got it (seconds)`,
      ...table([
        ["path", "p50", "p99", "max"],
        [
          "http destination (batched)",
          String(s.destination_lag_s.p50),
          String(s.destination_lag_s.p99),
          String(s.destination_lag_s.max),
        ],
        [
          "webhook, one per change (yardstick)",
          String(s.webhook_lag_s.p50),
          String(s.webhook_lag_s.p99),
          String(s.webhook_lag_s.max),
        ],
      ]),
      `destination p99 / webhook p99: ${s.p99_ratio}`,
    ];
  },
};
