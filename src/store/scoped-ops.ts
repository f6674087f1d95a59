/**
 * What the store and a transaction both offer (`StoreOps`): the repositories of one
 * workspace, bound once per workspace and connection (src/store/repos/), and savepoints.
 * Inside a transaction, only the transaction's workspace is accepted.
 */
import type { SqlDialect } from "./dialect.ts";
import type { Executor } from "./executor.ts";
import { type Clock, WorkspaceRepos } from "./repos/index.ts";
import { StoreError, type StoreOps } from "./types.ts";

let savepoints = 0;

export class ScopedOps implements StoreOps {
  private readonly bound = new Map<string, WorkspaceRepos>();

  constructor(
    protected readonly x: Executor,
    protected readonly dialect_: SqlDialect,
    protected readonly clock: Clock,
    /** Inside a transaction: the only workspace it accepts. */
    private readonly only: string | null = null,
  ) {}

  workspace(ws: string): WorkspaceRepos {
    let repos = this.bound.get(ws);
    if (repos) return repos;
    if (typeof ws !== "string" || ws === "") throw new StoreError("invalid", "a workspace id is required");
    if (this.only !== null && ws !== this.only) {
      throw new StoreError(
        "workspace_mismatch",
        `this transaction belongs to workspace "${this.only}", not "${ws}"`,
      );
    }
    repos = new WorkspaceRepos({ x: this.x, d: this.dialect_, clock: this.clock, ws });
    this.bound.set(ws, repos);
    return repos;
  }

  /**
   * Inside a transaction: runs `fn` under a savepoint, so that when it throws, what it
   * wrote is undone and the rest of the transaction goes on (group commit: several
   * writes in one transaction, one commit, each failing alone).
   */
  async savepoint<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    if (!this.x.inTransaction) throw new Error("savepoint needs a transaction");
    const name = `sp_${++savepoints}`;
    await this.x.exec(`SAVEPOINT ${name}`);
    let result: T;
    try {
      result = await fn(this);
    } catch (e) {
      await this.x.exec(`ROLLBACK TO SAVEPOINT ${name}`);
      await this.x.exec(`RELEASE SAVEPOINT ${name}`);
      throw e;
    }
    await this.x.exec(`RELEASE SAVEPOINT ${name}`);
    return result;
  }
}
