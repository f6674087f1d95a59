import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll } from "vitest";
import { openStore } from "../../src/store/index.ts";
import { runStoreConformance } from "./conformance.ts";

const dir = mkdtempSync(join(tmpdir(), "slice-store-"));
// A directory that does not exist yet: the store creates it.
const path = join(dir, "nested", "data", "slice.db");
let raw: Database.Database | null = null;
let fresh = 0;

afterAll(() => {
  raw?.close();
  rmSync(dir, { recursive: true, force: true });
});

runStoreConformance("sqlite", () => ({
  dialect: "sqlite",
  open: (opts = {}) => openStore({ ...opts, sqlitePath: path }),
  openOptions: () => ({ sqlitePath: path }),
  fresh: async () => ({ sqlitePath: join(dir, `fresh-${++fresh}.db`) }),
  raw: async (sql, params = []) => {
    raw ??= new Database(path);
    const stmt = raw.prepare(sql);
    if (stmt.reader) return stmt.all(...params) as Record<string, unknown>[];
    stmt.run(...params);
    return [];
  },
}));
