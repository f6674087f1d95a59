/**
 * Optimistic concurrency on segments and contacts: reads answer an `ETag`, and
 * `PUT`/`PATCH`/`DELETE` with `If-Match` refuse a stale tag with 412
 * `precondition_failed` (the current tag in `details.etag`), so two clients editing the
 * same resource cannot silently overwrite each other. Without `If-Match` writes behave
 * as before.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Json, startTestServer, type TestServer } from "../support/server.ts";

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({ kind: "sqlite" });
});

afterAll(async () => {
  await s.stop();
});

const RULE = 'country = "FR"';
const ifMatch = (tag: string) => ({ headers: { "if-match": tag } });

async function newSegment(name: string): Promise<Json> {
  const r = await s.call("POST", "/v1/segments", { name, rule_text: RULE });
  expect(r.status, r.text).toBe(201);
  return r;
}

describe("segments", () => {
  it("answers an ETag on create and read, and a new one after each edit", async () => {
    const created = await newSegment("etag read");
    const id = created.body.id as string;
    const tag = created.headers.get("etag");
    expect(tag).toMatch(/^"[^"]+"$/);
    const read = await s.call("GET", `/v1/segments/${id}`);
    expect(read.headers.get("etag")).toBe(tag);

    const put = await s.call(
      "PUT",
      `/v1/segments/${id}`,
      { ...read.body, name: "etag read 2" },
      ifMatch(tag!),
    );
    expect(put.status, put.text).toBe(200);
    const next = put.headers.get("etag");
    expect(next).toMatch(/^"[^"]+"$/);
    expect(next).not.toBe(tag);
    expect((await s.call("GET", `/v1/segments/${id}`)).headers.get("etag")).toBe(next);
  });

  it("refuses a PUT with a stale If-Match (412, current tag in details) and keeps the other edit", async () => {
    const { body } = await newSegment("lost update");
    const read = await s.call("GET", `/v1/segments/${body.id}`);
    const tag = read.headers.get("etag")!;
    const first = await s.call(
      "PUT",
      `/v1/segments/${body.id}`,
      { name: "first writer", rule_text: RULE },
      ifMatch(tag),
    );
    expect(first.status, first.text).toBe(200);

    const second = await s.call(
      "PUT",
      `/v1/segments/${body.id}`,
      { name: "second writer", rule_text: RULE },
      ifMatch(tag),
    );
    expect(second.status).toBe(412);
    expect(second.body.error.code).toBe("precondition_failed");
    expect(second.body.error.details.etag).toBe(first.headers.get("etag"));
    expect((await s.call("GET", `/v1/segments/${body.id}`)).body.name).toBe("first writer");
  });

  it("of concurrent PUTs with the same If-Match, exactly one wins", async () => {
    const { body } = await newSegment("race");
    const tag = (await s.call("GET", `/v1/segments/${body.id}`)).headers.get("etag")!;
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, k) =>
        s.call("PUT", `/v1/segments/${body.id}`, { name: `writer ${k}`, rule_text: RULE }, ifMatch(tag)),
      ),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 412)).toHaveLength(5);
    expect((await s.call("GET", `/v1/segments/${body.id}`)).body.version).toBe(2);
  });

  it("takes If-Match: * and lists of tags; without If-Match, writes as before", async () => {
    const { body } = await newSegment("star");
    const tag = (await s.call("GET", `/v1/segments/${body.id}`)).headers.get("etag")!;
    expect(
      (await s.call("PUT", `/v1/segments/${body.id}`, { name: "a", rule_text: RULE }, ifMatch("*"))).status,
    ).toBe(200);
    const cur = (await s.call("GET", `/v1/segments/${body.id}`)).headers.get("etag")!;
    const list = await s.call(
      "PUT",
      `/v1/segments/${body.id}`,
      { name: "b", rule_text: RULE },
      ifMatch(`${tag}, ${cur}`),
    );
    expect(list.status, list.text).toBe(200);
    // A weak tag never matches If-Match (RFC 9110 §13.1.1: strong comparison).
    const next = list.headers.get("etag")!;
    expect(
      (await s.call("PUT", `/v1/segments/${body.id}`, { name: "c", rule_text: RULE }, ifMatch(`W/${next}`)))
        .status,
    ).toBe(412);
    expect((await s.call("PUT", `/v1/segments/${body.id}`, { name: "d", rule_text: RULE })).status).toBe(200);
  });

  it("honours If-Match on DELETE; a missing segment is still 404", async () => {
    const { body } = await newSegment("delete me");
    const tag = (await s.call("GET", `/v1/segments/${body.id}`)).headers.get("etag")!;
    await s.call("PUT", `/v1/segments/${body.id}`, { name: "changed", rule_text: RULE });
    const stale = await s.call("DELETE", `/v1/segments/${body.id}`, undefined, ifMatch(tag));
    expect(stale.status).toBe(412);
    expect((await s.call("GET", `/v1/segments/${body.id}`)).status).toBe(200);
    const cur = (await s.call("GET", `/v1/segments/${body.id}`)).headers.get("etag")!;
    expect((await s.call("DELETE", `/v1/segments/${body.id}`, undefined, ifMatch(cur))).status).toBe(204);
    expect((await s.call("DELETE", `/v1/segments/${body.id}`, undefined, ifMatch(cur))).status).toBe(404);
  });

  it("default segments have a tag too", async () => {
    const r = await s.call("GET", "/v1/segments/subscribed");
    expect(r.headers.get("etag")).toMatch(/^"[^"]+"$/);
  });
});

describe("contacts", () => {
  async function newContact(email: string): Promise<{ id: string; tag: string }> {
    const r = await s.call("POST", "/v1/contacts", { email, first_name: "Ana" });
    expect(r.status, r.text).toBe(201);
    const tag = r.headers.get("etag");
    expect(tag).toMatch(/^"[^"]+"$/);
    return { id: r.body.id, tag: tag! };
  }

  it("answers the same ETag on create and read, and a new one after a change", async () => {
    const { id, tag } = await newContact("etag-read@example.com");
    const read = await s.call("GET", `/v1/contacts/${id}`);
    expect(read.headers.get("etag")).toBe(tag);
    const patched = await s.call("PATCH", `/v1/contacts/${id}`, { first_name: "Bea" });
    expect(patched.status).toBe(200);
    const next = patched.headers.get("etag");
    expect(next).not.toBe(tag);
    expect((await s.call("GET", `/v1/contacts/${id}`)).headers.get("etag")).toBe(next);
  });

  it("refuses a PATCH with a stale If-Match and keeps the other edit", async () => {
    const { id, tag } = await newContact("stale-patch@example.com");
    const first = await s.call("PATCH", `/v1/contacts/${id}`, { first_name: "First" }, ifMatch(tag));
    expect(first.status, first.text).toBe(200);
    expect(first.headers.get("etag")).not.toBe(tag);
    const second = await s.call("PATCH", `/v1/contacts/${id}`, { first_name: "Second" }, ifMatch(tag));
    expect(second.status).toBe(412);
    expect(second.body.error.code).toBe("precondition_failed");
    expect(second.body.error.details.etag).toBe(first.headers.get("etag"));
    const now = await s.call("GET", `/v1/contacts/${id}`);
    expect(now.body.first_name).toBe("First");
    expect(now.headers.get("etag")).toBe(first.headers.get("etag"));
  });

  it("of concurrent PATCHes with the same If-Match, exactly one wins", async () => {
    const { id, tag } = await newContact("race@example.com");
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, k) =>
        s.call("PATCH", `/v1/contacts/${id}`, { first_name: `w${k}` }, ifMatch(tag)),
      ),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 412)).toHaveLength(5);
    const winner = answers.find((a) => a.status === 200)!;
    expect((await s.call("GET", `/v1/contacts/${id}`)).body.first_name).toBe(winner.body.first_name);
  });

  it("honours If-Match on DELETE", async () => {
    const { id, tag } = await newContact("delete-me@example.com");
    await s.call("PATCH", `/v1/contacts/${id}`, { last_name: "Changed" });
    const stale = await s.call("DELETE", `/v1/contacts/${id}`, undefined, ifMatch(tag));
    expect(stale.status).toBe(412);
    expect((await s.call("GET", `/v1/contacts/${id}`)).status).toBe(200);
    const cur = (await s.call("GET", `/v1/contacts/${id}`)).headers.get("etag")!;
    expect((await s.call("DELETE", `/v1/contacts/${id}`, undefined, ifMatch(cur))).status).toBe(204);
    expect((await s.call("GET", `/v1/contacts/${id}`)).status).toBe(404);
    expect((await s.call("PATCH", `/v1/contacts/${id}`, { first_name: "x" }, ifMatch(cur))).status).toBe(404);
  });

  it("a conditional PATCH validates its body like any PATCH", async () => {
    const { id, tag } = await newContact("validate@example.com");
    const r = await s.call("PATCH", `/v1/contacts/${id}`, { status: "nope" }, ifMatch(tag));
    expect(r.status).toBe(400);
    expect(r.body.error.details.path).toBe("status");
  });
});
