/**
 * Random Segment traffic over a few users, anonymous ids and emails — identify, track,
 * page, group and alias calls, retried messages, in batches of random sizes — and what
 * must hold after any of it (docs/ingest.md): every event accepted is stored once, on a
 * live contact; every anonymous id points at a live contact; userIds and emails name at
 * most one contact; the engine holds exactly the stored contacts, and its membership
 * equals what the stored events say, live and after a restart.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingestSegmentBatch } from "../../../src/service/segment/ingest.ts";
import { WorkspaceService } from "../../../src/service/workspace.ts";
import { openStore } from "../../../src/store/index.ts";
import type { OpenStoreOptions, Store } from "../../../src/store/types.ts";

const NOW = Date.parse("2026-06-01T12:00:00Z");
const clock = { now: () => NOW };
const USERS = ["u1", "u2", "u3"];
const ANONS = ["a1", "a2", "a3", "a4"];
const EMAILS = ["x@p.io", "y@p.io"];

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const messageId = fc.integer({ min: 0, max: 40 }).map((n) => `m${n}`);
const who = fc
  .record({ userId: maybe(fc.constantFrom(...USERS)), anonymousId: maybe(fc.constantFrom(...ANONS)) })
  .filter((w) => w.userId !== undefined || w.anonymousId !== undefined);

const message = fc.oneof(
  fc.record({
    type: fc.constant("identify"),
    who,
    traits: fc.record({
      email: maybe(fc.constantFrom(...EMAILS)),
      city: maybe(fc.constantFrom("Lyon", "Oslo")),
    }),
  }),
  fc.record({
    type: fc.constant("track"),
    who,
    messageId,
    event: fc.constantFrom("Order Completed", "Viewed"),
  }),
  fc.record({ type: fc.constant("page"), who, messageId }),
  fc.record({ type: fc.constant("group"), who, groupId: fc.constantFrom("g1", "g2") }),
  fc.record({
    type: fc.constant("alias"),
    previousId: fc.constantFrom(...ANONS, ...USERS),
    userId: fc.constantFrom(...USERS),
  }),
);

function wire(m: Record<string, unknown>): Record<string, unknown> {
  const {
    who: w,
    traits,
    ...rest
  } = m as { who?: Record<string, unknown>; traits?: Record<string, unknown> };
  const clean = (o: Record<string, unknown> | undefined) =>
    Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined));
  return { ...rest, ...clean(w), ...(traits ? { traits: clean(traits) } : {}) };
}

describe("random Segment traffic keeps contacts, identities, events and membership consistent", () => {
  let dir: string;
  let opts: OpenStoreOptions;
  let store: Store;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "slice-segment-prop-"));
    opts = { sqlitePath: join(dir, "slice.db"), clock };
    store = await openStore(opts);
  });

  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("holds after any sequence of batches", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(message, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 5 }),
        async (batches) => {
          const info = await store.createWorkspace({ name: `prop ${++run}`, time_zone: "UTC" });
          let ws = await WorkspaceService.open(store, info, { clock });
          const visitors = (
            await ws.createSegment({
              name: "visitors",
              rule: { type: "event", event: "page_viewed", op: "gte", value: 1 },
            })
          ).id;
          let accepted = 0;
          for (const b of batches) {
            const r = await ingestSegmentBatch(ws, { batch: b.map(wire) }, NOW);
            expect(r.errors).toEqual([]);
            accepted += r.accepted;
          }

          const check = async () => {
            const contacts = (await store.workspace(info.id).contacts.list({ limit: 1000 })).data;
            const ids = new Set(contacts.map((c) => c.id));
            expect(new Set(ws.live.engine.contactIds())).toEqual(ids);
            expect(await store.workspace(info.id).events.count()).toBe(accepted);
            const viewers = new Set<string>();
            for (const c of contacts) {
              const events = (await store.workspace(info.id).events.listOfContact(c.id, { limit: 1000 }))
                .data;
              if (events.some((e) => e.type === "page_viewed")) viewers.add(c.id);
            }
            expect(new Set(ws.live.engine.members(visitors).ids())).toEqual(viewers);
            for (const owner of await store.workspace(info.id).identities.find([...ANONS, ...USERS])) {
              if (owner !== null) expect(ids.has(owner)).toBe(true);
            }
            for (const key of [
              ...USERS.map((external_id) => ({ external_id })),
              ...EMAILS.map((email) => ({ email })),
            ]) {
              const named = contacts.filter((c) =>
                "email" in key ? c.email === key.email : c.external_id === key.external_id,
              );
              expect(named.length).toBeLessThanOrEqual(1);
            }
          };
          await check();
          ws = await WorkspaceService.open(store, info, { clock });
          await check();
        },
      ),
      { numRuns: 20, seed: 20261204 },
    );
  }, 240_000);
});
