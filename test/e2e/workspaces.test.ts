import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ kind: "sqlite" });
});
afterAll(async () => {
  await s.stop();
});

describe("workspaces on the wire", () => {
  it("answers created_at as an ISO 8601 instant, on creation as on reads", async () => {
    const r = await s.call("POST", "/v1/workspaces", { name: "Acme" });
    expect(r.status).toBe(201);
    // It was epoch milliseconds here while every other instant of the API is ISO 8601.
    expect(r.body.workspace.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const me = await s.call("GET", "/v1/workspace", undefined, { key: r.body.api_key });
    expect(me.body.created_at).toBe(r.body.workspace.created_at);
  });
});
