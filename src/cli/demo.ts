/**
 * `slice serve --demo`: fills an empty default workspace with the benchmark's generated
 * data (src/demo/generate.ts, against the current time) and a few example segments, all
 * written through the service's own validated write paths, in batches, so the store,
 * the engine and the change log hold exactly what an API client would have produced.
 */
import { DAY, generateContacts, generateEvents } from "../demo/generate.ts";
import { DEFAULT_WORKSPACE_ID, type Slice } from "../service/slice.ts";
import type { WorkspaceService } from "../service/workspace.ts";
import { num } from "./output.ts";

export interface DemoOptions {
  contacts: number;
  events: number;
  seed?: number;
  now?: number;
  log: (line: string) => void;
}

const BATCH = 5_000;

// biome-ignore format: a list reads better packed
const FIRST_NAMES = [
  "Ana", "Ben", "Chloé", "David", "Emma", "Felix", "Grace", "Hugo", "Inès", "Jack",
  "Kenji", "Léa", "Mateo", "Nora", "Oscar", "Priya", "Quentin", "Rosa", "Sam", "Tara",
  "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoé",
];
// biome-ignore format: a list reads better packed
const LAST_NAMES = [
  "Martin", "Smith", "Müller", "Garcia", "Rossi", "Dubois", "Johnson", "Silva", "Nowak",
  "Kim", "Jensen", "Novak", "Brown", "Lopez", "Bernard", "Tanaka", "Cohen", "Okafor",
];

/** Custom segments created with the demo data (names are also how a re-run skips them). */
export const DEMO_SEGMENTS: { name: string; description: string; kind?: "static"; rule?: unknown }[] = [
  {
    name: "Engaged buyers in France",
    description: "In France, opened an email in the last 30 days and ordered in the last year.",
    rule: {
      type: "and",
      conditions: [
        { type: "field", field: "country", op: "eq", value: "FR" },
        { type: "event", event: "email_opened", window: { in_last: "30d" }, op: "gte", value: 1 },
        { type: "event", event: "order_placed", window: { in_last: "365d" }, op: "gte", value: 1 },
      ],
    },
  },
  {
    name: "Subscribed, no open in 90 days",
    description: "Subscribed contacts who have not opened an email in the last 90 days.",
    rule: {
      type: "and",
      conditions: [
        { type: "field", field: "status", op: "eq", value: "subscribed" },
        { type: "event", event: "email_opened", window: { in_last: "90d" }, op: "eq", value: 0 },
      ],
    },
  },
  {
    name: "Big spenders, nothing this month",
    description: "Spent over 200 in the last 6 months, but no order in the last 30 days.",
    rule: {
      type: "and",
      conditions: [
        {
          type: "event",
          event: "order_placed",
          window: { in_last: "180d" },
          measure: { fn: "sum", property: "amount" },
          op: "gt",
          value: 200,
        },
        { type: "event", event: "order_placed", window: { in_last: "30d" }, op: "eq", value: 0 },
      ],
    },
  },
  {
    name: "Cart abandoners this week",
    description: "Added to cart in the last 7 days, no order since.",
    rule: {
      type: "and",
      conditions: [
        { type: "event", event: "cart_added", window: { in_last: "7d" }, op: "gte", value: 1 },
        { type: "event", event: "order_placed", window: { in_last: "7d" }, op: "eq", value: 0 },
      ],
    },
  },
  {
    name: "Paying plans in North America",
    description: "On the pro or enterprise plan, in the US or Canada.",
    rule: {
      type: "and",
      conditions: [
        { type: "field", field: "plan", op: "in", value: ["pro", "enterprise"] },
        { type: "field", field: "country", op: "in", value: ["US", "CA"] },
      ],
    },
  },
  {
    name: "VIP list",
    description: "A hand-picked static list (the demo adds ten big spenders to it, for 30 days).",
    kind: "static",
  },
];

/** Deterministic small hash of a contact number, to pick names and tags. */
function pick(i: number, salt: number): number {
  let x = (i + 1) * 2654435761 + salt * 40503;
  x ^= x >>> 13;
  x = Math.imul(x, 0x5bd1e995);
  x ^= x >>> 15;
  return x >>> 0;
}

async function ensurePlanField(ws: WorkspaceService): Promise<void> {
  if (ws.registry.get("plan")) return;
  await ws.createField({ key: "plan", type: "string", label: "Plan" });
}

/** True when the demo data was loaded; false when the workspace was not empty. */
export async function loadDemo(slice: Slice, opts: DemoOptions): Promise<boolean> {
  const log = opts.log;
  const ws = await slice.workspace(DEFAULT_WORKSPACE_ID);
  const existing = (await ws.engine.members("all")).count;
  if (existing > 0) {
    log(`demo: the default workspace already has ${num(existing)} contacts; no demo data loaded`);
    return false;
  }
  const spec = {
    seed: opts.seed ?? 7,
    contacts: opts.contacts,
    events: opts.events,
    now: opts.now ?? slice.clock.now(),
  };
  const t0 = performance.now();
  log(
    `demo: loading ${num(spec.contacts)} contacts and ${num(spec.events)} events into the default workspace`,
  );
  await ensurePlanField(ws);

  // Contacts, by email: the service assigns the ids; `ids[i]` is generated contact i's.
  const ids: string[] = new Array(spec.contacts);
  let batch: Record<string, unknown>[] = [];
  let first = 0;
  let done = 0;
  const flushContacts = async () => {
    if (batch.length === 0) return;
    const { result, ids: written } = await ws.upsertContactsWithIds(batch);
    const failed = new Set(result.errors.map((e) => e.index));
    let k = 0;
    batch.forEach((_, j) => {
      if (!failed.has(j)) ids[first + j] = written[k++]!;
    });
    for (const e of result.errors.slice(0, 3)) log(`demo: contact rejected: ${e.error}`);
    done += batch.length;
    first = done;
    batch = [];
    log(`demo: contacts ${num(done)} / ${num(spec.contacts)}`);
  };
  let i = 0;
  for (const c of generateContacts(spec)) {
    const h = pick(i, 1);
    const plan = c.fields?.plan;
    const tags =
      c.status === "subscribed" ? (h % 3 === 0 ? ["newsletter", "product-updates"] : ["newsletter"]) : [];
    batch.push({
      email: c.email,
      first_name: FIRST_NAMES[h % FIRST_NAMES.length],
      last_name: LAST_NAMES[pick(i, 2) % LAST_NAMES.length],
      ...(c.country ? { country: c.country } : {}),
      status: c.status,
      email_status: c.email_status,
      tags,
      created_at: new Date(c.created_at as number).toISOString(),
      ...(c.subscribed_at != null
        ? { subscribed_at: new Date(c.subscribed_at as number).toISOString() }
        : {}),
      ...(typeof plan === "string" ? { fields: { plan } } : {}),
    });
    i++;
    if (batch.length === BATCH) await flushContacts();
  }
  await flushContacts();

  // Events, by contact id, in batches; progress about ten times over the run.
  const every = Math.max(BATCH, Math.ceil(spec.events / 10 / BATCH) * BATCH);
  let events: Record<string, unknown>[] = [];
  let sent = 0;
  let accepted = 0;
  let nextReport = every;
  const flushEvents = async () => {
    if (events.length === 0) return;
    const r = await ws.ingest(events);
    accepted += r.accepted;
    sent += events.length;
    events = [];
    if (sent >= nextReport || sent === spec.events) {
      log(`demo: events ${num(sent)} / ${num(spec.events)}`);
      while (nextReport <= sent) nextReport += every;
    }
  };
  for (const e of generateEvents(spec)) {
    const id = ids[Number(e.contact_id.slice(1))];
    if (id === undefined) continue;
    events.push({
      type: e.type,
      contact: { id },
      timestamp: new Date(e.timestamp as number).toISOString(),
      ...(e.properties ? { properties: e.properties } : {}),
    });
    if (events.length === BATCH) await flushEvents();
  }
  await flushEvents();

  // Example segments (skipping names that exist already).
  const names = new Set((await ws.listSegments()).map((s) => s.name));
  const created: { id: string; name: string; size: number }[] = [];
  for (const s of DEMO_SEGMENTS) {
    if (names.has(s.name)) continue;
    const seg = await ws.createSegment({
      name: s.name,
      description: s.description,
      ...(s.kind ? { kind: s.kind } : {}),
      ...(s.rule !== undefined ? { rule: s.rule } : {}),
    });
    created.push({ id: seg.id, name: seg.name, size: seg.size });
  }
  const vip = created.find((s) => s.name === "VIP list");
  const spenders = created.find((s) => s.name === "Big spenders, nothing this month");
  if (vip && spenders) {
    const top = (await ws.engine.members(spenders.id)).ids().slice(0, 10);
    if (top.length > 0) {
      await ws.addMembers(vip.id, {
        contacts: top.map((id) => ({ id })),
        expires_at: new Date(spec.now + 30 * DAY).toISOString(),
      });
      vip.size = top.length;
    }
  }
  for (const s of created) log(`demo: segment ${s.id}  ${s.name}: ${num(s.size)} members`);
  log(
    `demo: ${num(done)} contacts and ${num(accepted)} events loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return true;
}
