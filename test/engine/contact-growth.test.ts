/**
 * Per-contact structures grown ahead of need, so that no one new contact waits for all
 * of them to double (docs/performance.md, "the contact count crossing a power of two"):
 * the contact table's columns (column-growth.ts), the engine's rows, segment bits, timer
 * times and rank values (prefault.ts), and the sharded string indexes (string-index.ts).
 * Here the thresholds are lowered so that growths happen at a few thousand contacts, with
 * writes of every kind while they run: what the engine holds afterwards is what was
 * written, and every maintained segment equals its rule evaluated from scratch.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { liveSegments } from "../../bench/sections/live.ts";
import { benchEngineOptions } from "../../bench/sections/load.ts";
import { type DatasetSpec, generateContacts, generateEvents, NOW } from "../../src/demo/generate.ts";
import { Engine } from "../../src/engine/index.ts";
import { StringIndex } from "../../src/engine/string-index.ts";
import { growEarly } from "../support/early-growth.ts";

growEarly();

describe("the contact table's columns", () => {
  it("grow before the table is full, not at the contact that fills it", () => {
    const eng = new Engine({ clock: { now: () => NOW }, defaultSegments: false, timeZone: "UTC" });
    const table = eng.contacts;
    expect(table.capacity).toBe(1024);
    let grewAt = -1;
    for (let i = 0; i < 1024; i++) {
      eng.upsertContact({ id: `c${i}`, country: "FR" });
      if (grewAt < 0 && table.capacity > 1024) grewAt = i + 1;
    }
    // Grown at once, the capacity doubled only with the 1,025th contact.
    expect(grewAt).toBeGreaterThan(1024 - 1024 / 8);
    expect(grewAt).toBeLessThan(1024);
    expect(table.capacity).toBe(2048);
  });

  it("hold what was written, whatever was written while they grew", () => {
    const FIELDS = ["first_name", "country", "score", "vip"] as const;
    const opArb = fc.oneof(
      fc.record({ kind: fc.constant("new" as const), n: fc.integer({ min: 1, max: 40 }) }),
      fc.record({
        kind: fc.constant("patch" as const),
        who: fc.nat(),
        field: fc.constantFrom(...FIELDS),
        v: fc.integer({ min: 0, max: 9 }),
      }),
      fc.record({ kind: fc.constant("remove" as const), who: fc.nat() }),
      fc.record({ kind: fc.constant("bulk" as const), n: fc.integer({ min: 1, max: 300 }) }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 150, maxLength: 260 }), (ops) => {
        const eng = new Engine({ clock: { now: () => NOW }, defaultSegments: false, timeZone: "UTC" });
        eng.defineField({ key: "score", type: "number" });
        eng.defineField({ key: "vip", type: "boolean" });
        const expected = new Map<string, Record<string, unknown>>();
        const value = (field: (typeof FIELDS)[number], v: number): string | number | boolean =>
          field === "score" ? v : field === "vip" ? v % 2 === 0 : field === "country" ? `C${v}` : `n${v}`;
        const write = (id: string, field: (typeof FIELDS)[number], v: number) => {
          const given = value(field, v);
          if (field === "score" || field === "vip") eng.patchContact({ id, fields: { [field]: given } });
          else eng.patchContact({ id, [field]: given });
          expected.get(id)![field] = field === "country" ? String(given).toLowerCase() : given;
        };
        let next = 0;
        const ids = () => [...expected.keys()];
        for (const op of ops) {
          if (op.kind === "new" || op.kind === "bulk") {
            const batch = [];
            for (let k = 0; k < op.n; k++) {
              const id = `c${next++}`;
              batch.push({ id, first_name: `n${next % 10}`, fields: { score: next % 7 } });
              expected.set(id, { first_name: `n${next % 10}`, score: next % 7 });
            }
            if (op.kind === "bulk") eng.loadContacts(batch);
            else for (const c of batch) eng.upsertContact(c);
          } else if (expected.size > 0) {
            const id = ids()[op.who % expected.size];
            if (op.kind === "remove") {
              eng.removeContact(id);
              expected.delete(id);
            } else write(id, op.field, op.v);
          }
        }
        const table = eng.contacts;
        expect(table.count).toBe(expected.size);
        const wrong: string[] = [];
        for (const [id, want] of expected) {
          const i = table.index(id)!;
          for (const f of FIELDS) {
            const got = table.valueOf(i, f);
            if (got !== (want[f] ?? null))
              wrong.push(`${id}.${f}: ${String(got)}, written ${String(want[f])}`);
          }
        }
        expect(wrong).toEqual([]);
      }),
      { numRuns: 10, seed: 20261206 },
    );
  });
});

describe("the engine's per-contact structures", () => {
  it("keep every maintained segment equal to its rule as the contacts pass 2,048 and 4,096", () => {
    const spec: DatasetSpec = { seed: 3, contacts: 1500, events: 15_000, now: NOW };
    const eng = new Engine(benchEngineOptions(spec));
    eng.loadContacts(generateContacts(spec, { birthday: true }));
    eng.loadEvents(generateEvents(spec));
    const defs = liveSegments();
    eng.loadSegments(defs);
    eng.advanceTo(spec.now);
    const types = ["email_opened", "email_clicked", "order_placed", "cart_added"];
    let t = spec.now;
    for (let k = 0; k < 3200; k++) {
      t += 1000;
      eng.advanceTo(t);
      const id = `late-${k}`;
      eng.upsertContact({
        id,
        email: `${id}@example.com`,
        status: "subscribed",
        country: k % 3 ? "FR" : "DE",
      });
      eng.addEvent({
        id: `ev-${k}`,
        contact_id: id,
        type: types[k % types.length],
        timestamp: t,
        properties: { amount: (k % 40) * 5, currency: "EUR", campaign_id: k % 50 },
      });
      // Writes to contacts the growths have already copied.
      if (k % 7 === 0) eng.patchContact({ id: `c${k % 1500}`, country: "FR" });
      if (k % 11 === 0) eng.removeContact(`late-${k >> 1}`);
    }
    const end = t + 86_400_000;
    eng.advanceTo(end);
    expect(eng.contactCount).toBeGreaterThan(4096);
    for (const d of defs) {
      const maintained = eng.members(d.id).ids().sort();
      const fresh = eng.evaluate(d.rule, end).ids().sort();
      expect(maintained, d.id).toEqual(fresh);
    }
  });
});

describe("StringIndex", () => {
  it("answers as a Map does, before and after its keys are spread over shards", () => {
    const index = new StringIndex();
    const ref = new Map<string, number>();
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    for (let k = 0; k < 70_000; k++) {
      index.set(`key-${k}`, k);
      ref.set(`key-${k}`, k);
      if (k === 1000) expect(index.sharded).toBe(false);
    }
    expect(index.sharded).toBe(true);
    for (let k = 0; k < 90_000; k++) {
      const key = `key-${rnd(80_000)}`;
      const op = rnd(10);
      if (op < 7) {
        index.set(key, k);
        ref.set(key, k);
      } else if (op < 9) {
        if (index.delete(key) !== ref.delete(key)) throw new Error(`delete ${key}: answered unlike a Map`);
      } else if (index.get(key) !== ref.get(key)) throw new Error(`get ${key}: answered unlike a Map`);
    }
    expect(index.size).toBe(ref.size);
    const wrong: string[] = [];
    for (let n = 0; n < 80_000; n++) {
      const key = `key-${n}`;
      if (index.get(key) !== ref.get(key) || index.has(key) !== ref.has(key)) wrong.push(key);
    }
    expect(wrong).toEqual([]);
    expect(index.get("")).toBeUndefined();
  });

  it("reserved for many keys, starts out spread over shards and answers as a Map does", () => {
    const index = new StringIndex();
    index.reserve(200_000);
    expect(index.sharded).toBe(true);
    const ref = new Map<string, number>();
    for (let k = 0; k < 120_000; k++) {
      index.set(`id-${k}`, k);
      ref.set(`id-${k}`, k);
    }
    for (let k = 0; k < 120_000; k += 3) expect(index.delete(`id-${k}`)).toBe(ref.delete(`id-${k}`));
    expect(index.size).toBe(ref.size);
    expect(
      Array.from({ length: 130_000 }, (_, k) => `id-${k}`).filter((k) => index.get(k) !== ref.get(k)),
    ).toEqual([]);
    // A small or a non-empty index is left as it is.
    const small = new StringIndex();
    small.reserve(10);
    expect(small.sharded).toBe(false);
    small.set("a", 1);
    small.reserve(1_000_000);
    expect([small.sharded, small.get("a")]).toEqual([false, 1]);
  });

  it("finds every key left after most are deleted in random order, and takes them back", () => {
    // Deleting from a probe run moves the keys after it back: a key moved wrong, or not
    // moved, is no longer found (or found twice after re-inserting it).
    const index = new StringIndex();
    const ref = new Map<string, number>();
    const keys = Array.from({ length: 100_000 }, (_, k) => `c${k * 7919}`);
    keys.forEach((k, v) => {
      index.set(k, v);
      ref.set(k, v);
    });
    let seed = 11;
    const order = keys.map((k) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return { k, r: seed };
    });
    order.sort((a, b) => a.r - b.r);
    const missing = (): string[] => keys.filter((k) => index.get(k) !== ref.get(k));
    order.slice(0, 90_000).forEach(({ k }, n) => {
      expect(index.delete(k)).toBe(true);
      ref.delete(k);
      if (n % 15_000 === 0) expect(missing()).toEqual([]);
    });
    expect(missing()).toEqual([]);
    expect(index.size).toBe(10_000);
    for (const { k } of order.slice(0, 45_000)) {
      index.set(k, -1);
      ref.set(k, -1);
    }
    expect(missing()).toEqual([]);
    expect(index.size).toBe(ref.size);
    expect(index.delete("absent")).toBe(false);
  });
});
