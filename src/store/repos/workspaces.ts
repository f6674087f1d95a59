/**
 * What no single workspace scopes, by nature: the workspaces themselves, the key that
 * finds its workspace (`authenticate`) and a receiver found by id alone.
 */
import type { SqlDialect } from "../dialect.ts";
import type { Executor, Row } from "../executor.ts";
import { newId, sha256Hex } from "../ids.ts";
import { type ApiKey, type NewWorkspace, StoreError, type Workspace, type WorkspacePatch } from "../types.ts";
import { API_KEY_COLUMNS, toApiKey } from "./api-keys.ts";
import { type Clock, json } from "./scope.ts";

export class WorkspaceRepo {
  constructor(
    private readonly x: Executor,
    private readonly d: SqlDialect,
    private readonly clock: Clock,
  ) {}

  private toWorkspace(r: Row): Workspace {
    return {
      id: String(r.id),
      name: String(r.name),
      time_zone: String(r.time_zone),
      settings: this.d.parseJson(r.settings),
      created_at: Number(r.created_at),
    };
  }

  async create(w: NewWorkspace): Promise<Workspace> {
    // '' is reserved: the events table's seq placeholder lives there (migration 9).
    if (w.id === "") throw new StoreError("invalid", "a workspace id must not be empty");
    const now = this.clock.now();
    const rec: Workspace = {
      id: w.id ?? newId("ws", now),
      name: w.name,
      time_zone: w.time_zone ?? "UTC",
      settings: w.settings ?? {},
      created_at: now,
    };
    await this.x.run(
      "INSERT INTO workspaces (id, name, time_zone, settings, created_at) VALUES (?, ?, ?, ?, ?)",
      [rec.id, rec.name, rec.time_zone, json(rec.settings), now],
    );
    return rec;
  }

  async get(id: string): Promise<Workspace | null> {
    const rows = await this.x.all("SELECT * FROM workspaces WHERE id = ?", [id]);
    return rows.length > 0 ? this.toWorkspace(rows[0]) : null;
  }

  async list(): Promise<Workspace[]> {
    const rows = await this.x.all("SELECT * FROM workspaces ORDER BY created_at, id");
    return rows.map((r) => this.toWorkspace(r));
  }

  async update(id: string, patch: WorkspacePatch): Promise<Workspace | null> {
    return this.x.atomic(async (tx) => {
      const rows = await tx.all("SELECT * FROM workspaces WHERE id = ?", [id]);
      if (rows.length === 0) return null;
      const cur = this.toWorkspace(rows[0]);
      const next: Workspace = {
        ...cur,
        name: patch.name ?? cur.name,
        time_zone: patch.time_zone ?? cur.time_zone,
        settings: patch.settings ?? cur.settings,
      };
      await tx.run("UPDATE workspaces SET name = ?, time_zone = ?, settings = ? WHERE id = ?", [
        next.name,
        next.time_zone,
        json(next.settings),
        id,
      ]);
      return next;
    });
  }

  /** The key with this secret and its workspace, or null. */
  async authenticate(secret: string): Promise<{ workspace: Workspace; key: ApiKey } | null> {
    const keys = await this.x.all(`SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE secret_hash = ?`, [
      sha256Hex(secret),
    ]);
    if (keys.length === 0) return null;
    const key = toApiKey(keys[0]);
    const workspace = await this.get(key.workspace_id);
    return workspace ? { workspace, key } : null;
  }
}
