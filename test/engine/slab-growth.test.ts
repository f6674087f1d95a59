/**
 * An event table whose slab grows a step at a time (src/engine/slab-growth.ts) holds
 * exactly what appends wrote: every contact's block, in time order, with its property
 * values, whatever the moment the larger slab is swapped in.
 */
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Dictionary, normalize } from "../../src/engine/dictionary.ts";
import { EventTable } from "../../src/engine/events.ts";
import type { JsonValue } from "../../src/engine/types.ts";

const saved = {
  from: EventTable.growAheadFrom,
  append: EventTable.growthPerAppend,
  relocation: EventTable.growthPerRelocation,
  relocated: EventTable.growthPerRelocatedSlot,
};
beforeAll(() => {
  // Every slab grows ahead, one slot per append: a growth spans many appends, blocks it
  // already copied are written again before the swap, and a slab that fills first
  // swaps in the larger one at once.
  EventTable.growAheadFrom = 0;
  EventTable.growthPerAppend = 1;
  EventTable.growthPerRelocation = 0;
  EventTable.growthPerRelocatedSlot = 0;
});
afterAll(() => {
  EventTable.growAheadFrom = saved.from;
  EventTable.growthPerAppend = saved.append;
  EventTable.growthPerRelocation = saved.relocation;
  EventTable.growthPerRelocatedSlot = saved.relocated;
});

const CONTACTS = 12;

interface Op {
  c: number;
  t: number;
  /** 0 none, 1 a number, 2 a string, 3 an object (its inner number has a path of its own), 4 a path first seen late. */
  kind: number;
  v: number;
}

const opArb = fc.record({
  c: fc.integer({ min: 0, max: CONTACTS - 1 }),
  t: fc.integer({ min: 0, max: 50 }),
  kind: fc.integer({ min: 0, max: 4 }),
  v: fc.integer({ min: -5, max: 5 }),
});

function propsOf(op: Op, late: boolean): { [key: string]: JsonValue } | undefined {
  switch (op.kind) {
    case 1:
      return { n: op.v };
    case 2:
      return { s: ` V${op.v} ` };
    case 3:
      return { o: { x: op.v } };
    case 4:
      return late ? { late: op.v } : { n: op.v };
    default:
      return undefined;
  }
}

/** Contact c's events as the table holds them: time and each path's value, in slot order. */
function blockOf(table: EventTable, dict: Dictionary, c: number): string[] {
  const out: string[] = [];
  const s = table.start[c];
  for (let k = s; k < s + table.len[c]; k++) {
    const cols: string[] = [];
    for (const [path, col] of table.props) {
      const num = col.numAt(k);
      const str = col.strAt(k);
      const other = col.other?.[k];
      if (!Number.isNaN(num)) cols.push(`${path}=${num}`);
      if (str >= 0) cols.push(`${path}="${dict.values[str]}"`);
      if (other !== undefined && other !== null) cols.push(`${path}:${JSON.stringify(other)}`);
    }
    out.push(`${table.times[k]} ${cols.sort().join(" ")}`.trim());
  }
  return out;
}

/** What a block must hold: events in time order, equal times in arrival order. */
function expected(events: { t: number; props: { [key: string]: JsonValue } | undefined }[]): string[] {
  return events
    .map((e, i) => ({ ...e, i }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map(({ t, props }) => {
      const cols: string[] = [];
      const walk = (prefix: string, o: { [key: string]: JsonValue }) => {
        for (const [key, v] of Object.entries(o)) {
          const path = prefix + key;
          if (typeof v === "number") cols.push(`${path}=${v}`);
          else if (typeof v === "string") cols.push(`${path}="${normalize(v)}"`);
          else if (v !== null && typeof v === "object" && !Array.isArray(v)) {
            cols.push(`${path}:${JSON.stringify(v)}`);
            walk(`${path}.`, v);
          }
        }
      };
      if (props) walk("", props);
      return `${t} ${cols.sort().join(" ")}`.trim();
    });
}

it("every block holds what was appended, in time order, while the slab grows a slot per step", () => {
  fc.assert(
    fc.property(
      fc.array(opArb, { minLength: 1, maxLength: 900, size: "max" }),
      fc.constantFrom(1, 4, 32),
      (ops, step) => {
        EventTable.growthPerAppend = step;
        const dict = new Dictionary();
        const table = new EventTable("t", CONTACTS, dict);
        const model: { t: number; props: { [key: string]: JsonValue } | undefined }[][] = Array.from(
          { length: CONTACTS },
          () => [],
        );
        const slabs = new Set<number>();
        ops.forEach((op, i) => {
          const props = propsOf(op, i > ops.length / 2);
          table.append(op.c, op.t, props, true);
          model[op.c]!.push({ t: op.t, props });
          slabs.add(table.times.length);
          if (i % 10 === 9) {
            for (let c = 0; c < CONTACTS; c++) expect(blockOf(table, dict, c)).toEqual(expected(model[c]!));
          }
          // Laid out again, every block has spare room at its own place, and the next
          // growth's copy passes blocks that appends then write.
          if (i % 200 === 199) table.compact(true);
        });
        // Long runs went through at least one growth to a slab twice as long.
        if (ops.length >= 600) expect(slabs.size).toBeGreaterThan(1);
        table.compact();
        for (let c = 0; c < CONTACTS; c++) expect(blockOf(table, dict, c)).toEqual(expected(model[c]!));
      },
    ),
    { numRuns: 60, seed: 20261207, endOnFailure: true },
  );
});
