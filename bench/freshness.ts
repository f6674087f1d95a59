/**
 * The freshness probe of the HTTP load test: how long after an event is acknowledged its
 * membership change reaches a webhook receiver, while the load streams in.
 *
 * Set up through the REST API, as a user would: a segment that one `probe_ping` event
 * makes a contact enter (`probe_ping` in the last day, at least once), probe contacts
 * the load never names (external id `probe-<k>`; the load's contacts are `c<n>`), and a webhook
 * subscription for that segment's `segment.entered` pointing at a receiver on 127.0.0.1
 * in this process. Each probe sends one event for a fresh probe contact, in a request of
 * its own, so it yields exactly one change and one delivery. Latency runs from the
 * moment the probe's `200` answer arrived to the moment the delivery arrived, both on
 * this process's clock. Every delivery's Standard Webhooks signature is checked against
 * the secret the API answered at creation; a delivery that is unsigned or signed wrong
 * counts as a failure (the receiver answers 400 and the probe is not delivered).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { post } from "./http-server.ts";
import { percentile, round } from "./util.ts";

export interface FreshnessResult {
  /** Probe events sent, and how many of them were acknowledged (stored). */
  probes: number;
  acknowledged: number;
  delivered: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  /** Deliveries refused for a missing or wrong signature. */
  bad_signatures: number;
  /** The five slowest probes: seconds from the first probe to the acknowledgement, and ms to delivery. */
  slowest: { at_s: number; ms: number }[];
}

export interface FreshnessProbe {
  /** Sends a probe every `everyMs` until `stop`. */
  start(everyMs: number): void;
  /** Stops probing, waits up to `waitMs` for the deliveries still due, closes the receiver. */
  finish(waitMs: number): Promise<FreshnessResult>;
}

const PROBE_EVENT = "probe_ping";

/**
 * The HMAC key of a secret as Standard Webhooks keys it: the base64 after `whsec_`
 * decoded, any other secret its characters (src/service/standard-webhooks.ts).
 */
function signingKey(secret: string): Buffer {
  return secret.startsWith("whsec_")
    ? Buffer.from(secret.slice("whsec_".length), "base64")
    : Buffer.from(Uint8Array.from(secret, (c) => c.charCodeAt(0)));
}

/** Some `v1,<base64>` of `webhook-signature` is the HMAC-SHA256 of `<id>.<timestamp>.<body>`. */
function signedRight(key: Buffer, headers: http.IncomingHttpHeaders, body: string): boolean {
  const id = headers["webhook-id"];
  const ts = headers["webhook-timestamp"];
  const sig = headers["webhook-signature"];
  if (typeof id !== "string" || typeof ts !== "string" || typeof sig !== "string") return false;
  const expected = createHmac("sha256", key).update(`${id}.${ts}.${body}`, "utf8").digest();
  return sig.split(" ").some((part) => {
    if (!part.startsWith("v1,")) return false;
    const got = Buffer.from(part.slice(3), "base64");
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

async function api(url: string, auth: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await post(`${url}${path}`, auth, JSON.stringify(body));
  if (res.status < 200 || res.status >= 300) {
    throw new Error(`freshness: POST ${path} answered ${res.status}: ${res.body.slice(0, 300)}`);
  }
  const out = JSON.parse(res.body) as Record<string, unknown>;
  if (Array.isArray(out.errors) && out.errors.length > 0) {
    throw new Error(`freshness: POST ${path}: ${JSON.stringify(out.errors.slice(0, 3))}`);
  }
  return out;
}

/**
 * Starts the receiver and sets up the segment, `contacts` probe contacts and the
 * subscription on the server at `url`. Call before the load starts.
 */
export async function setUpFreshnessProbe(
  url: string,
  key: string,
  contacts: number,
): Promise<FreshnessProbe> {
  const auth = `Bearer ${key}`;
  const ackedAt = new Map<string, number>();
  const deliveredAt = new Map<string, number>();
  let bad = 0;
  let secretKey: Buffer | null = null;
  let onDelivery: (() => void) | null = null;

  const receiver = http.createServer((req, res) => {
    const at = performance.now();
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      if (secretKey === null || !signedRight(secretKey, req.headers, body)) {
        bad++;
        res.writeHead(400).end();
        return;
      }
      res.writeHead(204).end();
      const msg = JSON.parse(body) as { type?: string; data?: { contact_id?: string } };
      const contact = msg.data?.contact_id;
      // At-least-once: the first arrival counts.
      if (msg.type === "segment.entered" && contact && !deliveredAt.has(contact)) {
        deliveredAt.set(contact, at);
        onDelivery?.();
      }
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const port = (receiver.address() as AddressInfo).port;

  const segment = await api(url, auth, "/v1/segments", {
    name: "freshness probe",
    rule: { type: "event", event: PROBE_EVENT, window: { in_last: "1d" }, op: "gte", value: 1 },
  });
  const segmentId = String(segment.id);
  // Upserted one by one: the answer names the id Slice gave, which the delivery carries.
  const probeIds: string[] = [];
  for (let k = 0; k < contacts; k++) {
    const c = await api(url, auth, "/v1/contacts", { external_id: `probe-${k}` });
    probeIds.push(String(c.id));
  }
  const hook = await api(url, auth, "/v1/webhooks", {
    url: `http://127.0.0.1:${port}/hook`,
    events: ["segment.entered"],
    segment_id: segmentId,
  });
  secretKey = signingKey(String(hook.secret));

  let sent = 0;
  let timer: NodeJS.Timeout | null = null;
  let startedAt = performance.now();
  const inflight = new Set<Promise<void>>();
  const failed: string[] = [];
  const probe = async () => {
    if (sent >= contacts) return;
    const contact = probeIds[sent]!;
    const res = await post(
      `${url}/v1/events`,
      auth,
      JSON.stringify({ id: `probe-${sent++}-ping`, type: PROBE_EVENT, contact: { id: contact } }),
    );
    if (res.status !== 200)
      throw new Error(`freshness: a probe answered ${res.status}: ${res.body.slice(0, 300)}`);
    ackedAt.set(contact, performance.now());
  };

  return {
    start(everyMs) {
      startedAt = performance.now();
      timer = setInterval(() => {
        // A probe that fails is counted as sent and never delivered: the run fails.
        const p = probe()
          .catch((e: unknown) => {
            failed.push(String(e));
          })
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }, everyMs);
    },
    async finish(waitMs) {
      if (timer) clearInterval(timer);
      await Promise.all([...inflight]);
      const deadline = performance.now() + waitMs;
      while (failed.length === 0 && deliveredAt.size < sent && performance.now() < deadline) {
        await new Promise<void>((resolve) => {
          onDelivery = resolve;
          setTimeout(resolve, 100);
        });
      }
      onDelivery = null;
      receiver.closeAllConnections();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
      const latencies: number[] = [];
      const timed: { at_s: number; ms: number }[] = [];
      for (const [contact, acked] of ackedAt) {
        const at = deliveredAt.get(contact);
        // A delivery can be read before its probe's answer is: that is no wait at all.
        if (at === undefined) continue;
        latencies.push(Math.max(0, at - acked));
        timed.push({ at_s: round((acked - startedAt) / 1000, 1), ms: round(Math.max(0, at - acked), 1) });
      }
      for (const f of failed.slice(0, 3)) process.stderr.write(`${f}\n`);
      const sorted = Float64Array.from(latencies).sort();
      return {
        probes: sent,
        acknowledged: ackedAt.size,
        delivered: latencies.length,
        p50_ms: round(percentile(sorted, 50), 1),
        p99_ms: round(percentile(sorted, 99), 1),
        max_ms: round(sorted[sorted.length - 1] ?? 0, 1),
        bad_signatures: bad,
        slowest: timed.sort((a, b) => b.ms - a.ms).slice(0, 5),
      };
    },
  };
}
