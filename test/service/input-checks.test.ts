/**
 * Input checks of the write paths. The one email check: the same verdicts as the pattern
 * it replaces on every short string, long input refused by its length before any scan,
 * on every write path; event properties with numbers JSON reads as infinite.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EMAIL_MAX_LENGTH, emailProblem } from "../../src/service/email.ts";
import { startTestServer, type TestServer } from "../support/server.ts";

/** The pattern used before; fine on short strings, quadratic on long ones. */
const OLD = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

describe("emailProblem", () => {
  it("agrees with the former pattern on short strings", () => {
    const chars = fc.constantFrom("a", "b", ".", "@", " ", "\t", "-", "é");
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 24 }), (cs) => {
        const s = cs.join("");
        expect(emailProblem(s) === null).toBe(OLD.test(s));
      }),
      { numRuns: 5000, seed: 20261204 },
    );
  });

  it("takes common addresses and refuses the usual mistakes", () => {
    for (const ok of ["ana@example.com", "a.b+c@mail.example.co.uk", "x@a.b."])
      expect(emailProblem(ok)).toBeNull();
    for (const bad of [
      "",
      "ana",
      "ana@",
      "@example.com",
      "ana@example",
      "a@b@c.d",
      "ana @x.com",
      "ana@.com",
      "ana@x.",
    ]) {
      expect(emailProblem(bad), bad).toBe("is not an email address");
    }
  });

  it("refuses anything longer than RFC 5321's 254 characters, whatever its shape", () => {
    const local = "a".repeat(64);
    const fits = `${local}@${"b".repeat(EMAIL_MAX_LENGTH - 64 - 5)}.com`;
    expect(fits.length).toBe(EMAIL_MAX_LENGTH);
    expect(emailProblem(fits)).toBeNull();
    expect(emailProblem(`a${fits}`)).toBe("is longer than 254 characters");
    // The former pattern's worst case: a long run of dots between two @.
    expect(emailProblem(`a@${".".repeat(1_000_000)}@`)).toBe("is longer than 254 characters");
  });
});

describe("the email check on every write path", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ kind: "sqlite" });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it("a contact with a 1 MB email is a 400 naming the path, with a short message", async () => {
    const r = await s.call("POST", "/v1/contacts", { email: `a@${".".repeat(1_000_000)}@` });
    expect(r.status).toBe(400);
    expect(r.body.error.details.path).toBe("email");
    expect(r.body.error.message).toContain("longer than 254 characters");
    expect(r.text.length).toBeLessThan(1000);
  });

  it("an event naming an invalid email creates no contact and is refused alone", async () => {
    const r = await s.call("POST", "/v1/events", [
      { type: "page_viewed", contact: { email: "not-an-address" } },
      { type: "page_viewed", contact: { email: `x@${"y".repeat(300)}.com` } },
      { type: "page_viewed", contact: { email: "ok@example.com" } },
    ]);
    expect(r.status).toBe(200);
    expect(r.body.accepted).toBe(1);
    expect(r.body.errors.map((e: { index: number }) => e.index)).toEqual([0, 1]);
    expect(r.body.errors[0].error).toBe('[0].contact.email: "not-an-address" is not an email address');
    expect(r.body.errors[1].error).toContain("longer than 254 characters");
    const list = await s.call("GET", "/v1/contacts");
    expect(list.body.data.map((c: { email: string }) => c.email)).toEqual(["ok@example.com"]);
  });
});

describe("event properties", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ kind: "sqlite" });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it("refuse numbers JSON reads as infinite (1e309), naming the path, and store nothing of that event", async () => {
    const body = `[{"type":"order_placed","contact":{"email":"inf@example.com"},"properties":{"amount":1e309}},
      {"type":"order_placed","contact":{"email":"inf@example.com"},"properties":{"items":[{"price":-1e400}]}},
      {"type":"order_placed","contact":{"email":"inf@example.com"},"properties":{"amount":12.5}}]`;
    const r = await s.call("POST", "/v1/events", undefined, {
      raw: body,
      headers: { "content-type": "application/json" },
    });
    expect(r.status).toBe(200);
    expect(r.body.accepted).toBe(1);
    expect(r.body.errors).toEqual([
      { index: 0, error: "[0].properties.amount: expected a finite number" },
      { index: 1, error: "[1].properties.items[0].price: expected a finite number" },
    ]);
  });
});
