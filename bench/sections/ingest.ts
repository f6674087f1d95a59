/**
 * Ingest by contact reference, over real HTTP: the same events posted to
 * `POST /v1/events` naming their contacts by id, by email and by external id, on one
 * server (a child process over a fresh SQLite file) holding 100,000 contacts and no
 * segments but the defaults, in batches of 1,000 with 4 requests in flight. Reports
 * events/s for each and the ratios to the by-id rate of the same run: naming a contact
 * by email or external id should cost about what naming it by id does.
 *
 * With a Segment-compatible route (`/segment/v1/batch`) on the server, also the rate of
 * `track` calls through it, their `userId` being the contacts' external ids.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DatasetSpec, generateContacts } from "../../src/demo/generate.ts";
import { rng } from "../../src/demo/random.ts";
import { openStore } from "../../src/store/index.ts";
import type { ContactWrite } from "../../src/store/types.ts";
import type { Section } from "../context.ts";
import { post, type ServerHandle, startServerProcess } from "../http-server.ts";
import { fmtInt, log, round, table } from "../util.ts";

const KEY = "sk_ingest_bench_admin_0123456789";
const WS = "ws_default";
const BATCH = 1000;
const INFLIGHT = 4;
/**
 * Timed batches per reference kind and round, and rounds: the kinds take turns in short
 * rounds, so that a burst of other work on the machine weighs on all of them alike.
 */
const BATCHES = 50;
const ROUNDS = 6;
/** Untimed batches by id first (the server's JIT). */
const WARMUP_BATCHES = 50;
/** Segment `track` calls: 1,000 batches of 1,000. */
const SEGMENT_BATCHES = 1000;

type RefKind = "id" | "email" | "external_id";
const KINDS: readonly RefKind[] = ["id", "email", "external_id"];
const TAG: Record<RefKind, string> = { id: "i", email: "m", external_id: "x" };

/** A generated contact's external id; upper case in it, as many user ids have. */
export const externalIdOf = (i: number): string => `User-${i}`;
const emailOf = (i: number): string => `user${i}@example.com`;

function refOf(kind: RefKind, i: number): Record<string, string> {
  if (kind === "id") return { id: `c${i}` };
  if (kind === "email") return { email: emailOf(i) };
  return { external_id: externalIdOf(i) };
}

const TYPES = ["email_sent", "email_opened", "email_clicked", "page_viewed", "order_placed", "cart_added"];

interface Drawn {
  contact: number;
  type: string;
  properties: Record<string, string | number>;
}

/** One batch's events; the same draws whatever the reference kind. */
function drawBatch(r: () => number, contacts: number): Drawn[] {
  const out: Drawn[] = new Array(BATCH);
  for (let j = 0; j < BATCH; j++) {
    const type = TYPES[Math.floor(r() * r() * TYPES.length)]!;
    out[j] = {
      contact: Math.floor(r() * contacts),
      type,
      properties:
        type === "order_placed"
          ? { amount: Math.round(r() * 40000) / 100, currency: "EUR" }
          : { campaign_id: Math.floor(r() * 200) },
    };
  }
  return out;
}

function eventsBody(kind: RefKind, tag: string, drawn: Drawn[], at: string): string {
  return JSON.stringify(
    drawn.map((d, j) => ({
      id: `${tag}-${j}`,
      type: d.type,
      contact: refOf(kind, d.contact),
      timestamp: at,
      properties: d.properties,
    })),
  );
}

/** A Segment HTTP API batch of `track` calls (userId: the contact's external id). */
export function segmentBatchBody(tag: string, drawn: Drawn[], at: string): string {
  return JSON.stringify({
    batch: drawn.map((d, j) => ({
      type: "track",
      userId: externalIdOf(d.contact),
      event: d.type,
      properties: d.properties,
      messageId: `${tag}-${j}`,
      timestamp: at,
    })),
  });
}

/** Segment's HTTP API authenticates with the write key as user name and no password. */
export const segmentAuthorization = (key: string): string =>
  `Basic ${Buffer.from(`${key}:`).toString("base64")}`;

/**
 * Posts the bodies from INFLIGHT concurrent senders; every request must answer 200 and
 * its answer pass `accepted`. Returns events/s.
 */
export async function sendAll(
  url: string,
  authorization: string,
  bodies: string[],
  accepted: (answer: string) => boolean,
): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    for (;;) {
      const k = next++;
      if (k >= bodies.length) return;
      const payload = bodies[k]!;
      bodies[k] = "";
      const res = await post(url, authorization, payload);
      if (res.status !== 200 || !accepted(res.body)) {
        throw new Error(`ingest: ${url} answered ${res.status}: ${res.body.slice(0, 300)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: INFLIGHT }, worker));
  return (bodies.length * BATCH) / ((performance.now() - t0) / 1000);
}

const allAccepted = (answer: string) => (JSON.parse(answer) as { accepted?: number }).accepted === BATCH;

/** Events/s of 1M `track` calls through `/segment/v1/batch`; null when the server has no such route. */
export async function segmentRate(
  server: ServerHandle,
  contacts: number,
  seed: number,
): Promise<number | null> {
  const url = `${server.url}/segment/v1/batch`;
  const auth = segmentAuthorization(KEY);
  const r = rng(seed, 11);
  const at = new Date().toISOString();
  const probe = await post(url, auth, segmentBatchBody("seg-probe", drawBatch(r, contacts).slice(0, 1), at));
  if (probe.status !== 200) {
    log(`ingest: ${url} answered ${probe.status} (${probe.body.slice(0, 200)}): no Segment figure`);
    return null;
  }
  const bodies = Array.from({ length: SEGMENT_BATCHES }, (_, k) =>
    segmentBatchBody(`seg-${k}`, drawBatch(r, contacts), at),
  );
  return sendAll(url, auth, bodies, allAccepted);
}

async function writeContacts(path: string, spec: DatasetSpec): Promise<void> {
  const store = await openStore({ sqlitePath: path });
  try {
    await store.createWorkspace({ id: WS, name: "Default", time_zone: "UTC" });
    await store.workspace(WS).fields.create({ key: "plan", type: "string" });
    let batch: ContactWrite[] = [];
    let i = 0;
    for (const c of generateContacts(spec)) {
      batch.push({ ...(c as ContactWrite), external_id: externalIdOf(i++) });
      if (batch.length === 10_000) {
        await store.workspace(WS).contacts.put(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await store.workspace(WS).contacts.put(batch);
  } finally {
    await store.close();
  }
}

export const ingestSection: Section = {
  name: "ingest",

  async run(ctx) {
    const contacts = Math.max(1000, Math.min(100_000, ctx.opts.spec.contacts));
    const spec: DatasetSpec = { ...ctx.opts.spec, contacts, events: 0 };
    const dir = mkdtempSync(join(tmpdir(), "slice-ingest-"));
    const path = join(dir, "slice.db");
    try {
      await writeContacts(path, spec);
      log(`ingest: ${fmtInt(contacts)} contacts (with external ids) stored`);
      const server = await startServerProcess(path, KEY);
      let sent = 0;
      let segmentSent = 0;
      const rates = new Map<RefKind, number[]>(KINDS.map((k) => [k, []]));
      let segment: number | null = null;
      try {
        const url = `${server.url}/v1/events`;
        const auth = `Bearer ${KEY}`;
        const r = rng(spec.seed, 10);
        const at = new Date().toISOString();
        const warm = Array.from({ length: WARMUP_BATCHES }, (_, k) =>
          eventsBody("id", `warm-${k}`, drawBatch(r, contacts), at),
        );
        await sendAll(url, auth, warm, allAccepted);
        sent += warm.length * BATCH;
        for (let turn = 0; turn < ROUNDS; turn++) {
          const drawn = Array.from({ length: BATCHES }, () => drawBatch(r, contacts));
          // Each round starts with the next kind, so that none always comes first.
          const order = KINDS.map((_, j) => KINDS[(turn + j) % KINDS.length]!);
          for (const kind of order) {
            // Bodies made before the clock starts: the sender shares the cores with the server.
            // Event ids of one length whatever the kind: the store indexes them.
            const bodies = drawn.map((d, k) => eventsBody(kind, `${TAG[kind]}-${turn}-${k}`, d, at));
            const rate = await sendAll(url, auth, bodies, allAccepted);
            sent += BATCHES * BATCH;
            rates.get(kind)!.push(rate);
            log(`ingest: round ${turn + 1}, by ${kind}: ${fmtInt(Math.round(rate))} events/s`);
          }
        }
        segment = await segmentRate(server, contacts, spec.seed);
        if (segment !== null) {
          segmentSent = SEGMENT_BATCHES * BATCH + 1;
          log(`ingest: /segment/v1/batch: ${fmtInt(Math.round(segment))} events/s`);
        }
      } finally {
        await server.stop();
      }
      const store = await openStore({ sqlitePath: path });
      const [stored, storedContacts] = [
        await store.workspace(WS).events.count(),
        await store.workspace(WS).contacts.count(),
      ];
      await store.close();
      if (stored !== sent + segmentSent || storedContacts !== contacts) {
        throw new Error(
          `ingest: the store holds ${stored} events and ${storedContacts} contacts, expected ${sent + segmentSent} and ${contacts}`,
        );
      }
      // The rate of all the kind's events over the rounds: total events / total time.
      const rateOf = (kind: RefKind) => {
        const rs = rates.get(kind)!;
        return Math.round(rs.length / rs.reduce((a, x) => a + 1 / x, 0));
      };
      const byId = rateOf("id");
      const byEmail = rateOf("email");
      const byExternal = rateOf("external_id");
      ctx.json.ingest_by_id = byId;
      ctx.json.ingest_by_email = byEmail;
      ctx.json.ingest_by_external_id = byExternal;
      ctx.json.ingest_email_ratio = round(byEmail / byId, 3);
      ctx.json.ingest_external_id_ratio = round(byExternal / byId, 3);
      ctx.json.ingest_segment = segment === null ? null : Math.round(segment);
      ctx.json.ingest_contacts = contacts;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },

  report(ctx) {
    const j = ctx.json;
    if (j.ingest_by_id === undefined) return [];
    const seg = j.ingest_segment as number | null;
    return [
      `Ingest over HTTP by contact reference (${fmtInt(j.ingest_contacts as number)} contacts, default segments, batches of ${fmtInt(BATCH)}, ${INFLIGHT} in flight)`,
      ...table([
        ["contacts named by", "events/s", "of the by-id rate"],
        ["id", fmtInt(j.ingest_by_id as number), "1"],
        ["email", fmtInt(j.ingest_by_email as number), String(j.ingest_email_ratio)],
        ["external_id", fmtInt(j.ingest_by_external_id as number), String(j.ingest_external_id_ratio)],
        [
          "Segment track (/segment/v1/batch, userId)",
          seg === null ? "no such route" : fmtInt(seg),
          seg === null ? "" : String(round(seg / (j.ingest_by_id as number), 3)),
        ],
      ]),
    ];
  },
};
