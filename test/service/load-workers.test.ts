/**
 * A workspace loaded from its store into engine workers (4 partitions on 2 threads)
 * holds what one engine loaded from the same store holds, every segment's members
 * alike, and the start-up reconciliation finds the same changes missing from a change
 * log that lost some and kept others it should not have. A workspace with a rank
 * segment is refused (not maintained across workers yet), with the reason.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadEngine } from "../../src/service/live/load.ts";
import { loadOnWorkers } from "../../src/service/live/load-workers.ts";
import { missingChanges } from "../../src/service/reconcile.ts";
import { WorkspaceService } from "../../src/service/workspace.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import type { ChangeInput } from "../../src/store/types.ts";

const NOW = Date.parse("2026-06-01T12:00:00Z");
const DAY = 86_400_000;
const clock = { now: () => NOW };
const TZ = "Europe/Paris";

let dir: string;
let store: Store;
let ws: string;
const segments: Record<string, string> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "slice-load-workers-"));
  store = await openStore({ sqlitePath: join(dir, "slice.db"), clock });
  const info = await store.createWorkspace({ name: "workers", time_zone: TZ });
  ws = info.id;
  const svc = await WorkspaceService.open(store, info, { clock });
  await svc.createField({ key: "plan", type: "string" });
  await svc.createField({
    key: "orders_30d",
    type: "number",
    computed: { event: "order_placed", window: { in_last: "30d" }, measure: { fn: "count" } },
  });
  const countries = ["FR", "DE", "US", "ES"];
  const batch = Array.from({ length: 300 }, (_, k) => ({
    email: `p${k}@example.com`,
    country: countries[k % 4],
    status: k % 5 === 0 ? "unsubscribed" : "subscribed",
    fields: { plan: k % 3 === 0 ? "pro" : "free" },
  }));
  const written = await svc.upsertContactsWithIds(batch);
  expect(written.result.errors).toEqual([]);
  const ids = written.ids;
  const events = ids.flatMap((id, k) =>
    Array.from({ length: k % 4 }, (_, j) => ({
      type: j % 2 === 0 ? "order_placed" : "email_opened",
      contact: { id },
      timestamp: new Date(NOW - (k + j * 7) * 3_600_000).toISOString(),
      properties: { amount: 10 + j },
    })),
  );
  const ingested = await svc.ingest(events);
  expect(ingested.errors).toEqual([]);
  for (const [name, rule_text] of [
    ["french", 'country = "FR"'],
    ["buyers", "count(order_placed) >= 1"],
    ["recent openers", "did(email_opened, last 2d)"],
    ["pro buyers", 'plan = "pro" and orders_30d >= 1'],
  ] as const) {
    segments[name] = (await svc.createSegment({ name, rule_text })).id;
  }
  segments["french buyers"] = (
    await svc.createSegment({
      name: "french buyers",
      rule: {
        type: "and",
        conditions: [
          { type: "segment", segment: segments.french, op: "in" },
          { type: "segment", segment: segments.buyers, op: "in" },
        ],
      },
    })
  ).id;
  segments.vip = (await svc.createSegment({ name: "vip", kind: "static" })).id;
  await svc.addMembers(segments.vip, { contacts: ids.slice(0, 12).map((id) => ({ id })) });
  await svc.addMembers(segments.french, {
    contacts: ids.slice(1, 4).map((id) => ({ id })),
    expires_at: new Date(NOW + DAY).toISOString(),
  });
  await svc.removeMembers(segments.buyers, { contacts: ids.slice(4, 6).map((id) => ({ id })) });
  await svc.deleteContact(ids[7]!);
  await svc.live.flush();
  // A log that lost changes and kept one it should not have: what a crash between a
  // commit and the append of its changes leaves.
  const members = (await svc.engine.members(segments.french)).ids();
  const buyers = (await svc.engine.members(segments.buyers)).ids();
  const outsider = ids.find((id) => !members.includes(id) && id !== ids[7])!;
  const lost: ChangeInput[] = [
    { segment_id: segments.french, contact_id: outsider, change: "entered", at: NOW - DAY },
    { segment_id: segments.buyers, contact_id: buyers[0]!, change: "exited", at: NOW - DAY },
  ];
  await store.workspace(ws).changes.append(lost);
}, 60_000);

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const key = (c: ChangeInput) => `${c.segment_id} ${c.contact_id} ${c.change} ${c.at}`;

describe("a workspace loaded into engine workers", () => {
  it("holds one engine's members and finds the same changes missing from the log", async () => {
    const { engine: one } = await loadEngine(store, ws, { clock, timeZone: TZ });
    const want = await missingChanges(one, store, ws, null);
    const { engine: split, missing } = await loadOnWorkers(store, ws, {
      clock,
      timeZone: TZ,
      workers: 2,
      partitions: 4,
    });
    try {
      expect(split.segmentIds().sort()).toEqual(one.segmentIds().sort());
      for (const id of one.segmentIds()) {
        const m = await split.members(id);
        expect([...m.ids].sort(), id).toEqual(one.members(id).ids().sort());
      }
      expect(one.members(segments["pro buyers"]!).count).toBeGreaterThan(5);
      // Twelve added, one of them erased since.
      expect(one.members(segments.vip!).count).toBe(11);
      expect(missing.map(key).sort()).toEqual(want.map(key).sort());
      expect(want.length).toBeGreaterThanOrEqual(2);
      expect(await split.contactCount()).toBe(one.contactCount);
    } finally {
      await split.close();
    }
  });

  it("is refused for a workspace with a rank segment, which stays on one thread", async () => {
    const info = (await store.listWorkspaces()).find((w) => w.id === ws)!;
    const svc = await WorkspaceService.open(store, info, { clock });
    await svc.createSegment({ name: "top", rule_text: "top 10% by count(order_placed)" });
    await svc.live.flush();
    await expect(
      loadOnWorkers(store, ws, { clock, timeZone: TZ, workers: 2, partitions: 4 }),
    ).rejects.toThrow(/rank or quintile/);
  });
});
