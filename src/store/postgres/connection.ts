/** The PostgreSQL adapter: `pg` with a connection pool. */
import pg from "pg";
import { type Executor, numberPlaceholders, type Row, translateError } from "../executor.ts";

const INT8_OID = 20;

/**
 * 64-bit integers (epoch ms, sequence numbers, counts) come back as numbers, not
 * strings; they stay far below 2^53. Set on this pool only, not globally.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format ?? "text")) as pg.CustomTypesConfig["getTypeParser"],
};

const numbered = new Map<string, string>();
let cursors = 0;

function text(sql: string): string {
  let t = numbered.get(sql);
  if (t === undefined) {
    t = numberPlaceholders(sql);
    if (numbered.size > 1024) numbered.clear();
    numbered.set(sql, t);
  }
  return t;
}

export class PgExecutor implements Executor {
  readonly dialect = "postgres" as const;

  constructor(
    private readonly pool: pg.Pool,
    private readonly client: pg.PoolClient | null,
  ) {}

  get inTransaction(): boolean {
    return this.client !== null;
  }

  private async query(sql: string, params: readonly unknown[]): Promise<pg.QueryResult> {
    try {
      const target = this.client ?? this.pool;
      return await target.query(text(sql), params as unknown[]);
    } catch (e) {
      throw translateError(e);
    }
  }

  async all(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    return (await this.query(sql, params)).rows as Row[];
  }

  async arrays(sql: string, params: readonly unknown[] = []): Promise<unknown[][]> {
    try {
      const target = this.client ?? this.pool;
      const res = await target.query({ text: text(sql), values: params as unknown[], rowMode: "array" });
      return res.rows as unknown[][];
    } catch (e) {
      throw translateError(e);
    }
  }

  async *cursor(sql: string, params: readonly unknown[], pageSize: number): AsyncIterable<unknown[][]> {
    const own = this.client === null;
    const client = this.client ?? (await this.pool.connect());
    const name = `slice_cursor_${++cursors}`;
    let broken: Error | undefined;
    let finished = false;
    try {
      if (own) await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      await client.query(`DECLARE ${name} NO SCROLL CURSOR FOR ${text(sql)}`, params as unknown[]);
      for (;;) {
        const res = await client.query({
          text: `FETCH ${Math.floor(pageSize)} FROM ${name}`,
          rowMode: "array",
        });
        if (res.rows.length > 0) yield res.rows as unknown[][];
        if (res.rows.length < pageSize) break;
      }
      await client.query(`CLOSE ${name}`);
      if (own) await client.query("COMMIT");
      finished = true;
    } catch (e) {
      broken = e as Error;
      throw translateError(e);
    } finally {
      if (own) {
        // A consumer that stopped early (break) lands here with the transaction still open.
        if (!finished && !broken) await client.query("ROLLBACK").catch(() => {});
        client.release(broken);
      }
    }
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return (await this.query(sql, params)).rowCount ?? 0;
  }

  async exec(sql: string): Promise<void> {
    try {
      await (this.client ?? this.pool).query(sql);
    } catch (e) {
      throw translateError(e);
    }
  }

  async atomic<T>(fn: (x: Executor) => Promise<T>): Promise<T> {
    if (this.client) return fn(this);
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const result = await fn(new PgExecutor(this.pool, client));
      await client.query("COMMIT");
      return result;
    } catch (e) {
      try {
        await client.query("ROLLBACK");
      } catch (rollbackError) {
        // The connection is in an unknown state: drop it rather than return it to the pool.
        broken = rollbackError as Error;
      }
      throw translateError(e);
    } finally {
      client.release(broken);
    }
  }
}

export interface PgHandle {
  executor: PgExecutor;
  close(): Promise<void>;
}

export function openPgPool(url: string, size: number): PgHandle {
  const pool = new pg.Pool({ connectionString: url, max: size, types });
  // An idle client that loses its connection emits here; without a listener the process dies.
  pool.on("error", () => {});
  return { executor: new PgExecutor(pool, null), close: () => pool.end() };
}
