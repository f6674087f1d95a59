/**
 * Group commit (LiveWorkspace.write): concurrent writes share one transaction, each
 * under its own savepoint — a write that fails after writing leaves nothing behind and
 * does not take the others down; the others are durable and applied in order.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LiveWorkspace } from "../../src/service/live-workspace.ts";
import { openStore } from "../../src/store/index.ts";
import type { Store } from "../../src/store/types.ts";

let dir: string;
let store: Store;

afterEach(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("group commit", () => {
  it("commits concurrent writes together and fails only the failing one", async () => {
    dir = mkdtempSync(join(tmpdir(), "slice-group-"));
    const path = join(dir, "slice.db");
    const now = Date.parse("2026-06-01T00:00:00Z");
    store = await openStore({ sqlitePath: path, clock: { now: () => now } });
    const ws = (await store.createWorkspace({ name: "g" })).id;
    await store
      .workspace(ws)
      .contacts.put([{ id: "c1", email: "c1@x.com", status: "subscribed", tags: [], fields: {} }]);
    await store.workspace(ws).segments.create({
      id: "openers",
      kind: "dynamic",
      name: "openers",
      rule: { type: "event", event: "email_opened", window: { in_last: "30d" } },
    });
    const live = await LiveWorkspace.open(store, ws, { clock: { now: () => now } });
    const applied: number[] = [];
    const writes = Array.from({ length: 10 }, (_, k) =>
      live.write(
        async (tx) => {
          await tx
            .workspace(ws)
            .events.insert([
              { id: `e${k}`, type: "email_opened", contact_id: "c1", timestamp: now - 1000 + k },
            ]);
          if (k === 3) throw new Error("write 3 fails after writing");
          return k;
        },
        (r) => {
          applied.push(r);
          if (r === 0)
            live.engine.addEvent({ type: "email_opened", contact_id: "c1", timestamp: now - 1000 });
        },
      ),
    );
    const results = await Promise.allSettled(writes);
    expect(results.map((r) => r.status)).toEqual([
      "fulfilled",
      "fulfilled",
      "fulfilled",
      "rejected",
      "fulfilled",
      "fulfilled",
      "fulfilled",
      "fulfilled",
      "fulfilled",
      "fulfilled",
    ]);
    expect(applied).toEqual([0, 1, 2, 4, 5, 6, 7, 8, 9]);
    expect(await store.workspace(ws).events.count()).toBe(9);
    const first = results[0] as PromiseFulfilledResult<{ changes: { change: string }[] }>;
    expect(first.value.changes.map((c) => c.change)).toEqual(["entered"]);
    await live.flush();
    const log = await store.workspace(ws).changes.list({ segmentId: "openers" });
    expect(log.data.map((c) => [c.contact_id, c.change])).toEqual([["c1", "entered"]]);
  });

  it("a lone failing write rolls back and leaves the pending changes for the next", async () => {
    dir = mkdtempSync(join(tmpdir(), "slice-group-"));
    store = await openStore({ sqlitePath: join(dir, "slice.db") });
    const ws = (await store.createWorkspace({ name: "g" })).id;
    const live = await LiveWorkspace.open(store, ws);
    await expect(
      live.write(
        async (tx) => {
          await tx.workspace(ws).contacts.put([{ id: "c9", email: "c9@x.com", tags: [], fields: {} }]);
          throw new Error("no");
        },
        () => {},
      ),
    ).rejects.toThrow("no");
    expect(await store.workspace(ws).contacts.count()).toBe(0);
  });
});
