/**
 * Instants stored outside the range writes now take (written before they were checked)
 * answered 500 on every read of their contact, across restarts. Start-up repairs them
 * as it reads (created_at and updated_at clamped into the range, the others null) and
 * warns once per workspace; then lists, reads, previews and exports answer 200.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../../src/http/start.ts";
import { INSTANT_MAX, INSTANT_MIN } from "../../src/store/contact-row.ts";
import { openStore } from "../../src/store/index.ts";
import { ADMIN_KEY, callAsAdmin } from "../support/server.ts";

let dir: string;
let dbPath: string;
const WS = "ws_default";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "slice-repair-"));
  dbPath = join(dir, "slice.db");
  // A first start makes the default workspace and the admin key.
  const first = await startServer({
    port: 0,
    host: "127.0.0.1",
    apiKey: ADMIN_KEY,
    sqlitePath: dbPath,
    log: () => {},
  });
  await first.close();
  const store = await openStore({ sqlitePath: dbPath });
  await store.workspace(WS).contacts.put([
    {
      id: "c_future",
      email: "future@example.com",
      created_at: 1e20,
      subscribed_at: -1e20,
      status: "subscribed",
    },
    { id: "c_past", email: "past@example.com", created_at: -1e20, subscribed_at: 9e15 },
    { id: "c_fine", email: "fine@example.com", created_at: Date.parse("2024-01-01T00:00:00Z") },
  ]);
  await store.close();
  // And write times the store's own writes would never produce.
  const db = new Database(dbPath);
  db.prepare("UPDATE contacts SET status_written_at = ?, updated_at = ? WHERE id = ?").run(
    8.64e15,
    1e20,
    "c_past",
  );
  db.close();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const call = callAsAdmin;

describe("instants stored out of range", () => {
  it("are repaired on start-up with one warning, and every read answers 200", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on("warning", onWarning);
    const s = await startServer({
      port: 0,
      host: "127.0.0.1",
      apiKey: ADMIN_KEY,
      sqlitePath: dbPath,
      log: () => {},
    });
    try {
      // Warnings are emitted on the next tick.
      await new Promise((r) => setTimeout(r, 50));
      const repairs = warnings.filter((w) => w.includes(WS) && w.includes("repaired"));
      expect(repairs).toHaveLength(1);

      const list = await call(s.url, "GET", "/v1/contacts?limit=100");
      expect(list.status, list.text.slice(0, 300)).toBe(200);
      const byId = new Map(
        (
          JSON.parse(list.text).data as { id: string; created_at: string; subscribed_at: string | null }[]
        ).map((c) => [c.id, c]),
      );
      expect(byId.get("c_future")).toMatchObject({
        created_at: new Date(INSTANT_MAX).toISOString(),
        subscribed_at: null,
      });
      expect(byId.get("c_past")).toMatchObject({
        created_at: new Date(INSTANT_MIN).toISOString(),
        subscribed_at: null,
      });
      expect(byId.get("c_fine")?.created_at).toBe("2024-01-01T00:00:00.000Z");

      for (const id of ["c_future", "c_past"]) {
        const one = await call(s.url, "GET", `/v1/contacts/${id}`);
        expect(one.status, one.text.slice(0, 300)).toBe(200);
      }
      const preview = await call(s.url, "POST", "/v1/segments/preview", {
        rule: { type: "field", field: "created_at", op: "before", value: "2030-01-01" },
      });
      expect(preview.status, preview.text.slice(0, 300)).toBe(200);
      const seg = await call(s.url, "POST", "/v1/segments", {
        name: "Everyone",
        rule: { type: "field", field: "email", op: "is_set" },
      });
      expect(seg.status, seg.text.slice(0, 300)).toBe(201);
      const id = JSON.parse(seg.text).id as string;
      const csv = await call(s.url, "GET", `/v1/segments/${id}/export?format=csv&include_suppressed=true`);
      expect(csv.status, csv.text.slice(0, 300)).toBe(200);
      expect(csv.text).toContain("future@example.com");
      // A write of the contact answers 200 too.
      const patch = await call(s.url, "PATCH", "/v1/contacts/c_future", { first_name: "Ana" });
      expect(patch.status, patch.text.slice(0, 300)).toBe(200);
    } finally {
      process.off("warning", onWarning);
      await s.close();
    }
  });
});
