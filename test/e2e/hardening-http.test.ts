/**
 * The HTTP layer under hostile input (issue 14): authentication decided on the routed
 * path whatever the URL's spelling, failed attempts limited per address, bodies nested
 * too deep refused before anything recurses, unsupported body types answered 415, and
 * the security headers of the web app and the API.
 */
import { request } from "node:http";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, type Json, startTestServer, type TestServer } from "../support/server.ts";

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: Json;
}

/** A request with the path exactly as written (fetch would normalise `/./` and more). */
function raw(
  base: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<RawAnswer> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, method, path, headers: opts.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: Json = null;
          try {
            body = JSON.parse(text);
          } catch {
            body = null;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
      },
    );
    req.on("error", reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

function nestedArrays(depth: number): string {
  return `${"[".repeat(depth)}${"]".repeat(depth)}`;
}

function nestedObjects(depth: number, key = "a"): string {
  return `${`{"${key}":`.repeat(depth)}1${"}".repeat(depth)}`;
}

describe("HTTP hardening", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ kind: "sqlite" });
    expect((await s.call("POST", "/v1/contacts", { email: "a@example.com" })).status).toBe(201);
  });
  afterAll(async () => {
    await s?.stop();
  });

  describe("authentication on the routed path", () => {
    const spellings = [
      "/%76%31/contacts",
      "/v1/%63ontacts",
      "/%76%31/contacts?limit=5",
      "//v1/contacts",
      "/v1//contacts",
      "/v1/./contacts",
      "/v1/../v1/contacts",
      "/v1/contacts/",
      "/%76%31/contacts/",
      "/v1/keys",
      "/%76%31/keys",
      "/%76%31/workspace",
      "/v1/no-such-route",
    ];
    for (const path of spellings) {
      it(`answers 401 without a key: GET ${path}`, async () => {
        const r = await raw(s.url, "GET", path);
        expect(r.status).toBe(401);
        expect(r.body.error.code).toBe("unauthorized");
      });
    }

    it("answers 401 to a write under an encoded path, and writes nothing", async () => {
      const r = await raw(s.url, "POST", "/%76%31/contacts", {
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "sneaky@example.com" }),
      });
      expect(r.status).toBe(401);
      const list = await s.call("GET", "/v1/contacts");
      expect(list.body.data.map((c: Json) => c.email)).not.toContain("sneaky@example.com");
    });

    it("serves an encoded path with a key like the plain one", async () => {
      const r = await raw(s.url, "GET", "/%76%31/contacts", { headers: bearer(ADMIN_KEY) });
      expect(r.status).toBe(200);
      expect(r.body.data.map((c: Json) => c.email)).toContain("a@example.com");
    });

    it("keeps the public paths public", async () => {
      expect((await raw(s.url, "GET", "/healthz")).status).toBe(200);
      expect((await raw(s.url, "GET", "/readyz")).status).toBe(200);
      expect((await raw(s.url, "GET", "/v1/openapi.json")).status).toBe(200);
      expect((await raw(s.url, "GET", "/%76%31/openapi.json")).status).toBe(200);
      expect([200, 302]).toContain((await raw(s.url, "GET", "/docs")).status);
      const app = await raw(s.url, "GET", "/");
      expect([200, 503]).toContain(app.status);
      expect(String(app.headers["content-type"])).toContain("text/html");
      expect([200, 503]).toContain((await raw(s.url, "GET", "/segments")).status);
      // A receiver's URL is its secret: an unknown one is not found, not unauthorised.
      const hook = await raw(s.url, "POST", "/hooks/rcv_unknown", {
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      expect(hook.status).toBe(404);
    });

    it("authenticates Segment-compatible ingest whatever the spelling", async () => {
      const r = await raw(s.url, "POST", "/segment/%76%31/track", {
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ userId: "u1", event: "x" }),
      });
      expect(r.status).toBe(401);
    });
  });

  describe("bodies nested too deep", () => {
    it("refuses a rule nested 100,000 deep with 400 naming the limit, and keeps answering", async () => {
      const r = await raw(s.url, "POST", "/v1/segments/preview", {
        headers: { ...bearer(ADMIN_KEY), "content-type": "application/json" },
        body: `{"rule":${nestedArrays(100_000)}}`,
      });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("invalid_request");
      expect(r.body.error.message).toMatch(/nested deeper than 64 levels at \$\.rule\[0\]\[0\]/);
      expect((await s.call("GET", "/healthz")).status).toBe(200);
    });

    it("refuses event properties nested 100,000 deep, with the path of the value", async () => {
      const body = `[{"type":"deep","contact":{"email":"a@example.com"},"properties":${nestedObjects(100_000)}}]`;
      const r = await raw(s.url, "POST", "/v1/events", {
        headers: { ...bearer(ADMIN_KEY), "content-type": "application/json" },
        body,
      });
      expect(r.status).toBe(400);
      expect(r.body.error.message).toContain("nested deeper than 64 levels at $[0].properties.a.a");
      expect(r.body.error.details.max_depth).toBe(64);
      const still = await s.call("GET", "/v1/contacts");
      expect(still.status).toBe(200);
    });

    it("counts depth in the decompressed body of a gzip request", async () => {
      const r = await raw(s.url, "POST", "/v1/contacts", {
        headers: { ...bearer(ADMIN_KEY), "content-type": "application/json", "content-encoding": "gzip" },
        body: gzipSync(`{"email":"b@example.com","fields":${nestedObjects(50_000, "x")}}`),
      });
      expect(r.status).toBe(400);
      expect(r.body.error.message).toContain("nested deeper than 64 levels");
    });

    it("is not fooled by brackets inside strings", async () => {
      const r = await s.call("POST", "/v1/contacts", {
        email: "brackets@example.com",
        first_name: `${"[{".repeat(200)}"\\`,
      });
      expect(r.status).toBe(201);
    });

    it("refuses deep bodies on Segment-compatible routes, whatever their content type", async () => {
      const auth = `Basic ${Buffer.from(`${ADMIN_KEY}:`).toString("base64")}`;
      for (const type of ["application/json", "text/plain", "application/x-www-form-urlencoded"]) {
        const r = await raw(s.url, "POST", "/segment/v1/track", {
          headers: { authorization: auth, "content-type": type },
          body: `{"userId":"u1","event":"deep","properties":${nestedObjects(4_000)}}`,
        });
        expect(r.status, type).toBe(400);
        expect(r.body.error.message, type).toContain("nested deeper than 64 levels");
      }
    });
  });

  describe("body types", () => {
    for (const type of ["text/plain", "application/xml", "application/x-www-form-urlencoded", "text/csv"]) {
      it(`answers ${type} on a JSON route with 415 and no internals`, async () => {
        const r = await raw(s.url, "POST", "/v1/contacts", {
          headers: { ...bearer(ADMIN_KEY), "content-type": type },
          body: '{"email":"plain@example.com"}',
        });
        expect(r.status).toBe(415);
        expect(r.body.error.code).toBe("unsupported_media_type");
        expect(r.body.error.message).toContain("expected application/json");
        expect(r.text).not.toMatch(/Readable|IncomingMessage|_readableState|node:/);
      });
    }

    it("still takes CSV and NDJSON imports, and text/plain JSON from Segment clients", async () => {
      const csv = await raw(s.url, "POST", "/v1/imports", {
        headers: { ...bearer(ADMIN_KEY), "content-type": "text/csv" },
        body: "email\ncsv@example.com\n",
      });
      expect(csv.status).toBe(202);
      const nd = await raw(s.url, "POST", "/v1/imports", {
        headers: { ...bearer(ADMIN_KEY), "content-type": "application/x-ndjson" },
        body: `${JSON.stringify({ type: "x", contact: { email: "csv@example.com" } })}\n`,
      });
      expect(nd.status).toBe(202);
      const seg = await raw(s.url, "POST", "/segment/v1/track", {
        headers: {
          authorization: `Basic ${Buffer.from(`${ADMIN_KEY}:`).toString("base64")}`,
          "content-type": "text/plain",
        },
        body: JSON.stringify({ userId: "u1", event: "Signed Up" }),
      });
      expect(seg.status).toBe(200);
    });
  });

  describe("security headers", () => {
    it("sends CSP, X-Frame-Options, nosniff and Referrer-Policy with the web app", async () => {
      for (const path of ["/", "/segments"]) {
        const r = await raw(s.url, "GET", path);
        const csp = String(r.headers["content-security-policy"]);
        expect(csp).toContain("default-src 'self'");
        expect(csp).toContain("script-src 'self'");
        expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
        expect(csp).toContain("frame-ancestors 'none'");
        expect(r.headers["x-frame-options"]).toBe("DENY");
        expect(r.headers["x-content-type-options"]).toBe("nosniff");
        expect(r.headers["referrer-policy"]).toBe("same-origin");
      }
    });

    it("sends nosniff with API answers, errors included", async () => {
      expect((await s.call("GET", "/v1/contacts")).headers.get("x-content-type-options")).toBe("nosniff");
      expect(
        (await s.call("GET", "/v1/contacts", undefined, { key: null })).headers.get("x-content-type-options"),
      ).toBe("nosniff");
      expect((await s.call("GET", "/healthz")).headers.get("x-content-type-options")).toBe("nosniff");
    });
  });
});

describe("failed authentication is limited per address", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ kind: "sqlite" });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it("answers 429 with Retry-After after 20 failures a minute; successes and missing keys do not count", async () => {
    for (let i = 0; i < 30; i++) expect((await s.call("GET", "/v1/workspace")).status).toBe(200);
    for (let i = 0; i < 30; i++)
      expect((await s.call("GET", "/v1/workspace", undefined, { key: null })).status).toBe(401);
    for (let i = 0; i < 20; i++) {
      const r = await s.call("GET", "/v1/workspace", undefined, { key: `sk_wrong_${i}_0123456789abcdef` });
      expect(r.status).toBe(401);
    }
    const limited = await s.call("GET", "/v1/workspace", undefined, { key: "sk_wrong_x_0123456789abcdef" });
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe("rate_limited");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Number(limited.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    // While over the limit no key from the address is tried, so guessing stops, right keys included.
    expect((await s.call("GET", "/v1/workspace")).status).toBe(429);
    const basic = await raw(s.url, "POST", "/segment/v1/track", {
      headers: {
        authorization: `Basic ${Buffer.from("sk_wrong:").toString("base64")}`,
        "content-type": "application/json",
      },
      body: "{}",
    });
    expect(basic.status).toBe(429);
    // Public paths stay up.
    expect((await s.call("GET", "/healthz")).status).toBe(200);
  });
});
