/**
 * A generated data set written into a fresh SQLite file for the scripts that start a
 * real server on it (bench/load-http.ts, bench/editor-latency.ts): the server's
 * start-up rebuild then loads it like any restart would.
 */

import { type DatasetSpec, generateContacts, generateEvents } from "../src/demo/generate.ts";
import { openStore } from "../src/store/index.ts";
import type { ContactWrite, EventWrite, JsonValue } from "../src/store/types.ts";
import { fmtInt, log } from "./util.ts";

async function inBatches<T>(items: Iterable<T>, write: (batch: T[]) => Promise<unknown>): Promise<void> {
  let batch: T[] = [];
  for (const it of items) {
    batch.push(it);
    if (batch.length === 10_000) {
      await write(batch);
      batch = [];
    }
  }
  if (batch.length) await write(batch);
}

/**
 * Workspace `ws` (UTC, custom field `plan`, and `birthday` when asked: the `live`
 * section's segments name it), the spec's contacts and events, and `segments`.
 */
export async function writeDatasetFile(
  path: string,
  spec: DatasetSpec,
  opts: {
    ws: string;
    label: string;
    segments?: { id: string; name: string; rule: JsonValue }[];
    birthday?: boolean;
  },
): Promise<void> {
  const store = await openStore({ sqlitePath: path });
  try {
    await store.createWorkspace({ id: opts.ws, name: "Default", time_zone: "UTC" });
    const repos = store.workspace(opts.ws);
    await repos.fields.create({ key: "plan", type: "string" });
    if (opts.birthday) await repos.fields.create({ key: "birthday", type: "date" });
    let t0 = performance.now();
    await inBatches(generateContacts(spec, { birthday: opts.birthday ?? false }), (b) =>
      repos.contacts.put(b as ContactWrite[]),
    );
    log(
      `${opts.label}: ${fmtInt(spec.contacts)} contacts stored in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    t0 = performance.now();
    await inBatches(generateEvents(spec), (b) => store.workspace(opts.ws).events.insert(b as EventWrite[]));
    log(
      `${opts.label}: ${fmtInt(spec.events)} events stored in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    for (const s of opts.segments ?? []) {
      await store
        .workspace(opts.ws)
        .segments.create({ id: s.id, kind: "dynamic", name: s.name, rule: s.rule });
    }
  } finally {
    await store.close();
  }
}
