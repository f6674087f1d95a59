/**
 * Pending membership changes are logged, and their webhooks sent, once the oldest has
 * waited `LOG_DELAY_MS`, without waiting for a later write or the service's tick: with
 * an injected timer, what arms and what the timer's firing logs; with real timers and a
 * real receiver, that a delivery needs neither the tick nor the dispatcher's poll.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LiveWorkspace, type LogTimer } from "../../src/service/live-workspace.ts";
import { DEFAULT_WORKSPACE_ID, Slice } from "../../src/service/slice.ts";
import { verifySignature } from "../../src/service/webhooks.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import type { ChangeRecord } from "../../src/store/types.ts";

let dir: string;
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

async function seededStore(clock?: { now(): number }): Promise<Store> {
  dir = mkdtempSync(join(tmpdir(), "slice-log-flush-"));
  const store = await openStore({ sqlitePath: join(dir, "slice.db"), ...(clock ? { clock } : {}) });
  cleanups.push(() => store.close());
  await store.createWorkspace({ id: DEFAULT_WORKSPACE_ID, name: "Default", time_zone: "UTC" });
  await store.workspace(DEFAULT_WORKSPACE_ID).contacts.put([
    { id: "c1", email: "c1@x.com", status: "subscribed", tags: [], fields: {} },
    { id: "c2", email: "c2@x.com", status: "subscribed", tags: [], fields: {} },
    { id: "c3", email: "c3@x.com", status: "subscribed", tags: [], fields: {} },
  ]);
  await store.workspace(DEFAULT_WORKSPACE_ID).segments.create({
    id: "openers",
    kind: "dynamic",
    name: "openers",
    rule: { type: "event", event: "email_opened", window: { in_last: "30d" } },
  });
  return store;
}

const opened = (contact: string, at: number) => ({
  id: `e-${contact}`,
  type: "email_opened",
  contact_id: contact,
  timestamp: at - 1000,
});

/** Timers that fire only when told to, on an elapsed time that moves only when told to. */
function manualTimers() {
  const armed: { fn: () => void; ms: number; cancelled: boolean; fired: boolean }[] = [];
  let elapsed = 1_000;
  const timer: LogTimer = {
    after: (fn, ms) => {
      const t = {
        fn: () => {
          t.fired = true;
          fn();
        },
        ms,
        cancelled: false,
        fired: false,
      };
      armed.push(t);
      return () => {
        t.cancelled = true;
      };
    },
    now: () => elapsed,
  };
  const live = () => armed.filter((t) => !t.cancelled && !t.fired);
  const advance = (ms: number) => {
    elapsed += ms;
  };
  return { timer, live, advance };
}

describe("pending changes are logged at most LOG_DELAY_MS after the last log round", () => {
  it("arms a timer with the first pending change, at once after a quiet spell; its firing logs them, with no further write", async () => {
    const NOW = Date.parse("2026-06-01T00:00:00Z");
    const clock = { now: () => NOW };
    const store = await seededStore(clock);
    const timers = manualTimers();
    const announced: ChangeRecord[][] = [];
    let logged: () => void = () => {};
    const live = await LiveWorkspace.open(store, DEFAULT_WORKSPACE_ID, {
      clock,
      logTimer: timers.timer,
      afterLog: (records) => {
        announced.push(records);
        logged();
      },
    });
    // What opening logged (the default segments' members) is not this test's.
    announced.length = 0;
    // Far below the service's 500 ms tick, which logged them before.
    expect(LiveWorkspace.LOG_DELAY_MS).toBeLessThanOrEqual(50);

    // A quiet minute since opening: the first change has nothing to gather with.
    timers.advance(60_000);
    await live.ingestEvents([opened("c1", NOW)]);
    live.settle();
    expect(live.pendingChanges).toBe(1);
    expect(timers.live().map((t) => t.ms)).toEqual([0]);
    // Another event batch neither logs them (it stays off this thread) nor arms again.
    await live.ingestEvents([opened("c2", NOW)]);
    live.settle();
    expect(live.pendingChanges).toBe(2);
    expect(timers.live()).toHaveLength(1);
    expect((await store.workspace(DEFAULT_WORKSPACE_ID).changes.list({ segmentId: "openers" })).data).toEqual(
      [],
    );

    const done = new Promise<void>((resolve) => {
      logged = resolve;
    });
    timers.live()[0]!.fn();
    await done;
    expect(announced.map((a) => a.map((c) => [c.segment_id, c.contact_id]))).toEqual([
      [
        ["openers", "c1"],
        ["openers", "c2"],
      ],
    ]);
    expect(live.pendingChanges).toBe(0);
    const log = await store.workspace(DEFAULT_WORKSPACE_ID).changes.list({ segmentId: "openers" });
    expect(log.data.map((c) => [c.contact_id, c.change])).toEqual([
      ["c1", "entered"],
      ["c2", "entered"],
    ]);

    // 10 ms after that round took its changes, the next change waits for the rest of the
    // interval, so that the changes of a busy spell share a commit.
    timers.advance(10);
    await live.ingestEvents([opened("c3", NOW)]);
    live.settle();
    expect(timers.live().map((t) => t.ms)).toEqual([LiveWorkspace.LOG_DELAY_MS - 10]);
    const again = new Promise<void>((resolve) => {
      logged = resolve;
    });
    timers.live()[0]!.fn();
    await again;
    expect(announced.at(-1)!.map((c) => c.contact_id)).toEqual(["c3"]);
  });

  it("the timer's flush is a round of its own through the store's round, which batches leave the changes to: no transaction of this thread's connection", async () => {
    const NOW = Date.parse("2026-06-01T00:00:00Z");
    let t = NOW;
    const clock = { now: () => t };
    const store = await seededStore(clock);
    const timers = manualTimers();
    const live = await LiveWorkspace.open(store, DEFAULT_WORKSPACE_ID, { clock, logTimer: timers.timer });
    // Counted from here: what the workspace asks of the store.
    let transactions = 0;
    const rounds: { batches: number; changes: string[] }[] = [];
    const transaction = store.transaction.bind(store);
    store.transaction = (ws, fn) => {
      transactions++;
      return transaction(ws, fn);
    };
    const commitEventRound = store.commitEventRound.bind(store);
    store.commitEventRound = (ws, round) => {
      rounds.push({
        batches: round.batches.length,
        changes: (round.log?.changes ?? []).map((c) => `${c.contact_id} ${c.change}`),
      });
      return commitEventRound(ws, round);
    };
    const openers = async () =>
      (await store.workspace(DEFAULT_WORKSPACE_ID).changes.list({ segmentId: "openers" })).data.map(
        (c) => `${c.contact_id} ${c.change}`,
      );

    await live.ingestEvents([opened("c1", NOW)]);
    live.settle();
    t += LiveWorkspace.LOG_DELAY_MS;
    // c1's change is due, and still the next batch's round leaves it to the timer's round.
    await live.ingestEvents([opened("c2", NOW)]);
    live.settle();
    expect(live.pendingChanges).toBe(2);
    expect(await openers()).toEqual([]);
    await live.flush();
    expect(await openers()).toEqual(["c1 entered", "c2 entered"]);
    expect(rounds).toEqual([
      { batches: 1, changes: [] },
      { batches: 1, changes: [] },
      { batches: 0, changes: ["c1 entered", "c2 entered"] },
    ]);
    expect(transactions).toBe(0);
  });

  it("a write that logs the pending changes first cancels their timer", async () => {
    const NOW = Date.parse("2026-06-01T00:00:00Z");
    const clock = { now: () => NOW };
    const store = await seededStore(clock);
    const timers = manualTimers();
    const live = await LiveWorkspace.open(store, DEFAULT_WORKSPACE_ID, { clock, logTimer: timers.timer });
    await live.ingestEvents([opened("c1", NOW)]);
    live.settle();
    expect(timers.live()).toHaveLength(1);
    await live.flush();
    expect(timers.live()).toHaveLength(0);
    expect(live.pendingChanges).toBe(0);
  });

  it("the service delivers a change's webhook with no tick and no poll to carry it", async () => {
    const store = await seededStore();
    const hits: { headers: IncomingHttpHeaders; body: string }[] = [];
    let arrived: () => void = () => {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        hits.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
        res.end("ok");
        arrived();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const { port } = server.address() as AddressInfo;
    // Neither the tick nor the dispatcher's poll comes round during the test.
    const slice = await Slice.start({
      store,
      allowPrivateAddresses: true,
      tickMs: 3_600_000,
      webhookPollMs: 3_600_000,
      log: () => {},
    });
    cleanups.push(() => slice.stop());
    const svc = await slice.workspace(DEFAULT_WORKSPACE_ID);
    const hook = await slice.createWebhook(svc, {
      url: `http://127.0.0.1:${port}/hook`,
      segment_id: "openers",
      events: ["segment.entered"],
    });
    const delivered = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    await svc.live.ingestEvents([opened("c1", Date.now())]);
    // Generous: before, this waited for the tick; the bound is not what is tested.
    const late = new Promise<"late">((resolve) => setTimeout(() => resolve("late"), 10_000).unref());
    expect(await Promise.race([delivered.then(() => "delivered" as const), late])).toBe("delivered");
    expect(hits).toHaveLength(1);
    const hit = hits[0]!;
    expect(verifySignature(hook.secret, String(hit.headers["slice-signature"]), hit.body)).toBe(true);
    const body = JSON.parse(hit.body) as { type: string; data: { contact_id: string } };
    expect([body.type, body.data.contact_id]).toEqual(["segment.entered", "c1"]);
  }, 20_000);
});
