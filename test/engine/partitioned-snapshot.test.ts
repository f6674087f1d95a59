/**
 * A worker's snapshot (src/engine/partitioned/snapshot.ts): an engine split over worker
 * threads, written to one file per worker after a live stream, loads into new workers
 * of the same layout that then hold the same contacts and members, take the files'
 * memberships and timers, and go on to make the same changes; files caught up with what
 * changed since them, as a restart from the store's journal does, give the engine that
 * wrote them; a corrupt file, a missing
 * one, a file of another layout and a restore into workers that hold contacts are
 * refused, saying why.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { liveSegments } from "../../bench/sections/live.ts";
import { type DatasetSpec, generateContacts, generateEvents, TIME_ZONE } from "../../src/demo/generate.ts";
import type { EventInput } from "../../src/engine/index.ts";
import { PartitionedEngine } from "../../src/engine/partitioned/partitioned-engine.ts";
import { perContact } from "../support/changes.ts";

const DAY = 86_400_000;
const spec: DatasetSpec = { seed: 33, contacts: 1_500, events: 15_000, now: Date.UTC(2026, 5, 1) };
let now = spec.now;
const options = {
  timeZone: TIME_ZONE,
  fields: [
    { key: "plan", type: "string" as const },
    { key: "birthday", type: "date" as const },
  ],
  clock: { now: () => now },
  defaultSegments: false as const,
  workers: 2,
  partitions: 4,
};
const defs = liveSegments().filter((d) => d.id !== "seg_089");
const dir = mkdtempSync(join(tmpdir(), "slice-worker-snap-"));
let a: PartitionedEngine;
const opened: PartitionedEngine[] = [];

/** A day of events in time order from `from`, some for contacts the data set does not have. */
function day(from: number, seed: number): EventInput[] {
  const n = 1_500;
  return [...generateEvents({ ...spec, seed, events: n })].map((e, k) => ({
    ...e,
    id: `live-${seed}-${k}`,
    contact_id: k % 53 === 0 ? `late-${seed}-${k}` : e.contact_id,
    timestamp: from + Math.floor(((k + 1) * DAY) / n),
  }));
}

async function start(opts: Partial<typeof options> = {}): Promise<PartitionedEngine> {
  const e = await PartitionedEngine.start({ ...options, ...opts });
  opened.push(e);
  return e;
}

beforeAll(async () => {
  a = await start();
  await a.loadContacts(generateContacts(spec, { birthday: true }));
  await a.loadEvents(generateEvents(spec));
  await a.finishLoad();
  await a.loadSegments(defs);
  await a.advanceTo(now);
  await a.ingest(day(now, 1), { advance: true });
  now += DAY;
  await a.upsertContact({
    id: "written-live",
    email: "written@example.com",
    country: "FR",
    status: "subscribed",
  });
  expect(await a.saveSnapshot(dir)).toBeGreaterThan(100_000);
}, 60_000);

afterAll(async () => {
  await Promise.all(opened.map((e) => e.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe("an engine split over workers, restored from its workers' files", () => {
  it("holds the same contacts and members, takes the files' memberships, and makes the same changes after", async () => {
    const b = await start();
    expect(await b.restoreSnapshot(dir)).toBe(await a.contactCount());
    await b.loadSegments(defs);
    expect(await b.restoreMaintained()).toBe(true);
    for (const d of defs) {
      expect([...(await b.members(d.id)).ids].sort(), d.id).toEqual([...(await a.members(d.id)).ids].sort());
    }
    const next = day(now, 2);
    const want = (await a.ingest(next, { advance: true })).toArray();
    const got = (await b.ingest(next, { advance: true })).toArray();
    now += 3 * DAY;
    want.push(...(await a.advanceTo(now)).toArray());
    got.push(...(await b.advanceTo(now)).toArray());
    expect(want.length).toBeGreaterThan(300);
    expect(want.some((c) => c.at > (next[next.length - 1].timestamp as number))).toBe(true); // timers too
    expect(perContact(got)).toEqual(perContact(want));
    expect(await b.segmentsOf("written-live")).toEqual(await a.segmentsOf("written-live"));
  });

  it("catches up with what changed since its files, as a restart from the store's journal does", async () => {
    // Files written now; then, on the engine that wrote them, contacts rewritten and
    // erased, events for old and new contacts, static members and overrides.
    const here = mkdtempSync(join(tmpdir(), "slice-worker-snap-catch-up-"));
    await a.saveSnapshot(here);
    const old = [...generateContacts(spec, { birthday: true })];
    const erased = old.filter((_, k) => k % 67 === 5).map((c) => c.id);
    const rewritten = old
      .filter((c, k) => k % 41 === 0 && !erased.includes(c.id))
      .map((c, k) => ({ ...old[(k * 7 + 3) % old.length], id: c.id, email: c.email }));
    for (const c of rewritten) await a.upsertContact(c, { receivedAt: now });
    for (const id of erased) await a.removeContact(id);
    const more = day(now, 3);
    await a.ingest(more, { advance: true });
    now += DAY;
    const staticDef = { id: "seg_static", kind: "static" as const };
    await a.defineSegment(staticDef);
    const kept = old.filter((c, k) => k % 29 === 1 && !erased.includes(c.id)).map((c) => c.id);
    await a.addMembers("seg_static", kept);
    await a.removeMembers(defs[3].id, kept.slice(0, 10), { expiresAt: now + 2 * DAY });
    await a.advanceTo(now);

    const b = await start();
    await b.restoreSnapshot(here);
    rmSync(here, { recursive: true, force: true });
    // What the store's journal would tell: the contacts erased and those written, then the events after the file.
    await b.forgetLoaded(erased);
    await b.loadContacts(
      rewritten.map((c) => ({ ...c, status_written_at: now - DAY, email_status_written_at: now - DAY })),
    );
    await b.loadEvents(more);
    await b.finishLoad({ tight: false });
    await b.loadSegments([...defs, staticDef]);
    await b.loadMembers(
      "seg_static",
      kept.map((id) => ({ contact_id: id, action: "added" as const })),
    );
    await b.loadMembers(
      defs[3].id,
      kept
        .slice(0, 10)
        .map((id) => ({ contact_id: id, action: "removed" as const, expires_at: now + 2 * DAY })),
    );
    const touched = new Set([
      ...rewritten.map((c) => c.id),
      ...erased,
      ...more.map((e) => e.contact_id),
      ...kept,
    ]);
    expect(await b.restoreMaintained(touched)).toBe(true);
    await b.advanceTo(now);
    expect(await b.contactCount()).toBe(await a.contactCount());
    for (const d of [...defs, staticDef]) {
      expect([...(await b.members(d.id)).ids].sort(), d.id).toEqual([...(await a.members(d.id)).ids].sort());
    }
    now += 3 * DAY;
    expect(perContact((await b.advanceTo(now)).toArray())).toEqual(
      perContact((await a.advanceTo(now)).toArray()),
    );
  });

  it("refuses a corrupt file, a missing one, one of another layout and full workers, saying why", async () => {
    const corrupt = mkdtempSync(join(tmpdir(), "slice-worker-snap-bad-"));
    try {
      for (const w of [0, 1]) {
        const name = `worker-${w}-of-2-p4.snap`;
        const bytes = readFileSync(join(dir, name));
        if (w === 1) bytes[bytes.length - 100] ^= 0xff;
        writeFileSync(join(corrupt, name), bytes);
      }
      await expect((await start()).restoreSnapshot(corrupt)).rejects.toThrow(/checksum|corrupt/i);
      rmSync(join(corrupt, "worker-1-of-2-p4.snap"));
      await expect((await start()).restoreSnapshot(corrupt)).rejects.toThrow(/cannot be opened/);
    } finally {
      rmSync(corrupt, { recursive: true, force: true });
    }
    // Only into workers that hold nothing yet.
    await expect(a.restoreSnapshot(dir)).rejects.toThrow(/holds no contact yet/);
    // Another layout names other files; the same name from another layout is refused by its header.
    await expect((await start({ partitions: 8 })).restoreSnapshot(dir)).rejects.toThrow(/cannot be opened/);
    const moved = mkdtempSync(join(tmpdir(), "slice-worker-snap-moved-"));
    try {
      writeFileSync(join(moved, "worker-0-of-2-p4.snap"), readFileSync(join(dir, "worker-1-of-2-p4.snap")));
      writeFileSync(join(moved, "worker-1-of-2-p4.snap"), readFileSync(join(dir, "worker-1-of-2-p4.snap")));
      await expect((await start()).restoreSnapshot(moved)).rejects.toThrow(
        /written by worker 1 of 2 over 4 partitions, not worker 0 of 2 over 4/,
      );
    } finally {
      rmSync(moved, { recursive: true, force: true });
    }
  });
});
