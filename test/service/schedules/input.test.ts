/**
 * What a schedule request may hold: errors name the bad part, credentials are sealed
 * and never read back, and a service without SLICE_SECRET_KEY refuses credentials.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ApiError } from "../../../src/service/errors.ts";
import { renderTemplate } from "../../../src/service/schedules/input.ts";
import { type Env, openTestWorkspace, SECRET_KEY, setup as setupIn, type TestWorkspace } from "./setup.ts";

let tw: TestWorkspace;
let env: Env | undefined;

beforeAll(async () => {
  tw = await openTestWorkspace();
});
afterAll(async () => {
  await tw?.close();
});
afterEach(async () => {
  await env?.close();
  env = undefined;
});

const KEY_ID = "AKIAIOSFODNN7EXAMPLE";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

const valid = () => ({
  segment_id: "all",
  cron: "0 2 * * *",
  target: {
    kind: "s3",
    bucket: "b",
    key: "x/{date}.csv",
    access_key_id: KEY_ID,
    secret_access_key: SECRET,
  } as Record<string, unknown>,
});

/** The ApiError a create answers with. */
async function refusal(body: unknown, e: Env = env!): Promise<ApiError> {
  try {
    await e.create(body);
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error("the request was accepted");
}

describe("schedule requests", () => {
  it("name the bad part of a refused request", async () => {
    env = await setupIn(tw, "2026-06-01T08:00:00Z");
    const cases: [unknown, string][] = [
      [
        { ...valid(), cron: "61 * * * *" },
        'cron: invalid cron expression "61 * * * *": Invalid value for minute: 61',
      ],
      [{ ...valid(), cron: "0 0 31 2 *" }, 'cron: invalid cron expression "0 0 31 2 *": it never runs'],
      [{ ...valid(), cron: "* * * * * *" }, 'cron: invalid cron expression "* * * * * *"'],
      [{ ...valid(), cron: undefined }, "cron: required"],
      [{ ...valid(), target: { ...valid().target, bucket: undefined } }, "target.bucket: required"],
      [{ ...valid(), target: { ...valid().target, bucket: 3 } }, "target.bucket: expected a string"],
      [{ ...valid(), target: undefined }, "target: required"],
      [{ ...valid(), target: { kind: "ftp" } }, 'target.kind: expected "s3" or "http"'],
      [
        { ...valid(), target: { ...valid().target, key: "{date}/{hour}.csv" } },
        "target.key: unknown placeholder {hour}",
      ],
      [
        { ...valid(), target: { ...valid().target, secret_access_key: undefined } },
        "target.secret_access_key: required",
      ],
      [
        { ...valid(), target: { ...valid().target, endpoint: "minio:9000" } },
        "target.endpoint: must use http or https",
      ],
      [
        { ...valid(), target: { kind: "http", url: "not a url" } },
        "target.url: expected an absolute https URL",
      ],
      [
        { ...valid(), target: { kind: "http", url: "https://u:p@h.example/x" } },
        "target.url: must not hold credentials",
      ],
      [
        {
          ...valid(),
          target: { kind: "http", url: "https://h.example/x", headers: { "Content-Length": "3" } },
        },
        "target.headers.Content-Length: set by the upload itself",
      ],
      [{ ...valid(), format: "xml" }, "format: expected one of csv, ndjson, meta, google"],
      [{ ...valid(), columns: ["id", "nope"] }, 'columns[1]: unknown column "nope"'],
      [{ ...valid(), format: "ndjson", columns: ["id"] }, "columns: columns apply only to the csv format"],
      [{ ...valid(), extra: 1 }, 'unknown key "extra"'],
    ];
    for (const [body, message] of cases) {
      const e = await refusal(body);
      expect(e.status, message).toBe(400);
      expect(e.message).toContain(message);
      expect(e.message.startsWith(`${String(e.details?.path)}: `) || e.details?.path === "", message).toBe(
        true,
      );
    }
    const missing = await refusal({ ...valid(), segment_id: "nope" });
    expect([missing.status, missing.message]).toEqual([404, 'segment_id: segment "nope" not found']);
    expect(await env.schedules.list(env.ws)).toEqual([]);
  });

  it("never read credentials back, and store them sealed", async () => {
    env = await setupIn(tw, "2026-06-01T08:00:00Z");
    const created = await env.create(valid());
    const http = await env.create({
      segment_id: "all",
      cron: "0 2 * * *",
      target: {
        kind: "http",
        url: "https://h.example/x.csv",
        headers: { Authorization: `Bearer ${SECRET}` },
      },
    });
    expect(created.target).toEqual({
      kind: "s3",
      bucket: "b",
      key: "x/{date}.csv",
      region: null,
      endpoint: null,
      force_path_style: null,
      access_key_id: "AKIA****MPLE",
    });
    expect(http.target).toMatchObject({ headers: { Authorization: "****" } });
    const patched = await env.update(created.id, { name: "renamed" });
    const reads = [
      created,
      http,
      patched,
      await env.schedules.get(env.ws, created.id),
      await env.schedules.list(env.ws),
    ];
    for (const r of reads) {
      const text = JSON.stringify(r);
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(KEY_ID);
    }
    // At rest: neither in the target nor in clear in the sealed column.
    const row = await env.store.workspace(env.ws.id).schedules.get(created.id);
    expect(JSON.stringify(row)).not.toContain(SECRET);
    expect(JSON.stringify(row)).not.toContain(KEY_ID);
    expect(row!.secrets).toMatch(/^v1\./);
    expect(SECRET_KEY).not.toBe("");
  });

  it("refuse credentials without SLICE_SECRET_KEY, and accept a target that needs none", async () => {
    env = await setupIn(tw, "2026-06-01T08:00:00Z", { box: null });
    const e = await refusal(valid());
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/^target\.secret_access_key: SLICE_SECRET_KEY is not set/);
    const h = await refusal({
      ...valid(),
      target: { kind: "http", url: "https://h.example/x", headers: { Authorization: "Bearer x" } },
    });
    expect(h.message).toMatch(/^target\.headers: SLICE_SECRET_KEY is not set/);
    const plain = await env.create({
      ...valid(),
      target: { kind: "http", url: "https://h.example/{date}.csv" },
    });
    expect(plain.state).toBe("active");
  });

  it("refuse bad changes by path, and a missing schedule with 404", async () => {
    env = await setupIn(tw, "2026-06-01T08:00:00Z");
    const s = await env.create(valid());
    const change = async (body: unknown) =>
      env!.update(s.id, body).then(
        () => "accepted",
        (e: ApiError) => e.message,
      );
    expect(await change({ cron: "nope" })).toMatch(/^cron: invalid cron expression "nope"/);
    expect(await change({ state: "stopped" })).toBe('state: expected "active" or "paused"');
    expect(await change({ columns: [] })).toBe("columns: must not be empty");
    // A new key id without its secret.
    expect(await change({ target: { kind: "s3", bucket: "b", key: "k", access_key_id: "AKIA0000" } })).toBe(
      "target.secret_access_key: required",
    );
    // Credentials are not carried to another endpoint or origin.
    expect(
      await change({ target: { kind: "s3", bucket: "b", key: "k", endpoint: "https://evil.example" } }),
    ).toMatch(/^target\.access_key_id: required with a new endpoint/);
    const h = await env.create({
      segment_id: "all",
      cron: "0 2 * * *",
      target: { kind: "http", url: "https://h.example/a.csv", headers: { Authorization: "Bearer t" } },
    });
    const changeH = (url: string) =>
      env!.update(h.id, { target: { kind: "http", url } }).then(
        (r) => r.target,
        (e: ApiError) => e.message,
      );
    expect(await changeH("https://other.example/a.csv")).toMatch(
      /^target\.headers: required with a URL of another origin/,
    );
    expect(await changeH("https://h.example/b/{date}.csv")).toEqual({
      kind: "http",
      url: "https://h.example/b/{date}.csv",
      headers: { Authorization: "****" },
    });
    // Another kind of target needs its own credentials: none are carried over.
    expect(await change({ target: { kind: "http", url: "https://h.example/x" } })).toBe("accepted");
    expect(await change({ target: { kind: "s3", bucket: "b", key: "k" } })).toBe(
      "target.access_key_id: required",
    );
    await expect(env.schedules.get(env.ws, "exs_nope")).rejects.toMatchObject({ status: 404 });
    await expect(env.schedules.runNow(env.ws, "exs_nope")).rejects.toMatchObject({ status: 404 });
    await env.schedules.delete(env.ws, s.id);
    await expect(env.schedules.delete(env.ws, s.id)).rejects.toMatchObject({ status: 404 });
  });

  it("fill in the object name in the workspace's zone", () => {
    const v = {
      slot: Date.parse("2026-12-31T23:30:00Z"),
      timeZone: "Europe/Paris",
      segmentId: "a b",
      scheduleId: "exs_1",
    };
    expect(renderTemplate("{date}/{time}-{segment_id}-{schedule_id}", v)).toBe("2027-01-01/003000-a b-exs_1");
    expect(renderTemplate("/{segment_id}.csv", v, encodeURIComponent)).toBe("/a%20b.csv");
  });
});
