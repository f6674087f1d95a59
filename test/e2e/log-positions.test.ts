/**
 * Cursors and event ids that hold log positions are opaque and of one workspace: the
 * store numbers changes and events with one counter for every workspace, which a plain
 * number would show to each tenant. They keep working across a restart (the key is kept
 * with the data) and another workspace's, or a forged one, is a 400 naming the cursor.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type Json, startTestServer, type TestServer } from "../support/server.ts";

const dir = mkdtempSync(join(tmpdir(), "slice-positions-"));
const sqlitePath = join(dir, "slice.db");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function workspace(t: TestServer, name: string) {
  const r = await t.call("POST", "/v1/workspaces", { name });
  expect(r.status, r.text).toBe(201);
  const key: string = r.body.api_key;
  return Object.assign(
    (method: string, path: string, body?: unknown) => t.call(method, path, body, { key }),
    {
      key,
    },
  );
}

describe("log positions on the wire", () => {
  it("changes and events page with opaque cursors, refused in another workspace, valid after a restart", async () => {
    let t = await startTestServer({ kind: "sqlite" }, { sqlitePath });
    try {
      const a = await workspace(t, "a");
      const b = await workspace(t, "b");
      const seg = (await a("POST", "/v1/segments", { name: "FR", rule_text: 'country = "FR"' })).body.id;
      const segB = (await b("POST", "/v1/segments", { name: "FR", rule_text: 'country = "FR"' })).body.id;
      const contact = (await a("POST", "/v1/contacts", { email: "x@example.com", country: "FR" })).body.id;
      for (let i = 0; i < 4; i++) {
        await a("POST", "/v1/contacts", { email: `a${i}@example.com`, country: "FR" });
        await b("POST", "/v1/contacts", { email: `b${i}@example.com`, country: "FR" });
      }
      const sent = await a(
        "POST",
        "/v1/events",
        [1, 2, 3].map((n) => ({
          contact: { id: contact },
          type: "opened",
          timestamp: `2026-01-0${n}T00:00:00Z`,
        })),
      );
      expect(sent.body, sent.text).toMatchObject({ accepted: 3, errors: [] });

      const all = await a("GET", `/v1/segments/${seg}/changes`);
      expect(all.status, all.text).toBe(200);
      expect(all.body.data).toHaveLength(5);
      const first = await a("GET", `/v1/segments/${seg}/changes?limit=2`);
      const cursor: string = first.body.next_cursor;
      expect(cursor).not.toMatch(/^\d+$/);
      expect(cursor).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      const rest = await a("GET", `/v1/segments/${seg}/changes?cursor=${cursor}`);
      expect(rest.status, rest.text).toBe(200);
      expect([...first.body.data, ...rest.body.data]).toEqual(all.body.data);

      const events = await a("GET", `/v1/contacts/${contact}/events?limit=1`);
      const evCursor: string = events.body.next_cursor;
      // The store's own cursor is `<timestamp>.<seq>`; a token has neither form nor dot.
      expect(evCursor).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      const evRest = await a("GET", `/v1/contacts/${contact}/events?cursor=${evCursor}`);
      expect(evRest.status, evRest.text).toBe(200);
      expect((evRest.body.data as Json[]).map((e) => e.timestamp)).toEqual([
        "2026-01-02T00:00:00.000Z",
        "2026-01-01T00:00:00.000Z",
      ]);

      // Another workspace's cursor, a plain number and a tampered token are refused.
      const foreign = await b("GET", `/v1/segments/${segB}/changes?cursor=${cursor}`);
      expect(foreign.status).toBe(400);
      expect(foreign.body.error.details.path).toBe("cursor");
      expect((await a("GET", `/v1/segments/${seg}/changes?cursor=3`)).status).toBe(400);
      const flipped = cursor.slice(0, -2) + (cursor.endsWith("AA") ? "BB" : "AA");
      expect((await a("GET", `/v1/segments/${seg}/changes?cursor=${flipped}`)).status).toBe(400);
      expect((await a("GET", `/v1/contacts/${contact}/events?cursor=${cursor}x`)).status).toBe(400);

      await t.stop();
      t = await startTestServer({ kind: "sqlite" }, { sqlitePath });
      const again = await t.call("GET", `/v1/segments/${seg}/changes?cursor=${cursor}`, undefined, {
        key: a.key,
      });
      expect(again.status, again.text).toBe(200);
      expect(again.body.data).toEqual(rest.body.data);
    } finally {
      await t.stop();
    }
  });
});
