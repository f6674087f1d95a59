/**
 * Fencing in PostgreSQL (docs/cluster.md): two stores on one database stand for two
 * nodes. A workspace's transactions commit only under the epoch that holds it; a new
 * holder's claim waits for the old holder's transaction in flight, and after it the old
 * holder commits nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.ts";
import { type Store, StoreError } from "../../src/store/types.ts";
import { type PgServer, startPostgres } from "../support/postgres.ts";

let pgServer: PgServer;
let a: Store;
let b: Store;
const WS = "ws_default";

const contact = (email: string) => ({ id: `ct_${email.replace(/\W/g, "")}`, email });

describe("workspace epochs fence a deposed node's writes", () => {
  beforeAll(async () => {
    pgServer = await startPostgres("slice_fencing");
    a = await openStore({ databaseUrl: pgServer.url });
    b = await openStore({ databaseUrl: pgServer.url });
    await a.createWorkspace({ id: WS, name: "Default", time_zone: "UTC" });
  }, 60_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await pgServer?.stop();
  });

  it("commits under the epoch held, refuses after a later claim, and claims only upwards", async () => {
    const epochs = { a: 0, b: 0 };
    a.fence(() => epochs.a);
    b.fence(() => epochs.b);
    expect(await a.heldEpoch(WS)).toBe(0);
    expect(await a.claimEpoch(WS, 1)).toBe(true);
    epochs.a = 1;
    await a.transaction(WS, (tx) => tx.workspace(WS).contacts.put([contact("one@example.com")]));

    expect(await b.claimEpoch(WS, 2)).toBe(true);
    epochs.b = 2;
    const late = a.transaction(WS, (tx) => tx.workspace(WS).contacts.put([contact("late@example.com")]));
    await expect(late).rejects.toBeInstanceOf(StoreError);
    await expect(late).rejects.toMatchObject({ code: "fenced" });
    expect((await b.workspace(WS).contacts.find([{ email: "late@example.com" }]))[0]).toBeNull();
    await b.transaction(WS, (tx) => tx.workspace(WS).contacts.put([contact("two@example.com")]));

    expect(await a.claimEpoch(WS, 2)).toBe(false);
    expect(await a.claimEpoch(WS, 1)).toBe(false);
    expect(await a.heldEpoch(WS)).toBe(2);
  });

  it("makes a claim wait for the holder's transaction in flight, which the claimer then sees", async () => {
    const epochs = { a: 3, b: 2 };
    a.fence(() => epochs.a);
    b.fence(() => epochs.b);
    expect(await a.claimEpoch(WS, 3)).toBe(true);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let checked!: () => void;
    const inside = new Promise<void>((r) => (checked = r));
    const order: string[] = [];
    const write = a.transaction(WS, async (tx) => {
      checked();
      await held;
      await tx.workspace(WS).contacts.put([contact("inflight@example.com")]);
      order.push("holder committed");
    });
    await inside;
    const claim = b.claimEpoch(WS, 4).then((ok) => {
      order.push("claimed");
      return ok;
    });
    // Whatever the claim does meanwhile, it cannot finish before the holder's commit.
    await new Promise((r) => setTimeout(r, 300));
    release();
    await write;
    expect(await claim).toBe(true);
    expect(order).toEqual(["holder committed", "claimed"]);
    expect((await b.workspace(WS).contacts.find([{ email: "inflight@example.com" }]))[0]).not.toBeNull();
  });
});
