/**
 * `GET /v1/stream` over real HTTP (docs/api.md, src/service/change-stream.ts): a client
 * that stops reading is dropped with a final `event: dropped` while the server's queue
 * for it stays within its bound (read from the server's counters, not from timing);
 * reconnecting with `Last-Event-ID` (or `?last_event_id=`) gets every change in between
 * exactly once, in the change log's order, with live changes logged during the replay;
 * the cap of open streams per API key.
 */
import { EventEmitter } from "node:events";
import { type IncomingMessage, request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChangeStreams, type StreamSink } from "../../src/service/change-stream.ts";
import type { ChangeRecord, Store } from "../../src/store/types.ts";
import { eventually, type Json, startTestServer, type TestServer } from "../support/server.ts";

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
}

/** Complete events of an SSE text (comments skipped; an unfinished last block left out). */
function parseSse(text: string): SseEvent[] {
  const blocks = text.split("\n\n");
  blocks.pop();
  const out: SseEvent[] = [];
  for (const b of blocks) {
    const ev: SseEvent = {};
    let any = false;
    for (const line of b.split("\n")) {
      if (line.startsWith(":") || line === "") continue;
      const i = line.indexOf(":");
      const field = line.slice(0, i);
      const value = line.slice(i + 1).replace(/^ /, "");
      if (field === "id" || field === "event" || field === "data") {
        ev[field] = value;
        any = true;
      }
    }
    if (any) out.push(ev);
  }
  return out;
}

interface SseClient {
  status: number;
  res: IncomingMessage;
  text(): string;
  events(): SseEvent[];
  ended: Promise<void>;
  until(pred: (events: SseEvent[], text: string) => boolean, what: string, ms?: number): Promise<void>;
  close(): void;
}

/** A stream read with node:http, so that it can stop reading (`res.pause()`) like a stuck client. */
function openSse(base: string, path: string, key: string, headers: Record<string, string> = {}) {
  return new Promise<SseClient>((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      { headers: { authorization: `Bearer ${key}`, ...headers }, agent: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        const ended = new Promise<void>((r) => {
          res.on("end", () => r());
          res.on("close", () => r());
        });
        resolve({
          status: res.statusCode ?? 0,
          res,
          text: () => text,
          events: () => parseSse(text),
          ended,
          until: (pred, what, ms = 20_000) =>
            eventually(() => pred(parseSse(text), text), ms, what).then(() => {}),
          close: () => req.destroy(),
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const changeIds = (evs: SseEvent[]) => evs.filter((e) => e.event === "change").map((e) => e.id!);

describe("GET /v1/stream", () => {
  let t: TestServer;
  /** The server's opaque event id of a change-log position, and back. */
  const idOf = (ws: string, seq: number) => t.server.slice.positions.of(ws).seal(seq);
  const seqOf = (ws: string, id: string) => t.server.slice.positions.of(ws).openSeq(id, "id");

  async function workspace(name: string) {
    const r = await t.call("POST", "/v1/workspaces", { name });
    expect(r.status, r.text).toBe(201);
    const key: string = r.body.api_key;
    const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
      t.call(method, path, body, { key, ...(headers ? { headers } : {}) });
    const id: string = (await call("GET", "/v1/workspace")).body.id;
    return { key, call, id };
  }

  /** Every change of the workspace after `after`, from the store, in sequence order. */
  async function logAfter(ws: string, after: number): Promise<ChangeRecord[]> {
    const out: ChangeRecord[] = [];
    let cursor: string | undefined = String(after);
    while (cursor) {
      const page = await t.server.slice.store.workspace(ws).changes.list({ cursor, limit: 1000 });
      out.push(...page.data);
      cursor = page.next_cursor ?? undefined;
    }
    return out;
  }

  beforeAll(async () => {
    t = await startTestServer({ kind: "sqlite" });
  });

  afterAll(async () => {
    await t?.stop();
  });

  it("a client that stops reading is dropped with a final event, its queue bounded; it resumes with Last-Event-ID", async () => {
    const streams = t.server.slice.changeStreams;
    const MAX = 300;
    streams.configure({ maxQueuedMessages: MAX, replayPage: 50, closeGraceMs: 120_000 });
    const dropped0 = streams.stats().dropped;
    const { key, call, id: wsId } = await workspace("slow-reader");
    const N = 2000;
    const batch = await call("POST", "/v1/contacts/batch", {
      contacts: Array.from({ length: N }, (_, i) => ({ email: `c${i}@example.com`, country: "FR" })),
    });
    expect(batch.status, batch.text).toBe(200);
    const segs: string[] = [];
    for (const name of ["A", "B"]) {
      const s = await call("POST", "/v1/segments", {
        name,
        rule: { type: "field", field: "country", op: "eq", value: "FR" },
      });
      expect(s.status, s.text).toBe(201);
      segs.push(s.body.id);
    }
    let flips = 0;
    const flip = async () => {
      flips++;
      const value = flips % 2 === 1 ? "DE" : "FR";
      for (const [i, id] of segs.entries()) {
        const r = await call("PUT", `/v1/segments/${id}`, {
          name: i === 0 ? "A" : "B",
          rule: { type: "field", field: "country", op: "eq", value },
        });
        expect(r.status, r.text).toBe(200);
      }
    };

    const slow = await openSse(t.url, "/v1/stream", key);
    expect(slow.status).toBe(200);
    await slow.until((_e, text) => text.startsWith(": connected\n\n"), "`: connected`");
    // From here on the client reads nothing: the socket fills, then the server's queue.
    slow.res.pause();

    let maxSeen = 0;
    while (streams.stats().dropped === dropped0) {
      expect(flips, "the stuck client was never dropped").toBeLessThan(200);
      await flip();
      maxSeen = Math.max(maxSeen, streams.stats().queuedMessages);
    }
    const after = streams.stats();
    expect(after.dropped).toBe(dropped0 + 1);
    expect(after.peakQueuedMessages).toBeLessThanOrEqual(MAX);
    expect(maxSeen).toBeLessThanOrEqual(MAX);
    // The dropped client's queue is freed at once, not when its socket goes.
    expect(after.queuedMessages).toBe(0);
    expect(after.queuedBytes).toBe(0);
    expect(after.clients).toBe(0);
    // More changes while nobody listens cost nothing.
    await flip();
    expect(streams.stats().queuedMessages).toBe(0);

    // The client reads again: what the socket held, then the final event, then the end.
    slow.res.resume();
    await slow.ended;
    const got = slow.events();
    const last = got.at(-1)!;
    expect(last.event).toBe("dropped");
    const info: Json = JSON.parse(last.data!);
    expect(info.reason).toBe("too_slow");
    expect(info.message).toMatch(/did not read/);
    const seen = changeIds(got);
    expect(seen.length).toBeGreaterThan(0);
    expect(info.last_event_id).toBe(seen.at(-1));
    // Up to the drop, the events are the log's changes from the first seen, in its order,
    // none missing (the segments' first members were logged before the client came).
    const log = await logAfter(wsId, seqOf(wsId, seen[0]!) - 1);
    expect(seen).toEqual(log.slice(0, seen.length).map((c) => idOf(wsId, c.seq)));
    const first = JSON.parse(got.find((e) => e.event === "change")!.data!);
    expect(first).toEqual({
      segment_id: log[0]!.segment_id,
      contact_id: log[0]!.contact_id,
      change: log[0]!.change,
      at: new Date(log[0]!.at).toISOString(),
    });

    // Reconnect from the last id received, while changes keep being logged: the replay
    // pages through the log and the live changes that arrive meanwhile are not lost (more
    // of them than it keeps aside: the ChangeStreams tests below). The default queue, as
    // one rule edit publishes 2,000 changes at once to a client read in this process.
    streams.configure({ maxQueuedMessages: 10_000 });
    const lastId = info.last_event_id as string;
    const resumed = await openSse(t.url, "/v1/stream", key, { "last-event-id": lastId });
    expect(resumed.status).toBe(200);
    await flip();
    await flip();
    const want = (await logAfter(wsId, seqOf(wsId, lastId))).map((c) => idOf(wsId, c.seq));
    expect(want.length).toBeGreaterThan(4 * N);
    await resumed.until((evs) => changeIds(evs).length >= want.length, "every change after the last id");
    // A moment for duplicates, had there been any, to arrive (the assertion is on content).
    await flip();
    const wantAll = (await logAfter(wsId, seqOf(wsId, lastId))).map((c) => idOf(wsId, c.seq));
    await resumed.until((evs) => changeIds(evs).length >= wantAll.length, "the last flip's changes");
    expect(resumed.text().startsWith(": connected\n\n")).toBe(true);
    expect(changeIds(resumed.events())).toEqual(wantAll);
    expect(resumed.events().filter((e) => e.event !== "change")).toEqual([]);
    resumed.close();
    await eventually(() => streams.stats().clients === 0, 5000, "the resumed client to be gone");
    streams.configure({ maxQueuedMessages: 10_000, replayPage: 1000 });
  }, 180_000);

  it("?last_event_id= resumes too; a bad id is a 400 naming it", async () => {
    const { key, call, id: wsId } = await workspace("resume-query");
    const seg = await call("POST", "/v1/segments", {
      name: "FR",
      rule: { type: "field", field: "country", op: "eq", value: "FR" },
    });
    expect(seg.status, seg.text).toBe(201);
    for (let i = 0; i < 3; i++) {
      expect((await call("POST", "/v1/contacts", { email: `q${i}@example.com`, country: "FR" })).status).toBe(
        201,
      );
    }
    const log = await eventually(async () => {
      const l = await logAfter(wsId, 0);
      // Each contact enters the segment and the workspace's default segment.
      return l.length === 6 ? l : null;
    }, 5000);
    const seqs = log!.map((c) => idOf(wsId, c.seq));
    const s = await openSse(t.url, `/v1/stream?last_event_id=${seqs[1]}`, key);
    expect(s.status).toBe(200);
    await s.until((evs) => changeIds(evs).length >= 4, "the four later changes");
    expect(changeIds(s.events())).toEqual(seqs.slice(2));
    // The header wins over the query (an EventSource reconnecting sends the newer id there).
    const h = await openSse(t.url, `/v1/stream?last_event_id=${seqs[1]}`, key, {
      "last-event-id": seqs[4]!,
    });
    await h.until((evs) => changeIds(evs).length >= 1, "the last change");
    expect(changeIds(h.events())).toEqual([seqs[5]]);
    s.close();
    h.close();

    const bad = await call("GET", "/v1/stream?last_event_id=abc");
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.path).toBe("last_event_id");
    // Ids are opaque and of one workspace: a sequence number, or another workspace's
    // id for the same position, is refused rather than read.
    expect(seqs.every((id) => !/^\d+$/.test(id))).toBe(true);
    const other = await workspace("resume-query-other");
    const plain = await call("GET", `/v1/stream?last_event_id=${seqOf(wsId, seqs[1]!)}`);
    expect(plain.status).toBe(400);
    const foreign = await call("GET", `/v1/stream?last_event_id=${idOf(other.id, seqOf(wsId, seqs[1]!))}`);
    expect(foreign.status).toBe(400);
    expect(foreign.body.error.details.path).toBe("last_event_id");
    const badHeader = await call("GET", "/v1/stream", undefined, { "last-event-id": "1; DROP" });
    expect(badHeader.status).toBe(400);
    expect(badHeader.body.error.details.path).toBe("Last-Event-ID");
  });

  it("caps open streams per API key (429), other keys unaffected, a closed one frees its place", async () => {
    const { key, call } = await workspace("cap");
    const max = t.server.slice.changeStreams.limits.maxPerKey;
    expect(max).toBe(10);
    const open: SseClient[] = [];
    try {
      for (let i = 0; i < max; i++) {
        const s = await openSse(t.url, "/v1/stream", key);
        expect(s.status).toBe(200);
        open.push(s);
      }
      const over = await call("GET", "/v1/stream");
      expect(over.status).toBe(429);
      expect(over.body.error.code).toBe("rate_limited");
      expect(over.body.error.message).toMatch(/10 open streams \(at most 10\)/);

      const other = await call("POST", "/v1/keys", { name: "second" });
      expect(other.status, other.text).toBe(201);
      const second = await openSse(t.url, "/v1/stream", other.body.key);
      expect(second.status).toBe(200);
      second.close();

      open.shift()!.close();
      const again = await eventually(
        async () => {
          const s = await openSse(t.url, "/v1/stream", key);
          if (s.status === 200) return s;
          s.close();
          return null;
        },
        5000,
        "a place to be freed",
      );
      open.push(again!);
      await again!.until((_e, text) => text.startsWith(": connected\n\n"), "`: connected`");
    } finally {
      for (const s of open) s.close();
    }
  });
});

// ---------------------------------------------------------------- the queue, without sockets

/** A socket stand-in: takes writes while `open`, refuses (queues in Node) otherwise. */
class FakeSink extends EventEmitter implements StreamSink {
  chunks: string[] = [];
  open = true;
  ended = false;
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return this.open;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {}
  ids(): number[] {
    return parseSse(this.chunks.join("")).flatMap((e) => (e.event === "change" ? [Number(e.id)] : []));
  }
}

function memoryLog() {
  const log: ChangeRecord[] = [];
  const changes = {
    async list(req: { cursor?: string; limit?: number }) {
      const after = Number(req.cursor ?? 0);
      const limit = req.limit ?? 100;
      const rest = log.filter((c) => c.seq > after);
      const data = rest.slice(0, limit);
      return { data, next_cursor: rest.length > limit ? String(data.at(-1)!.seq) : null };
    },
  };
  const store = { workspace: () => ({ changes }) } as unknown as Store;
  const append = (n: number) => {
    const out: ChangeRecord[] = [];
    for (let i = 0; i < n; i++) {
      const seq = log.length + 1;
      const c: ChangeRecord = { seq, segment_id: "s", contact_id: `c${seq}`, change: "entered", at: 0 };
      log.push(c);
      out.push(c);
    }
    return out;
  };
  return { store, append };
}

const tick = () => new Promise((r) => setImmediate(r));

/** Sequence numbers as they are, so that the hub's own logic reads plainly here. */
const PLAIN_IDS = (_ws: string, seq: number) => String(seq);

describe("ChangeStreams", () => {
  it("replays after the id at the client's pace; live changes during the replay, even too many to keep, arrive once, in order", async () => {
    const { store, append } = memoryLog();
    append(100);
    const hub = new ChangeStreams(store, { maxQueuedMessages: 20, replayPage: 5 }, PLAIN_IDS);
    const sink = new FakeSink();
    sink.open = false;
    hub.open({ workspace: "w", keyId: "k", sink, after: 10, start: () => {} });
    await tick();
    // One page read: the first change written, the socket full, four queued; the replay waits.
    expect(sink.ids()).toEqual([11]);
    expect(hub.stats().queuedMessages).toBe(4);
    // 30 changes while replaying: more than the 20 kept aside, so they are let go and
    // read from the log again at the end.
    hub.publish("w", append(30));
    expect(hub.stats().queuedMessages).toBeLessThanOrEqual(20);
    sink.open = true;
    for (let i = 0; i < 200 && sink.ids().length < 120; i++) {
      sink.emit("drain");
      await tick();
    }
    hub.publish("w", append(5));
    const want = Array.from({ length: 125 }, (_, i) => i + 11);
    expect(sink.ids()).toEqual(want);
    expect(sink.chunks[0]).toBe(": connected\n\n");
    expect(hub.stats().peakQueuedMessages).toBeLessThanOrEqual(20);
  });

  it("drops a client whose queue is full: the final event names the last id written, the queue is freed", () => {
    const { store, append } = memoryLog();
    const hub = new ChangeStreams(store, { maxQueuedMessages: 20 }, PLAIN_IDS);
    const sink = new FakeSink();
    hub.open({ workspace: "w", keyId: "k", sink, start: () => {} });
    hub.publish("w", append(3));
    sink.open = false;
    hub.publish("w", append(1)); // written, and the socket says it is full
    hub.publish("w", append(20)); // queued: 20 at most
    expect(hub.stats().queuedMessages).toBe(20);
    expect(sink.ended).toBe(false);
    hub.publish("w", append(1));
    expect(sink.ended).toBe(true);
    const last = parseSse(sink.chunks.join("")).at(-1)!;
    expect(last.event).toBe("dropped");
    expect(JSON.parse(last.data!)).toMatchObject({ reason: "too_slow", last_event_id: "4" });
    expect(sink.ids()).toEqual([1, 2, 3, 4]);
    expect(hub.stats()).toMatchObject({ clients: 0, queuedMessages: 0, queuedBytes: 0, dropped: 1 });
    // Nothing more is written to a dropped client.
    hub.publish("w", append(5));
    expect(sink.ids()).toEqual([1, 2, 3, 4]);
  });
});
