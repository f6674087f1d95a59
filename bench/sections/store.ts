/**
 * The store (issue 4), on an embedded SQLite file in a temporary directory:
 *
 * - startup_s: opening the store and rebuilding a workspace's engine from it (contacts
 *   and events streamed page by page, segments, memberships, timers) plus reconciling
 *   the change log, with the whole data set stored. Measured on a second start, when
 *   the log already matches; the first start, which also writes the initial log,
 *   is reported as first_start_s.
 * - ingest_events_per_s: events committed through the store and then applied to the
 *   engine (default segments) with their changes logged, in batches of 1,000 sent one
 *   after the other (each waits for the previous one's acknowledgement).
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LiveWorkspace } from "../../src/service/live-workspace.ts";
import { openStore } from "../../src/store/index.ts";
import type { ContactWrite, EventWrite } from "../../src/store/types.ts";
import type { Section } from "../context.ts";
import { generateContacts, generateEvents } from "../generate.ts";
import { fmtInt, gc, log, round, table, withProgress } from "../util.ts";

async function* batches<T, U>(items: Iterable<T>, size: number, map: (t: T) => U): AsyncGenerator<U[]> {
  let batch: U[] = [];
  for (const it of items) {
    batch.push(map(it));
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

export const storeSection: Section = {
  name: "store",

  async run(ctx) {
    const { spec } = ctx.opts;
    const dir = mkdtempSync(join(tmpdir(), "slice-bench-"));
    const path = join(dir, "slice.db");
    const clock = { now: () => spec.now };
    try {
      let store = await openStore({ sqlitePath: path, clock });
      const ws = (await store.createWorkspace({ name: "bench" })).id;
      await store.createField(ws, { key: "plan", type: "string" });
      let t0 = performance.now();
      for await (const b of batches(
        withProgress(generateContacts(spec), "contacts → SQLite", spec.contacts),
        10_000,
        (c) => c as ContactWrite,
      )) {
        await store.putContacts(ws, b);
      }
      const contactsS = (performance.now() - t0) / 1000;
      t0 = performance.now();
      for await (const b of batches(
        withProgress(generateEvents(spec), "events → SQLite", spec.events),
        10_000,
        (e) => e as EventWrite,
      )) {
        await store.insertEvents(ws, b);
      }
      const eventsS = (performance.now() - t0) / 1000;
      await store.close();
      gc();

      const start = async () => {
        const t = performance.now();
        const s = await openStore({ sqlitePath: path, clock });
        const live = await LiveWorkspace.open(s, ws, { clock });
        return { store: s, live, s: (performance.now() - t) / 1000 };
      };
      const first = await start();
      log(`store: first start ${first.s.toFixed(1)} s (writes the initial change log)`);
      await first.store.close();
      gc();
      const second = await start();
      log(`store: start-up ${second.s.toFixed(1)} s`);
      store = second.store;

      // Durable ingest: new events in batches of 1,000, one after the other, each
      // acknowledged once committed; the clock stops once the last one is applied to the
      // engine and every membership change is logged.
      const n = Math.min(200_000, Math.max(10_000, Math.floor(spec.events / 50)));
      const fresh = [...generateEvents({ ...spec, seed: spec.seed + 2, events: n })];
      let changes = 0;
      second.live.engine.onChange(() => {
        changes++;
      });
      const eventsBefore = await store.countEvents(ws);
      t0 = performance.now();
      for (let k = 0; k < n; k += 1000) {
        await second.live.ingestEvents(fresh.slice(k, k + 1000) as EventWrite[]);
      }
      await second.live.flush();
      const ingestS = (performance.now() - t0) / 1000;
      const stored = (await store.countEvents(ws)) - eventsBefore;
      if (stored !== n) throw new Error(`durable ingest: ${n} events acknowledged, ${stored} stored`);
      await store.close();

      ctx.json.store = {
        ingest_events_per_s: Math.round(n / ingestS),
        startup_s: round(second.s, 2),
        first_start_s: round(first.s, 2),
        load_contacts_per_s: Math.round(spec.contacts / contactsS),
        load_events_per_s: Math.round(spec.events / eventsS),
        file_mb: round(statSync(path).size / 2 ** 20, 1),
        ingest_changes: changes,
      };
      log(`store: ${fmtInt(n)} events ingested durably in ${ingestS.toFixed(2)} s`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },

  report(ctx) {
    const s = ctx.json.store as Record<string, number> | undefined;
    if (!s) return [];
    return [
      "Store (SQLite file, WAL, synchronous=FULL)",
      ...table([
        ["measure", "value"],
        [
          "durable ingest, batches of 1,000 (store + engine + log)",
          `${fmtInt(s.ingest_events_per_s)} events/s`,
        ],
        ["start-up from the store (second start)", `${s.startup_s} s`],
        ["first start (also writes the initial log)", `${s.first_start_s} s`],
        [
          "bulk load into SQLite",
          `${fmtInt(s.load_contacts_per_s)} contacts/s, ${fmtInt(s.load_events_per_s)} events/s`,
        ],
        ["database file", `${s.file_mb} MB`],
      ]),
    ];
  },
};
