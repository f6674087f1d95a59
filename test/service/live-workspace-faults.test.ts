/**
 * LiveWorkspace when something throws where it should not: a hook or the engine during
 * a group commit must not strand the writes of the round nor stop the queue, and an
 * engine that fails to apply a committed write is rebuilt from the store (fail closed)
 * rather than left missing it. Reconciling the change log belongs to opening alone.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LiveWorkspace, type OpenOptions } from "../../src/service/live-workspace.ts";
import * as reconcileModule from "../../src/service/reconcile.ts";
import { openStore } from "../../src/store/index.ts";
import type { Store } from "../../src/store/types.ts";

const NOW = Date.parse("2026-06-01T00:00:00Z");
const clock = { now: () => NOW };
let dir: string;
let store: Store | undefined;

afterEach(async () => {
  await store?.close();
  store = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** A workspace with contacts c1 and c2 and a segment of those who opened an email in the last 30 days. */
async function setup(opts: OpenOptions = {}) {
  dir = mkdtempSync(join(tmpdir(), "slice-live-faults-"));
  store = await openStore({ sqlitePath: join(dir, "slice.db"), clock });
  const s = store;
  const ws = (await s.createWorkspace({ name: "faults" })).id;
  await s.workspace(ws).contacts.put([
    { id: "c1", email: "c1@x.com", status: "subscribed", tags: [], fields: {} },
    { id: "c2", email: "c2@x.com", status: "subscribed", tags: [], fields: {} },
  ]);
  await s.workspace(ws).segments.create({
    id: "openers",
    kind: "dynamic",
    name: "openers",
    rule: { type: "event", event: "email_opened", window: { in_last: "30d" } },
  });
  const warnings: string[] = [];
  const live = await LiveWorkspace.open(s, ws, { clock, warn: (l) => warnings.push(l), ...opts });
  return { store: s, ws, live, warnings };
}

const opened = (contact: string, k: number) => ({
  id: `e-${contact}-${k}`,
  type: "email_opened",
  contact_id: contact,
  timestamp: NOW - 1000 + k,
});

/** Resolves with the settled outcome, or "stranded" if it has not settled within `ms`. */
async function settled<T>(p: Promise<T>, ms = 3000): Promise<"fulfilled" | "rejected" | "stranded"> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"stranded">((resolve) => {
    timer = setTimeout(() => resolve("stranded"), ms);
  });
  const outcome = p.then(
    () => "fulfilled" as const,
    () => "rejected" as const,
  );
  try {
    return await Promise.race([outcome, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe("group commit faults", () => {
  it("a throwing afterLog hook strands no write and the queue goes on", async () => {
    let throwing = true;
    const { store, ws, live } = await setup({
      afterLog: () => {
        if (throwing) throw new Error("announcing failed");
      },
    });
    await live.ingestEvents([opened("c1", 0)]);
    live.settle();
    expect(live.pendingChanges).toBe(1);
    // The round logs the pending change, then its afterLog throws.
    const writes: Promise<unknown>[] = [
      live.write(
        async (tx) => tx.workspace(ws).events.insert([opened("c2", 1)]),
        () => {},
        { flush: true },
      ),
      live.write(
        async () => 2,
        () => {},
      ),
    ];
    expect(await Promise.all(writes.map((w) => settled(w)))).toEqual(["fulfilled", "fulfilled"]);
    throwing = false;
    // A later write proceeds.
    expect(
      await settled(
        live.write(
          async () => 3,
          () => {},
          { flush: true },
        ),
      ),
    ).toBe("fulfilled");
    expect(await store.workspace(ws).events.count()).toBe(2);
    const log = await store.workspace(ws).changes.list({ segmentId: "openers" });
    expect(log.data.map((c) => [c.contact_id, c.change])).toEqual([["c1", "entered"]]);
  });

  it("an engine that throws while moving to now fails the round's writes, and later writes proceed", async () => {
    const { store, ws, live } = await setup();
    const engine = live.engine;
    const advanceTo = engine.advanceTo.bind(engine);
    let throwing = true;
    engine.advanceTo = (t: number) => {
      if (throwing) throw new Error("advance failed");
      return advanceTo(t);
    };
    const first = live.write(
      async (tx) => tx.workspace(ws).events.insert([opened("c1", 0)]),
      () => {},
    );
    expect(await settled(first)).toBe("rejected");
    throwing = false;
    const second = live.write(
      async (tx) => tx.workspace(ws).events.insert([opened("c2", 1)]),
      () => {},
    );
    expect(await settled(second)).toBe("fulfilled");
    // Nothing of the failed round was committed.
    expect(await store.workspace(ws).events.count()).toBe(1);
  });
});

describe("a committed write the engine fails to apply", () => {
  it("reloads the workspace from the store and says so", async () => {
    const reloads: string[] = [];
    const { ws, live, warnings } = await setup({ onReload: (r) => reloads.push(r) });
    // A write whose apply throws after its commit: the engine misses contact c3.
    const w = live.write(
      async (tx) =>
        tx
          .workspace(ws)
          .contacts.put([{ id: "c3", email: "c3@x.com", status: "subscribed", tags: [], fields: {} }]),
      () => {
        throw new Error("apply failed");
      },
    );
    await expect(w).rejects.toThrow("apply failed");
    await live.flush();
    expect(reloads).toEqual(["apply_failed"]);
    expect(live.hasContact("c3")).toBe(true);
    expect(live.engine.contacts.count).toBe(3);
    expect(warnings.some((l) => l.includes("committed but not applied"))).toBe(true);
  });

  it("reloads after an event batch failed to apply, so the engine holds the committed events", async () => {
    const reloads: string[] = [];
    const { store, ws, live } = await setup({ onReload: (r) => reloads.push(r) });
    const engine = live.engine;
    engine.addEvent = () => {
      throw new Error("addEvent failed");
    };
    const r = await live.ingestEvents([opened("c1", 0)]);
    expect(r.accepted).toBe(1);
    expect(() => r.changes).toThrow("addEvent failed");
    await live.flush();
    expect(reloads).toEqual(["apply_failed"]);
    expect(live.engine).not.toBe(engine);
    expect([...live.engine.members("openers").ids()]).toEqual(["c1"]);
    // The entry the failed apply never produced was logged by the reload's reconciliation.
    const log = await store.workspace(ws).changes.list({ segmentId: "openers" });
    expect(log.data.map((c) => [c.contact_id, c.change])).toEqual([["c1", "entered"]]);
    // And the queue goes on with the new engine.
    const next = await live.ingestEvents([opened("c2", 1)]);
    expect(next.changes.map((c) => [c.contact_id, c.change])).toEqual([["c2", "entered"]]);
  });
});

describe("reconciliation", () => {
  it("is part of opening: not callable from outside, and no side channel carries its input", async () => {
    const { live } = await setup();
    expect((live as unknown as { reconcile?: unknown }).reconcile).toBeUndefined();
    expect("startupLogs" in reconcileModule).toBe(false);
  });
});
