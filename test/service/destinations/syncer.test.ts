/**
 * The destination syncer through the API, with an in-test connector that keeps its
 * audience in memory: first full sync, incremental changes only, pause and resume,
 * dry run, runs and per-contact outcomes, splitting a rejected batch, failures with
 * backoff, credentials never shown, segments in use.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  BatchRejected,
  type BatchResult,
  ConfigError,
  type Connector,
  type RemoteMember,
  type SyncContact,
} from "../../../src/service/destinations/types.ts";
import { eventually, type Json, startTestServer, type TestServer } from "../../support/server.ts";

const SECRET_KEY = "test-secret-key-0123456789";

class MemoryConnector implements Connector {
  readonly kind = "http" as const;
  readonly limits = { batchSize: 3, concurrency: 2 };
  readonly audience = new Map<string, string>();
  readonly calls: { op: "add" | "remove"; rows: number }[] = [];
  /** Emails the "provider" refuses: a batch holding one is refused whole. */
  readonly refuse = new Set<string>();
  failWith: Error | null = null;

  parseConfig(input: unknown) {
    const c = input as Record<string, unknown>;
    if (typeof c.token !== "string") throw new ConfigError("token", "required");
    return { config: { list: String(c.list ?? "main") }, secrets: { token: c.token } };
  }
  async add(_ctx: unknown, contacts: SyncContact[]): Promise<BatchResult> {
    if (this.failWith) throw this.failWith;
    if (contacts.some((c) => c.email && this.refuse.has(c.email)))
      throw new BatchRejected("invalid email in batch", 400);
    this.calls.push({ op: "add", rows: contacts.length });
    const rows = contacts.map((c) => {
      if (!c.email) return { contact_id: c.id, status: "skipped" as const, error: "no email" };
      this.audience.set(c.email, c.status ?? "");
      return { contact_id: c.id, status: "ok" as const, remote_key: c.email };
    });
    return { rows };
  }
  async remove(_ctx: unknown, members: RemoteMember[]): Promise<BatchResult> {
    if (this.failWith) throw this.failWith;
    this.calls.push({ op: "remove", rows: members.length });
    for (const m of members) this.audience.delete(m.remote_key);
    return { rows: [] };
  }
  planAdd(_ctx: unknown, contacts: SyncContact[]) {
    return [
      {
        method: "POST",
        url: "memory://add",
        headers: { authorization: "<redacted>" },
        body: contacts.map((c) => c.email),
        rows: contacts.length,
      },
    ];
  }
  planRemove(_ctx: unknown, members: RemoteMember[]) {
    return [
      {
        method: "POST",
        url: "memory://remove",
        headers: {},
        body: members.map((m) => m.remote_key),
        rows: members.length,
      },
    ];
  }
}

let s: TestServer;
let mem: MemoryConnector;

async function contacts(n: number, country: string, offset = 0) {
  const list = Array.from({ length: n }, (_, i) => ({
    email: `p${i + offset}@example.com`,
    country,
    status: "subscribed",
  }));
  const r = await s.call("POST", "/v1/contacts/batch", { contacts: list });
  expect(r.status).toBe(200);
}

async function segment(): Promise<string> {
  const r = await s.call("POST", "/v1/segments", {
    name: "France",
    rule: { type: "field", field: "country", op: "eq", value: "FR" },
  });
  expect(r.status).toBe(201);
  return r.body.id;
}

async function destination(segmentId: string, extra: Record<string, unknown> = {}): Promise<Json> {
  const r = await s.call("POST", "/v1/destinations", {
    name: "Memory",
    kind: "http",
    segment_id: segmentId,
    config: { token: "tok-123", list: "main" },
    ...extra,
  });
  expect(r.status, r.text).toBe(201);
  return r.body;
}

const status = async (id: string) => (await s.call("GET", `/v1/destinations/${id}`)).body;

describe("destination syncer", () => {
  beforeEach(async () => {
    mem = new MemoryConnector();
    s = await startTestServer(
      { kind: "sqlite" },
      { secretKey: SECRET_KEY, destinationConnectors: { http: mem }, destinationPollMs: 50 },
    );
  });
  afterEach(async () => {
    await s.stop();
  });

  it("syncs the segment fully, then sends only changes", async () => {
    await contacts(10, "FR");
    await contacts(5, "DE", 100);
    const seg = await segment();
    const d = await destination(seg);
    expect(JSON.stringify(d)).not.toContain("tok-123");
    await eventually(
      async () => (await status(d.id)).state === "live" && mem.audience.size === 10,
      5000,
      "full sync",
    );
    expect(mem.calls.every((c) => c.rows <= 3)).toBe(true);
    const fullCalls = mem.calls.length;

    // One contact leaves, one enters: two calls, one row each.
    await s.call("POST", "/v1/contacts", { email: "p0@example.com", country: "DE" });
    await s.call("POST", "/v1/contacts", { email: "p100@example.com", country: "FR" });
    await eventually(
      () => mem.audience.has("p100@example.com") && !mem.audience.has("p0@example.com"),
      5000,
      "changes",
    );
    const after = mem.calls.slice(fullCalls);
    expect(after.reduce((n, c) => n + c.rows, 0)).toBe(2);

    const st = await status(d.id);
    expect(st.pending).toEqual({ adds: 0, removes: 0 });
    expect(st.remote_size).toBe(10);
    expect(st.counters.added).toBe(11);
    expect(st.counters.removed).toBe(1);
    expect(st.last_sync_at).toMatch(/^\d{4}-/);
    expect(st.config).toEqual({ list: "main" });

    const metrics = (await s.call("GET", "/metrics")).text;
    expect(metrics).toContain('slice_destination_rows_total{kind="http",op="add",outcome="sent"} 11');
    expect(metrics).toContain('slice_destination_rows_total{kind="http",op="remove",outcome="sent"} 1');
    expect(metrics).toContain(`slice_destination_sync_lag_seconds{destination="${d.id}",kind="http"} 0`);
    expect(metrics).toContain(`slice_destination_pending_changes{destination="${d.id}",kind="http"} 0`);

    const runs = (await s.call("GET", `/v1/destinations/${d.id}/runs`)).body.data;
    expect(runs.at(-1)).toMatchObject({ kind: "full", state: "succeeded", added: 10 });
    const outcomes = (
      await s.call("GET", `/v1/destinations/${d.id}/runs/${runs.at(-1).id}/outcomes?limit=1000`)
    ).body.data;
    expect(outcomes).toHaveLength(10);
    expect(outcomes[0]).toMatchObject({ op: "add", status: "ok", error: null });
  });

  it("refuses bad configs with a path, and needs SLICE_SECRET_KEY", async () => {
    const seg = await segment();
    const bad = await s.call("POST", "/v1/destinations", {
      name: "x",
      kind: "http",
      segment_id: seg,
      config: {},
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe("config.token: required");
    const kind = await s.call("POST", "/v1/destinations", {
      name: "x",
      kind: "fax",
      segment_id: seg,
      config: {},
    });
    expect(kind.status).toBe(400);
    expect(kind.body.error.details.path).toBe("kind");
    const noSeg = await s.call("POST", "/v1/destinations", {
      name: "x",
      kind: "http",
      segment_id: "seg_nope",
      config: { token: "t" },
    });
    expect(noSeg.status).toBe(404);

    const plain = await startTestServer({ kind: "sqlite" }, { destinationConnectors: { http: mem } });
    try {
      const r = await plain.call("POST", "/v1/segments", { name: "s", kind: "static" });
      const d = await plain.call("POST", "/v1/destinations", {
        name: "x",
        kind: "http",
        segment_id: r.body.id,
        config: { token: "t" },
      });
      expect(d.status).toBe(400);
      expect(d.body.error.message).toContain("SLICE_SECRET_KEY");
    } finally {
      await plain.stop();
    }
  });

  it("a dry run sends nothing; a paused destination waits; resume catches up", async () => {
    await contacts(7, "FR");
    const seg = await segment();
    const d = await destination(seg, { paused: true });
    const dry = await s.call("POST", `/v1/destinations/${d.id}/dry-run`);
    expect(dry.status).toBe(200);
    expect(dry.body.would_add).toBe(7);
    expect(dry.body.requests[0]).toMatchObject({ method: "POST", url: "memory://add", rows: 3 });
    expect(mem.calls).toHaveLength(0);
    expect((await status(d.id)).state).toBe("paused");
    expect((await status(d.id)).pending.adds).toBe(7);

    await s.call("POST", `/v1/destinations/${d.id}/resume`);
    await eventually(() => mem.audience.size === 7, 5000, "sync after resume");
    await s.call("POST", `/v1/destinations/${d.id}/pause`);
    await s.call("POST", "/v1/contacts", { email: "p1@example.com", country: "DE" });
    await eventually(async () => (await status(d.id)).pending.removes === 1, 5000, "pending remove");
    const dry2 = await s.call("POST", `/v1/destinations/${d.id}/dry-run`);
    expect(dry2.body).toMatchObject({ would_add: 0, would_remove: 1 });
    expect(mem.audience.has("p1@example.com")).toBe(true);
    await s.call("POST", `/v1/destinations/${d.id}/resume`);
    await eventually(() => !mem.audience.has("p1@example.com"), 5000, "remove after resume");
    const runs = (await s.call("GET", `/v1/destinations/${d.id}/runs`)).body.data;
    expect(runs.filter((r: Json) => r.kind === "dry_run")).toHaveLength(2);
  });

  it("a refused batch is split so that only the bad row fails", async () => {
    await contacts(6, "FR");
    mem.refuse.add("p2@example.com");
    const seg = await segment();
    const d = await destination(seg);
    await eventually(async () => (await status(d.id)).state === "live", 5000, "sync");
    expect(mem.audience.size).toBe(5);
    const run = (await s.call("GET", `/v1/destinations/${d.id}/runs`)).body.data.at(-1);
    expect(run).toMatchObject({ state: "partial", added: 5, failed: 1 });
    const failed = (await s.call("GET", `/v1/destinations/${d.id}/runs/${run.id}/outcomes?status=failed`))
      .body.data;
    expect(failed).toHaveLength(1);
    expect(failed[0].error).toBe("invalid email in batch");
  });

  it("a provider failure is recorded, retried later, and the position kept", async () => {
    await contacts(4, "FR");
    const seg = await segment();
    mem.failWith = new Error("HTTP 503: down");
    const d = await destination(seg);
    await eventually(async () => (await status(d.id)).last_error === "HTTP 503: down", 5000, "failure");
    const st = await status(d.id);
    expect(st.state).toBe("failing");
    expect(st.next_attempt_at).not.toBeNull();
    mem.failWith = null;
    await eventually(async () => (await status(d.id)).state === "live", 15_000, "recovery");
    expect(mem.audience.size).toBe(4);
    const runs = (await s.call("GET", `/v1/destinations/${d.id}/runs`)).body.data;
    expect(runs.some((r: Json) => r.state === "failed" && r.error === "HTTP 503: down")).toBe(true);
  });

  it("a segment synced to a destination cannot be deleted; a deleted destination frees it", async () => {
    const seg = await segment();
    const d = await destination(seg);
    const del = await s.call("DELETE", `/v1/segments/${seg}`);
    expect(del.status).toBe(409);
    expect(del.body.error.details.uses).toEqual([{ type: "destination", id: d.id }]);
    expect((await s.call("DELETE", `/v1/destinations/${d.id}`)).status).toBe(204);
    expect((await s.call("GET", `/v1/destinations/${d.id}`)).status).toBe(404);
    expect((await s.call("DELETE", `/v1/segments/${seg}`)).status).toBe(204);
  });
});
