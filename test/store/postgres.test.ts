import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { openStore } from "../../src/store/index.ts";
import { type PgServer, startPostgres } from "../support/postgres.ts";
import { runStoreConformance } from "./conformance.ts";

// A real PostgreSQL server of our own for this file; no skip when it cannot start.
let server: PgServer;
let client: pg.Client | null = null;
let fresh = 0;

beforeAll(async () => {
  server = await startPostgres();
});

afterAll(async () => {
  await client?.end();
  await server?.stop();
});

runStoreConformance("postgres", () => ({
  dialect: "postgres",
  open: (opts = {}) => openStore({ ...opts, databaseUrl: server.url }),
  openOptions: () => ({ databaseUrl: server.url }),
  fresh: async () => ({ databaseUrl: await server.createDatabase(`fresh_${++fresh}`) }),
  raw: async (sql, params = []) => {
    if (!client) {
      client = new pg.Client({ connectionString: server.url });
      await client.connect();
    }
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${++n}`);
    return (await client.query(text, params)).rows;
  },
}));
