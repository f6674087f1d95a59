/**
 * The same data and queries in DuckDB, as the yardstick: loaded from the same seeded
 * generators through the appender, timed end to end, and required to return exactly
 * the contacts Slice returned.
 */
import type { DuckDBAppender, DuckDBConnection, DuckDBType, DuckDBValue } from "@duckdb/node-api";
import {
  COUNTRIES,
  CURRENCIES,
  contactNumber,
  EMAIL_STATUSES,
  EVENT_TYPES,
  generateContacts,
  generateEvents,
  PLANS,
  STATUSES,
  TIME_ZONE,
} from "../../src/demo/generate.ts";
import type { ContactInput, EventInput, JsonValue } from "../../src/engine/index.ts";
import type { BenchContext, Section } from "../context.ts";
import { QUERIES } from "../queries.ts";
import { fmtInt, log, round, timeRuns, withProgress } from "../util.ts";

/** Loaded only when this section runs, so that it is not in the process when Slice's memory is measured. */
type DuckDBModule = typeof import("@duckdb/node-api");

/** Slice stores strings trimmed and lower-cased, empty meaning missing; so does the SQL side. */
function norm(v: JsonValue | undefined): string | null {
  if (typeof v !== "string") return null;
  const s = v.trim().toLowerCase();
  return s === "" ? null : s;
}

function ms(v: string | number | null | undefined): number | null {
  if (v === null || v === undefined) return null;
  return typeof v === "number" ? v : Date.parse(v);
}

/** A `YYYY-MM-DD` value as a DuckDB DATE. */
function date(duck: DuckDBModule, v: JsonValue | undefined): DuckDBValue {
  if (typeof v !== "string") return null;
  const [y, m, d] = v.split("-").map(Number);
  return duck.dateValue(Date.UTC(y, m - 1, d) / 86_400_000);
}

function num(v: JsonValue | undefined): number | null {
  return typeof v === "number" ? v : null;
}

/** Buffers rows column by column and appends them a data chunk (DuckDB's vector size) at a time. */
class ChunkWriter {
  private readonly columns: DuckDBValue[][];
  private n = 0;
  /** DuckDB's standard vector size, the most rows a data chunk takes. */
  private readonly size = 2048;

  constructor(
    private readonly duck: DuckDBModule,
    private readonly appender: DuckDBAppender,
    private readonly types: DuckDBType[],
  ) {
    this.columns = types.map(() => new Array<DuckDBValue>(this.size));
  }

  row(...values: DuckDBValue[]): void {
    for (let c = 0; c < values.length; c++) this.columns[c][this.n] = values[c];
    if (++this.n === this.size) this.flush();
  }

  flush(): void {
    if (this.n === 0) return;
    const chunk = this.duck.DuckDBDataChunk.create(this.types, this.n);
    chunk.setColumns(this.n === this.size ? this.columns : this.columns.map((c) => c.slice(0, this.n)));
    this.appender.appendDataChunk(chunk);
    this.n = 0;
  }

  close(): void {
    this.flush();
    this.appender.closeSync();
  }
}

/** An ENUM type over a known domain, in the normalised form the tables hold. */
function enumType(values: readonly string[]): string {
  return `ENUM(${values.map((v) => `'${v.toLowerCase()}'`).join(", ")})`;
}

/**
 * Rows go in through the appender as VARCHAR, then the tables are rebuilt the way one
 * would lay them out for these queries: low-cardinality strings as ENUMs (VARCHAR
 * compares are several times slower in an in-memory table), and events clustered by
 * type and time, so a query on one type in a window reads only that range (Slice keeps
 * one table per event type too).
 */
async function load(duck: DuckDBModule, conn: DuckDBConnection, ctx: BenchContext): Promise<void> {
  const { spec } = ctx.opts;
  const { INTEGER, DOUBLE, VARCHAR, DATE } = duck;
  // Times are epoch ms in DOUBLE columns (exact for integers), so windows compare exactly as in Slice.
  // A birthday is a calendar date, so a DATE column, as one would keep it.
  await conn.run(`CREATE TABLE contacts_in (
    id INTEGER, country VARCHAR, plan VARCHAR, status VARCHAR, email_status VARCHAR,
    created_at DOUBLE, subscribed_at DOUBLE, birthday DATE)`);
  await conn.run(`CREATE TABLE events_in (
    contact INTEGER, type VARCHAR, ts DOUBLE,
    campaign_id INTEGER, amount DOUBLE, currency VARCHAR, url VARCHAR)`);

  let t0 = performance.now();
  const cw = new ChunkWriter(duck, await conn.createAppender("contacts_in"), [
    INTEGER,
    VARCHAR,
    VARCHAR,
    VARCHAR,
    VARCHAR,
    DOUBLE,
    DOUBLE,
    DATE,
  ]);
  const contacts = generateContacts(spec, { birthday: true });
  for (const c of withProgress<ContactInput>(contacts, "contacts → DuckDB", spec.contacts)) {
    cw.row(
      contactNumber(c.id),
      norm(c.country ?? undefined),
      norm(c.fields?.plan as JsonValue | undefined),
      norm(c.status ?? undefined),
      norm(c.email_status ?? undefined),
      ms(c.created_at),
      ms(c.subscribed_at),
      date(duck, c.fields?.birthday),
    );
  }
  cw.close();
  await conn.run(`CREATE TABLE contacts AS SELECT
      id,
      country::${enumType(COUNTRIES)} AS country,
      plan::${enumType(PLANS)} AS plan,
      status::${enumType(STATUSES)} AS status,
      email_status::${enumType(EMAIL_STATUSES)} AS email_status,
      created_at, subscribed_at, birthday
    FROM contacts_in ORDER BY id`);
  await conn.run("DROP TABLE contacts_in");
  ctx.loadSeconds.set("DuckDB contacts", (performance.now() - t0) / 1000);

  t0 = performance.now();
  const ew = new ChunkWriter(duck, await conn.createAppender("events_in"), [
    INTEGER,
    VARCHAR,
    DOUBLE,
    INTEGER,
    DOUBLE,
    VARCHAR,
    VARCHAR,
  ]);
  for (const e of withProgress<EventInput>(generateEvents(spec), "events → DuckDB", spec.events)) {
    const p = e.properties;
    const campaign = num(p?.campaign_id);
    ew.row(
      contactNumber(e.contact_id),
      e.type,
      ms(e.timestamp),
      campaign !== null && Number.isInteger(campaign) ? campaign : null,
      num(p?.amount),
      norm(p?.currency),
      norm(p?.url),
    );
  }
  ew.close();
  log("DuckDB: clustering events by type and time");
  await conn.run(`CREATE TABLE events AS SELECT
      contact,
      type::${enumType(EVENT_TYPES)} AS type,
      ts, campaign_id, amount,
      currency::${enumType(CURRENCIES)} AS currency,
      url
    FROM events_in ORDER BY type, ts`);
  await conn.run("DROP TABLE events_in");
  ctx.loadSeconds.set("DuckDB events", (performance.now() - t0) / 1000);
}

/** The contacts in one sorted list and not in the other, a few of each. */
function differences(a: Int32Array, b: Int32Array, max = 10): { onlyA: number[]; onlyB: number[] } {
  const onlyA: number[] = [];
  const onlyB: number[] = [];
  let i = 0;
  let j = 0;
  while ((i < a.length || j < b.length) && (onlyA.length < max || onlyB.length < max)) {
    if (j >= b.length || (i < a.length && a[i] < b[j])) onlyA.push(a[i++]);
    else if (i >= a.length || b[j] < a[i]) onlyB.push(b[j++]);
    else {
      i++;
      j++;
    }
  }
  return { onlyA: onlyA.slice(0, max), onlyB: onlyB.slice(0, max) };
}

let duckThreads: number | null = null;

export const duckdbSection: Section = {
  name: "duckdb",

  async run(ctx) {
    if (!ctx.opts.duckdb) return;
    const duck: DuckDBModule = await import("@duckdb/node-api");
    const instance = await duck.DuckDBInstance.create(":memory:");
    const conn = await instance.connect();
    try {
      await load(duck, conn, ctx);
      const threads = (await conn.runAndReadAll("SELECT current_setting('threads')")).getRows()[0][0];
      duckThreads = Number(threads);
      log(`DuckDB ${duck.version()} loaded (threads: ${threads})`);

      const now = ctx.opts.spec.now;
      for (const q of QUERIES) {
        const sql = q.sql(now, TIME_ZONE);
        const t = await timeRuns(
          async () => {
            const r = await conn.runAndReadAll(`SELECT count(*) FROM (${sql})`);
            return Number(r.getRows()[0][0]);
          },
          ctx.opts.warmup,
          ctx.opts.runs,
        );
        log(`DuckDB ${q.id}: ${fmtInt(t.value)} rows, median ${t.ms.toFixed(2)} ms`);

        const r = await conn.runAndReadAll(`SELECT id FROM (${sql}) ORDER BY id`);
        const duckRows = Int32Array.from(r.getColumns()[0] ?? [], (v) => Number(v));
        const sliceRows = ctx.sliceRows.get(q.id);
        const figures = ctx.queries[q.id];
        if (!sliceRows || !figures) throw new Error(`${q.id} has no Slice result to compare with`);
        const diff = differences(sliceRows, duckRows);
        if (duckRows.length !== t.value || diff.onlyA.length > 0 || diff.onlyB.length > 0) {
          const first = diff.onlyA[0] ?? diff.onlyB[0];
          const explain =
            first !== undefined && ctx.engine
              ? JSON.stringify(ctx.engine.explain(`c${first}`, ctx.engine.validate(q.rule), now))
              : "";
          throw new Error(
            `${q.id}: Slice and DuckDB disagree: Slice ${fmtInt(sliceRows.length)} rows, DuckDB ${fmtInt(t.value)}` +
              ` (${fmtInt(duckRows.length)} ids); only in Slice: [${diff.onlyA.map((n) => `c${n}`).join(", ")}]` +
              `; only in DuckDB: [${diff.onlyB.map((n) => `c${n}`).join(", ")}]` +
              (explain ? `\nSlice's explain of c${first}: ${explain}` : ""),
          );
        }
        figures.duckdb_ms = round(t.ms, 3);
      }
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
  },

  report(_ctx) {
    if (duckThreads === null) return [];
    return [`DuckDB: in-memory, ${duckThreads} threads; rows identical to Slice's for every query`];
  },
};
