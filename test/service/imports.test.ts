import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ContactImportRow,
  type ImportCustomField,
  type ImportRowFailure,
  ImportRunner,
  type ImportSink,
  parseContactsCsv,
  parseEventsNdjson,
  validateMapping,
} from "../../src/service/imports.ts";
import { openStore } from "../../src/store/index.ts";
import type { ContactWrite, Store } from "../../src/store/types.ts";

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const EVENT_TYPE = /^[a-z0-9_.:-]{1,64}$/;

/**
 * A small validating sink over the real store: contacts need a valid email (upserted
 * by it), `fields.age` must be a number; events need a valid type and a contact email.
 */
class StoreSink implements ImportSink {
  contactBatches: number[] = [];
  eventBatches: number[] = [];
  segmentAdds: { segmentId: string; contactIds: string[] }[] = [];
  beforeUpsert: ((call: number) => Promise<void>) | null = null;

  constructor(
    private readonly store: Store,
    private readonly ws: string,
  ) {}

  async upsertContacts(batch: Record<string, unknown>[]) {
    this.contactBatches.push(batch.length);
    await this.beforeUpsert?.(this.contactBatches.length);
    const errors: { index: number; error: string }[] = [];
    const writes: ContactWrite[] = [];
    batch.forEach((c, index) => {
      const fields = (c.fields ?? {}) as Record<string, unknown>;
      if (c.email === undefined) errors.push({ index, error: "email: required" });
      else if (typeof c.email !== "string") errors.push({ index, error: "email: expected a string" });
      else if (!EMAIL.test(c.email)) errors.push({ index, error: "email: not a valid email address" });
      else if (fields.age !== undefined && typeof fields.age !== "number") {
        errors.push({ index, error: "fields.age: expected a number" });
      } else {
        writes.push({
          email: c.email,
          first_name: (c.first_name as string) ?? null,
          last_name: (c.last_name as string) ?? null,
          country: (c.country as string) ?? null,
          tags: (c.tags as string[]) ?? [],
          fields: fields as ContactWrite["fields"],
        });
      }
    });
    const found = await this.store
      .workspace(this.ws)
      .contacts.find(writes.map((w) => ({ email: w.email as string })));
    const stored = await this.store
      .workspace(this.ws)
      .contacts.put(writes.map((w, i) => (found[i] ? { ...w, id: found[i].id } : w)));
    return { errors, contactIds: stored.map((r) => r.id) };
  }

  async ingestEvents(batch: Record<string, unknown>[]) {
    this.eventBatches.push(batch.length);
    const errors: { index: number; error: string }[] = [];
    for (const [index, e] of batch.entries()) {
      const ref = e.contact as { email?: unknown } | undefined;
      if (typeof e.type !== "string" || !EVENT_TYPE.test(e.type)) {
        errors.push({ index, error: "type: expected a name matching [a-z0-9_.:-]{1,64}" });
        continue;
      }
      if (typeof ref?.email !== "string") {
        errors.push({ index, error: "contact.email: expected a string" });
        continue;
      }
      let [contact] = await this.store.workspace(this.ws).contacts.find([{ email: ref.email }]);
      if (!contact) [contact] = await this.store.workspace(this.ws).contacts.put([{ email: ref.email }]);
      await this.store.workspace(this.ws).events.insert([
        {
          type: e.type,
          contact_id: contact.id,
          timestamp: Date.now(),
          properties: (e.properties ?? {}) as Record<string, never>,
        },
      ]);
    }
    return { errors };
  }

  async addToSegment(segmentId: string, contactIds: string[]) {
    this.segmentAdds.push({ segmentId, contactIds });
    await this.store.workspace(this.ws).members.put(
      segmentId,
      contactIds.map((contact_id) => ({ contact_id, action: "added" as const })),
    );
  }
}

const dir = mkdtempSync(join(tmpdir(), "slice-imports-"));
let store: Store;

beforeAll(async () => {
  store = await openStore({ sqlitePath: join(dir, "imports.db") });
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function setup(opts: { batchSize?: number } = {}) {
  const ws = (await store.createWorkspace({ name: "imports" })).id;
  const sink = new StoreSink(store, ws);
  const runner = new ImportRunner(store, sink, opts);
  return { ws, sink, runner };
}

async function contactByEmail(ws: string, email: string) {
  const [c] = await store.workspace(ws).contacts.find([{ email }]);
  return c;
}

async function mustFind(ws: string, email: string) {
  const c = await contactByEmail(ws, email);
  if (!c) throw new Error(`no contact ${email}`);
  return c;
}

/** Text in chunks of `size` bytes, so that cells, quotes and characters are split. */
function bytesInChunks(text: string, size: number): AsyncIterable<Buffer> {
  const buf = Buffer.from(text, "utf8");
  return (async function* () {
    for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
  })();
}

async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const r of rows) out.push(r);
  return out;
}

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

const AGE: ImportCustomField[] = [{ key: "age", type: "number" }];

describe("contact CSV imports", () => {
  it("reports bad rows with their row number and reason, and applies the good ones", async () => {
    const { ws, runner, sink } = await setup();
    const csv = [
      "email,first_name,age",
      "a@x.com,Ann,30",
      ",NoEmail,20",
      "bad-email,Bob,1",
      "c@x.com,Cid,notanumber",
      "d@x.com,Dee,",
    ].join("\n");
    const started = await runner.start(ws, "contacts", Readable.from([csv]), {}, AGE);
    expect(started.status).toBe("pending");
    expect(started.kind).toBe("contacts");
    const job = await runner.wait(ws, started.id);
    expect(job).toMatchObject({ status: "done", processed: 5, accepted: 2, rejected: 3, total: 5 });
    expect(job.errors).toEqual([
      { row: 3, error: 'column "email": required' },
      { row: 4, error: 'column "email": not a valid email address' },
      { row: 5, error: 'column "age": expected a number, got "notanumber"' },
    ]);
    // The parser rejected row 5 itself: the sink saw only four rows.
    expect(sink.contactBatches).toEqual([4]);
    expect(await store.workspace(ws).contacts.count()).toBe(2);
    const ann = await mustFind(ws, "a@x.com");
    expect(ann.first_name).toBe("Ann");
    expect(ann.fields).toEqual({ age: 30 });
    // An empty cell leaves the field out.
    expect((await mustFind(ws, "d@x.com")).fields).toEqual({});
    expect(await store.workspace(ws).imports.get(started.id)).toEqual(job);
  });

  it("maps columns by the given mapping: renamed, ignored, and left out", async () => {
    const { ws, runner } = await setup();
    const csv = [
      "E-Mail Address,Vorname,Notes,Segment Tags,Other,Land",
      "m@x.com,Maria,call her,vip; beta,zzz,DE",
    ].join("\r\n");
    const mapping = {
      "E-Mail Address": "email",
      Vorname: "first_name",
      Notes: null,
      "Segment Tags": "tags",
      Land: "country",
    };
    const job = await runner.wait(
      ws,
      (await runner.start(ws, "contacts", Readable.from([csv]), { mapping })).id,
    );
    expect(job).toMatchObject({ status: "done", accepted: 1, rejected: 0, options: { mapping } });
    const m = await contactByEmail(ws, "m@x.com");
    expect(m).toMatchObject({ first_name: "Maria", country: "DE", tags: ["vip", "beta"], fields: {} });
  });

  it("maps headers that name fields by default, in any case and spacing", async () => {
    const custom: ImportCustomField[] = [
      { key: "plan", type: "string" },
      { key: "vip", type: "boolean" },
      { key: "interests", type: "string_list" },
    ];
    const csv = [
      "Email,First Name,fields.plan,VIP,interests,tags,Tag,unknown",
      "x@y.com,Xavier,pro,yes,a;b,t1,t2,ignored",
      "z@y.com,,,0,,,,",
    ].join("\n");
    const rows = await collect(parseContactsCsv(Readable.from([csv]), {}, custom));
    expect(rows).toEqual([
      {
        row: 2,
        contact: {
          email: "x@y.com",
          first_name: "Xavier",
          tags: ["t1", "t2"],
          fields: { plan: "pro", vip: true, interests: ["a", "b"] },
        },
      },
      { row: 3, contact: { email: "z@y.com", fields: { vip: false } } },
    ]);
  });

  it("reads quoted cells with commas, quotes and line breaks, numbering rows as a spreadsheet", async () => {
    const { ws, runner } = await setup();
    const csv =
      'email,first_name,last_name\n"q1@x.com","Smith, John","two\nlines"\n,"x",""\nq2@x.com,"He said ""hi""",Z\n';
    const job = await runner.wait(ws, (await runner.start(ws, "contacts", bytesInChunks(csv, 3), {})).id);
    expect(job).toMatchObject({ status: "done", processed: 3, accepted: 2, rejected: 1 });
    expect(job.errors).toEqual([{ row: 3, error: 'column "email": required' }]);
    expect(await contactByEmail(ws, "q1@x.com")).toMatchObject({
      first_name: "Smith, John",
      last_name: "two\nlines",
    });
    expect((await mustFind(ws, "q2@x.com")).first_name).toBe('He said "hi"');
  });

  it("skips a BOM at the start of the file and keeps characters split across chunks", async () => {
    const { ws, runner } = await setup();
    const csv = "\uFEFFemail;first_name\r\nbom@x.com;Zoë\r\n";
    const job = await runner.wait(
      ws,
      (await runner.start(ws, "contacts", bytesInChunks(csv, 1), { delimiter: ";" })).id,
    );
    expect(job).toMatchObject({ status: "done", accepted: 1, rejected: 0 });
    expect((await mustFind(ws, "bom@x.com")).first_name).toBe("Zoë");
  });

  it("skips blank rows without reusing their numbers, and rejects rows with extra cells", async () => {
    const csv = "email,first_name\n\na@x.com,A\n ,  \nb@x.com,B,extra\nc@x.com,C,,\n";
    const rows = await collect(parseContactsCsv(bytesInChunks(csv, 5), {}, []));
    expect(rows).toEqual([
      { row: 3, contact: { email: "a@x.com", first_name: "A" } },
      { row: 5, error: "the row has 3 cells but the header has 2 columns" },
      { row: 6, contact: { email: "c@x.com", first_name: "C" } },
    ]);
  });

  it("records progress after every batch", async () => {
    const { ws, runner, sink } = await setup({ batchSize: 2 });
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    sink.beforeUpsert = async (call) => {
      if (call === 2) await gate;
    };
    const csv = ["email", "p1@x.com", "nope", "p3@x.com", "p4@x.com", "p5@x.com"].join("\n");
    const started = await runner.start(ws, "contacts", Readable.from([csv]), {});
    await until(async () => (await store.workspace(ws).imports.get(started.id))!.processed === 2);
    const mid = (await store.workspace(ws).imports.get(started.id))!;
    expect(mid).toMatchObject({ status: "running", processed: 2, accepted: 1, rejected: 1, total: null });
    expect(mid.errors).toEqual([{ row: 3, error: 'column "email": not a valid email address' }]);
    release();
    const job = await runner.wait(ws, started.id);
    expect(job).toMatchObject({ status: "done", processed: 5, accepted: 4, rejected: 1, total: 5 });
    expect(job.finished_at).not.toBeNull();
    expect(sink.contactBatches).toEqual([2, 2, 1]);
  });

  it("processes a 50,000-row file in batches, reading it as it goes", async () => {
    const ws = (await store.createWorkspace({ name: "big" })).id;
    const batches: number[] = [];
    let generated = 0;
    let generatedAtFirstBatch = -1;
    const sink: ImportSink = {
      async upsertContacts(batch) {
        if (batches.length === 0) generatedAtFirstBatch = generated;
        batches.push(batch.length);
        const errors = batch.flatMap((c, index) =>
          String(c.email).startsWith("bad") ? [{ index, error: "email: not a valid email address" }] : [],
        );
        return { errors, contactIds: [] };
      },
      async ingestEvents() {
        return { errors: [] };
      },
      async addToSegment() {},
    };
    async function* file() {
      yield "email,first_name\n";
      for (let k = 1; k <= 50_000; k += 500) {
        const lines: string[] = [];
        for (let j = k; j < k + 500; j++)
          lines.push(j % 10_000 === 0 ? `bad${j},N${j}` : `u${j}@x.com,N${j}`);
        generated += lines.length;
        yield `${lines.join("\n")}\n`;
      }
    }
    const runner = new ImportRunner(store, sink);
    const job = await runner.wait(ws, (await runner.start(ws, "contacts", file(), {})).id);
    expect(job).toMatchObject({
      status: "done",
      processed: 50_000,
      accepted: 49_995,
      rejected: 5,
      total: 50_000,
    });
    // Data row j is row j + 1 (the header is row 1).
    expect(job.errors.map((e) => e.row)).toEqual([10_001, 20_001, 30_001, 40_001, 50_001]);
    expect(batches.length).toBe(50);
    expect(batches.every((n) => n <= 1000)).toBe(true);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(50_000);
    expect(generatedAtFirstBatch).toBeGreaterThan(0);
    expect(generatedAtFirstBatch).toBeLessThan(10_000);

    const small: number[] = [];
    const counting: ImportSink = {
      ...sink,
      async upsertContacts(batch) {
        small.push(batch.length);
        return { errors: [], contactIds: [] };
      },
    };
    const runner2 = new ImportRunner(store, counting);
    generated = 0;
    const job2 = await runner2.wait(ws, (await runner2.start(ws, "contacts", file(), { batchSize: 333 })).id);
    expect(job2).toMatchObject({ status: "done", processed: 50_000, options: { batchSize: 333 } });
    expect(Math.max(...small)).toBe(333);
  });

  it("adds the imported contacts to a static segment", async () => {
    const { ws, runner, sink } = await setup({ batchSize: 2 });
    const seg = await store.workspace(ws).segments.create({ kind: "static", name: "Imported" });
    const csv = ["email", "s1@x.com", "broken", "s2@x.com", "s3@x.com"].join("\n");
    const job = await runner.wait(
      ws,
      (await runner.start(ws, "contacts", Readable.from([csv]), { segment_id: seg.id })).id,
    );
    expect(job).toMatchObject({ status: "done", accepted: 3, rejected: 1 });
    const ids = await Promise.all(
      ["s1@x.com", "s2@x.com", "s3@x.com"].map(async (e) => (await mustFind(ws, e)).id),
    );
    expect(sink.segmentAdds.map((a) => a.segmentId)).toEqual([seg.id, seg.id]);
    expect(sink.segmentAdds.flatMap((a) => a.contactIds).sort()).toEqual([...ids].sort());
    const members = await store.workspace(ws).members.list(seg.id);
    expect(members.data.map((m) => m.contact_id).sort()).toEqual([...ids].sort());
  });

  it("fails the job when the segment is unknown or dynamic", async () => {
    const { ws, runner, sink } = await setup();
    const dyn = await store.workspace(ws).segments.create({
      kind: "dynamic",
      name: "D",
      rule: { type: "and", conditions: [] },
    });
    const csv = "email\na@x.com\n";
    const unknown = await runner.wait(
      ws,
      (await runner.start(ws, "contacts", Readable.from([csv]), { segment_id: "seg_nope" })).id,
    );
    expect(unknown).toMatchObject({ status: "failed", failure: 'segment_id: segment "seg_nope" not found' });
    const dynamic = await runner.wait(
      ws,
      (await runner.start(ws, "contacts", Readable.from([csv]), { segment_id: dyn.id })).id,
    );
    expect(dynamic.status).toBe("failed");
    expect(dynamic.failure).toMatch(/is dynamic/);
    expect(sink.contactBatches).toEqual([]);
  });

  it("fails the job with the reason when the mapping does not fit the file", async () => {
    const { ws, runner, sink } = await setup();
    const csv = "Adresse,Name\na@x.com,A\n";
    const cases: [Record<string, string | null> | undefined, RegExp][] = [
      [{ Nope: "email" }, /mapping\["Nope"\]: no column "Nope" in the header \(columns: "Adresse", "Name"\)/],
      [{ Adresse: "email", Name: "nickname" }, /mapping\["Name"\]: unknown target "nickname"/],
      [{ Adresse: "email", Name: "fields.nickname" }, /custom field "nickname" is not declared/],
      [{ Adresse: "email", Name: "email" }, /columns "Adresse" and "Name" both map to email/],
      [{ Name: "first_name" }, /no column maps to email or external_id/],
      [undefined, /no column maps to email or external_id/],
    ];
    for (const [mapping, reason] of cases) {
      const job = await runner.wait(
        ws,
        (await runner.start(ws, "contacts", Readable.from([csv]), { mapping })).id,
      );
      expect(job.status).toBe("failed");
      expect(job.failure).toMatch(reason);
      expect(job.processed).toBe(0);
    }
    expect(sink.contactBatches).toEqual([]);
    expect(validateMapping({ Mail: "email", Name: null }, ["Mail", "Name"], [])).toBeNull();
    expect(validateMapping({ Mail: "email", Name: "fields.age" }, ["Mail", "Name"], AGE)).toBeNull();
    expect(validateMapping({ Mail: "email", Name: "age" }, ["Mail", "Name"], AGE)).toBeNull();
    expect(validateMapping({ Mail: "external_id" }, ["Mail", "Name"], [])).toBeNull();
    expect(validateMapping({ Mail: 3 as unknown as string }, ["Mail"], [])).toMatch(
      /expected a field name or null/,
    );
  });

  it("fails an empty file, a bad delimiter, and bad options", async () => {
    const { ws, runner } = await setup();
    const empty = await runner.wait(ws, (await runner.start(ws, "contacts", Readable.from([""]), {})).id);
    expect(empty).toMatchObject({ status: "failed", failure: "the file is empty: expected a header row" });
    const delim = await runner.wait(
      ws,
      (await runner.start(ws, "contacts", Readable.from(["email\n"]), { delimiter: ";;" })).id,
    );
    expect(delim.failure).toMatch(/^delimiter: expected one character/);
    const size = await runner.wait(
      ws,
      (await runner.start(ws, "contacts", Readable.from(["email\n"]), { batchSize: 0 })).id,
    );
    expect(size.failure).toMatch(/^batchSize: expected an integer/);
    const headerOnly = await runner.wait(
      ws,
      (await runner.start(ws, "contacts", Readable.from(["email\n"]), {})).id,
    );
    expect(headerOnly).toMatchObject({ status: "done", processed: 0, total: 0 });
  });

  it("imports the rows before a quote that is never closed, then fails naming the row", async () => {
    const { ws, runner } = await setup();
    const csv = 'email,first_name\nok@x.com,Ok\nlost@x.com,"unclosed\nmore@x.com,More\n';
    const job = await runner.wait(ws, (await runner.start(ws, "contacts", bytesInChunks(csv, 4), {})).id);
    expect(job).toMatchObject({ status: "failed", processed: 1, accepted: 1 });
    expect(job.failure).toMatch(/^row 3: a quoted cell is not closed/);
    expect(await contactByEmail(ws, "ok@x.com")).toBeTruthy();
  });

  it("fails a row that grows past the size limit without holding the file in memory", async () => {
    const { ws, runner } = await setup();
    let yielded = 0;
    async function* endless(quote: string) {
      yield `email,first_name\nok@x.com,Ok\nx@x.com,${quote}`;
      const chunk = "a".repeat(64 * 1024);
      for (let i = 0; i < 200; i++) {
        yielded++;
        yield chunk; // 12.5 MiB inside one cell
      }
    }
    for (const quote of ['"', ""]) {
      yielded = 0;
      const job = await runner.wait(ws, (await runner.start(ws, "contacts", endless(quote), {})).id);
      expect(job).toMatchObject({ status: "failed", processed: 1, accepted: 1 });
      expect(job.failure).toBe("row 3 is longer than 1048576 bytes (is a quote not closed?)");
      expect(yielded).toBeLessThan(40);
    }
    expect(await contactByEmail(ws, "x@x.com")).toBeNull();
  });

  it("fails the job when the input cannot be read, keeping the rows read before", async () => {
    const { ws, runner } = await setup();
    async function* broken() {
      yield "email\nr1@x.com\nr2@x.com\nr3@x.co";
      throw new Error("connection reset");
    }
    const job = await runner.wait(ws, (await runner.start(ws, "contacts", broken(), {})).id);
    expect(job).toMatchObject({ status: "failed", failure: "the file could not be read: connection reset" });
    // The last row was cut short by the failure: it is not imported.
    expect(job).toMatchObject({ processed: 2, accepted: 2 });
    expect(await contactByEmail(ws, "r3@x.co")).toBeNull();
    const stream = new Readable({ read() {} });
    stream.destroy(new Error("EACCES"));
    const job2 = await runner.wait(ws, (await runner.start(ws, "contacts", stream, {})).id);
    expect(job2).toMatchObject({ status: "failed", failure: "the file could not be read: EACCES" });
  });

  it("fails the job when the sink fails, naming the rows of the batch", async () => {
    const ws = (await store.createWorkspace({ name: "sink-failure" })).id;
    let calls = 0;
    const sink: ImportSink = {
      async upsertContacts(batch) {
        if (++calls === 2) throw new Error("database is locked");
        return { errors: [], contactIds: batch.map((_, i) => `c${i}`) };
      },
      async ingestEvents() {
        return { errors: [] };
      },
      async addToSegment() {},
    };
    const runner = new ImportRunner(store, sink, { batchSize: 2 });
    const csv = ["email", "a@x.com", "b@x.com", "c@x.com", "d@x.com", "e@x.com"].join("\n");
    const job = await runner.wait(ws, (await runner.start(ws, "contacts", Readable.from([csv]), {})).id);
    expect(job).toMatchObject({
      status: "failed",
      processed: 2,
      accepted: 2,
      failure: "the import stopped at rows 4–5: database is locked",
    });
  });

  it("waits for finished jobs and refuses unknown ones", async () => {
    const { ws, runner } = await setup();
    const job = await runner.start(ws, "contacts", Readable.from(["email\nw@x.com\n"]), {});
    await runner.idle();
    expect((await runner.wait(ws, job.id)).status).toBe("done");
    await expect(runner.wait(ws, "imp_unknown")).rejects.toThrow(/not found/);
  });

  it("fails jobs a previous process left unfinished", async () => {
    const { ws, runner } = await setup();
    const stale = await store.workspace(ws).imports.create({ kind: "contacts" });
    await store.workspace(ws).imports.recordProgress(stale.id, { processed: 10 });
    expect(await runner.failInterrupted(ws)).toBe(1);
    expect(await store.workspace(ws).imports.get(stale.id)).toMatchObject({
      status: "failed",
      failure: "the server stopped before the import finished",
    });
  });
});

describe("event NDJSON imports", () => {
  it("reports an invalid JSON line with its line number, skips blank lines, applies the rest", async () => {
    const { ws, runner, sink } = await setup();
    const ndjson = [
      '{"type":"order_placed","contact":{"email":"e1@x.com"},"properties":{"amount":5}}',
      "",
      "{not json",
      "[1,2]",
      '{"type":"BAD TYPE","contact":{"email":"e1@x.com"}}',
      "   ",
      '{"type":"page_viewed","contact":{"email":"e2@x.com"}}\r',
      '{"type":"page_viewed","contact":{"email":"e2@x.com"}}',
    ].join("\n");
    const started = await runner.start(ws, "events", bytesInChunks(`\uFEFF${ndjson}`, 7), {});
    expect(started.kind).toBe("events");
    const job = await runner.wait(ws, started.id);
    expect(job).toMatchObject({ status: "done", processed: 6, accepted: 3, rejected: 3, total: 6 });
    expect(job.errors.map((e) => e.row)).toEqual([3, 4, 5]);
    expect(job.errors[0].error).toMatch(/^invalid JSON: /);
    expect(job.errors[1].error).toBe("expected a JSON object, got an array");
    expect(job.errors[2].error).toBe("type: expected a name matching [a-z0-9_.:-]{1,64}");
    expect(sink.eventBatches).toEqual([4]);
    expect(await store.workspace(ws).events.count()).toBe(3);
    expect(await store.workspace(ws).contacts.count()).toBe(2);
  });

  it("numbers lines from 1 and reports an overlong line without keeping it", async () => {
    const long = `{"type":"x","pad":"${"p".repeat(1_100_000)}"}`;
    const rows = await collect(parseEventsNdjson(Readable.from([`{"type":"a"}\n${long}\n\n{"type":"b"}`])));
    expect(rows).toEqual([
      { row: 1, event: { type: "a" } },
      { row: 2, error: "the line is longer than 1048576 characters" },
      { row: 4, event: { type: "b" } },
    ]);
  });

  it("refuses contact options on an event import", async () => {
    const { ws, runner } = await setup();
    const job = await runner.wait(
      ws,
      (await runner.start(ws, "events", Readable.from(["{}\n"]), { mapping: { a: "email" } })).id,
    );
    expect(job).toMatchObject({ status: "failed", failure: "mapping: applies to contact imports only" });
  });
});

describe("parsers in isolation", () => {
  it("read tab-delimited files with old Mac line ends", async () => {
    const rows = await collect(
      parseContactsCsv(Readable.from(["email\tcity\ra@x.com\tKöln\r"]), { delimiter: "\t" }),
    );
    expect(rows).toEqual([{ row: 2, contact: { email: "a@x.com", city: "Köln" } }]);
  });

  it("convert number and boolean cells and name the column of a bad one", async () => {
    const custom: ImportCustomField[] = [
      { key: "score", type: "number" },
      { key: "active", type: "boolean" },
    ];
    const csv = "email,score,active\na@x.com,-1.5e2,TRUE\nb@x.com,1,maybe\n";
    const rows: (ContactImportRow | ImportRowFailure)[] = await collect(
      parseContactsCsv(Readable.from([csv]), {}, custom),
    );
    expect(rows).toEqual([
      { row: 2, contact: { email: "a@x.com", fields: { score: -150, active: true } } },
      { row: 3, error: 'column "active": expected true or false, got "maybe"' },
    ]);
  });
});
