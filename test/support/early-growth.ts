/**
 * Lowers, for the test file that calls it, the contact count from which the contact
 * table's columns and the engine's per-contact structures grow ahead of need (2^16 in
 * production) to 1,024, so that growths happen at a few thousand contacts; restored after.
 */
import { afterAll, beforeAll } from "vitest";
import { ContactTable } from "../../src/engine/contacts.ts";
import { GrowthAhead } from "../../src/engine/prefault.ts";

export function growEarly(): void {
  const saved = { columns: ContactTable.growAheadFrom, engine: GrowthAhead.from };
  beforeAll(() => {
    ContactTable.growAheadFrom = 1024;
    GrowthAhead.from = 1024;
  });
  afterAll(() => {
    ContactTable.growAheadFrom = saved.columns;
    GrowthAhead.from = saved.engine;
  });
}
