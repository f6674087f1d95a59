/** Custom fields of a workspace's contacts. */
import type { FieldType } from "../../rules/fields.ts";
import type { CustomField, NewField } from "../types.ts";
import type { Scope } from "./scope.ts";

export class FieldRepo {
  constructor(private readonly s: Scope) {}

  async create(f: NewField): Promise<CustomField> {
    const rec: CustomField = {
      key: f.key,
      type: f.type,
      label: f.label ?? f.key,
      created_at: this.s.clock.now(),
      computed: f.computed ?? null,
    };
    await this.s.x.run(
      "INSERT INTO fields (workspace_id, key, type, label, created_at, computed) VALUES (?, ?, ?, ?, ?, ?)",
      [
        this.s.ws,
        rec.key,
        rec.type,
        rec.label,
        rec.created_at,
        rec.computed === null ? null : JSON.stringify(rec.computed),
      ],
    );
    return rec;
  }

  async list(): Promise<CustomField[]> {
    const rows = await this.s.x.all(
      "SELECT key, type, label, created_at, computed FROM fields WHERE workspace_id = ? ORDER BY created_at, key",
      [this.s.ws],
    );
    return rows.map((r) => ({
      key: String(r.key),
      type: r.type as FieldType,
      label: String(r.label),
      created_at: Number(r.created_at),
      computed: r.computed == null ? null : (JSON.parse(String(r.computed)) as unknown),
    }));
  }

  async delete(key: string): Promise<boolean> {
    return (
      (await this.s.x.run("DELETE FROM fields WHERE workspace_id = ? AND key = ?", [this.s.ws, key])) > 0
    );
  }
}
