/**
 * How SQLite runs the change log's "who was in at X" (membersAt, countMembersAt). SQLite
 * keeps no statistics, so its choice of index follows the query's shape: a probe by the
 * (segment, at) index walks the segment's whole log for every candidate row, seconds a
 * page on a log of a million changes, where the probe by contact reads a few rows. The
 * plan is what must hold; a timing would be flaky.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.ts";
import { MEMBERS_AT_SQL } from "../../src/store/repos/changes.ts";

const dir = mkdtempSync(join(tmpdir(), "slice-plans-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the change log on SQLite", () => {
  it("keeps one index by contact, and probes membership at an instant by it", async () => {
    const path = join(dir, "slice.db");
    const store = await openStore({ sqlitePath: path });
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      const indexes = (
        db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'changes'").all() as {
          name: string;
        }[]
      ).map((r) => r.name);
      expect(indexes.sort()).toEqual([
        "changes_segment_at",
        "changes_segment_contact_seq",
        "changes_segment_seq",
        "changes_workspace_seq",
      ]);

      for (const [sql, params] of [
        [MEMBERS_AT_SQL.page, ["w", "s", 1, "", 1, 10]],
        [MEMBERS_AT_SQL.count, ["w", "s", 1, "", 1]],
      ] as const) {
        const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map(
          (r) => r.detail,
        );
        // The outer scan in contact order, the probe by the same contact: nothing else.
        const searches = plan.filter((d) => d.startsWith("SEARCH") || d.startsWith("SCAN"));
        expect(searches, plan.join("\n")).toEqual([
          expect.stringMatching(/^SEARCH c USING INDEX changes_segment_contact_seq \(.*contact_id>\?\)$/),
          expect.stringMatching(/^SEARCH l USING INDEX changes_segment_contact_seq \(.*contact_id=\?\)$/),
        ]);
      }
    } finally {
      db.close();
    }
  });
});
