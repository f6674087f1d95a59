/** A workspace's segments and the version history of their definitions. */
import type { Executor, Row } from "../executor.ts";
import { newId } from "../ids.ts";
import {
  type JsonValue,
  type NewSegment,
  type SegmentKind,
  type SegmentPatch,
  type SegmentRecord,
  type SegmentVersion,
  StoreError,
} from "../types.ts";
import { json, type Scope } from "./scope.ts";

export class SegmentRepo {
  constructor(private readonly s: Scope) {}

  private rule(v: unknown): JsonValue | null {
    return v === null || v === undefined ? null : this.s.d.parseJson<JsonValue>(v);
  }

  private toSegment(r: Row): SegmentRecord {
    return {
      id: String(r.id),
      kind: r.kind as SegmentKind,
      name: String(r.name),
      description: String(r.description),
      rule: this.rule(r.rule),
      version: Number(r.version),
      created_at: Number(r.created_at),
      updated_at: Number(r.updated_at),
    };
  }

  private async addVersion(tx: Executor, s: SegmentRecord): Promise<void> {
    await tx.run(
      "INSERT INTO segment_versions (workspace_id, segment_id, version, name, description, rule, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      [
        this.s.ws,
        s.id,
        s.version,
        s.name,
        s.description,
        s.rule === null ? null : json(s.rule),
        s.updated_at,
      ],
    );
  }

  async create(s: NewSegment): Promise<SegmentRecord> {
    const now = this.s.clock.now();
    const rec: SegmentRecord = {
      id: s.id ?? newId("seg", now),
      kind: s.kind,
      name: s.name,
      description: s.description ?? "",
      rule: s.rule ?? null,
      version: 1,
      created_at: now,
      updated_at: now,
    };
    await this.s.x.atomic(async (tx) => {
      await tx.run(
        "INSERT INTO segments (workspace_id, id, kind, name, description, rule, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
          this.s.ws,
          rec.id,
          rec.kind,
          rec.name,
          rec.description,
          rec.rule === null ? null : json(rec.rule),
          rec.version,
          now,
          now,
        ],
      );
      await this.addVersion(tx, rec);
    });
    return rec;
  }

  /** Applies the patch and increments the version; null when the segment is unknown. */
  async update(id: string, patch: SegmentPatch): Promise<SegmentRecord | null> {
    const ws = this.s.ws;
    return this.s.x.atomic(async (tx) => {
      const rows = await tx.all(`SELECT * FROM segments WHERE workspace_id = ? AND id = ?`, [ws, id]);
      if (rows.length === 0) return null;
      const cur = this.toSegment(rows[0]);
      const next: SegmentRecord = {
        ...cur,
        name: patch.name ?? cur.name,
        description: patch.description ?? cur.description,
        rule: patch.rule === undefined ? cur.rule : patch.rule,
        version: cur.version + 1,
        updated_at: this.s.clock.now(),
      };
      // The version check makes a concurrent edit from another server fail instead of being lost.
      const n = await tx.run(
        "UPDATE segments SET name = ?, description = ?, rule = ?, version = ?, updated_at = ? WHERE workspace_id = ? AND id = ? AND version = ?",
        [
          next.name,
          next.description,
          next.rule === null ? null : json(next.rule),
          next.version,
          next.updated_at,
          ws,
          id,
          cur.version,
        ],
      );
      if (n === 0) throw new StoreError("conflict", `segment "${id}" was changed concurrently`, "version");
      await this.addVersion(tx, next);
      return next;
    });
  }

  async get(id: string): Promise<SegmentRecord | null> {
    const rows = await this.s.x.all("SELECT * FROM segments WHERE workspace_id = ? AND id = ?", [
      this.s.ws,
      id,
    ]);
    return rows.length > 0 ? this.toSegment(rows[0]) : null;
  }

  async list(): Promise<SegmentRecord[]> {
    const rows = await this.s.x.all("SELECT * FROM segments WHERE workspace_id = ? ORDER BY created_at, id", [
      this.s.ws,
    ]);
    return rows.map((r) => this.toSegment(r));
  }

  async versions(id: string): Promise<SegmentVersion[]> {
    const rows = await this.s.x.all(
      "SELECT * FROM segment_versions WHERE workspace_id = ? AND segment_id = ? ORDER BY version",
      [this.s.ws, id],
    );
    return rows.map((r) => ({
      segment_id: String(r.segment_id),
      version: Number(r.version),
      name: String(r.name),
      description: String(r.description),
      rule: this.rule(r.rule),
      created_at: Number(r.created_at),
    }));
  }

  /** Also removes its versions, memberships and overrides (not its change log). */
  async delete(id: string): Promise<boolean> {
    const ws = this.s.ws;
    return this.s.x.atomic(async (tx) => {
      await tx.run("DELETE FROM segment_members WHERE workspace_id = ? AND segment_id = ?", [ws, id]);
      await tx.run("DELETE FROM segment_versions WHERE workspace_id = ? AND segment_id = ?", [ws, id]);
      return (await tx.run("DELETE FROM segments WHERE workspace_id = ? AND id = ?", [ws, id])) > 0;
    });
  }
}
