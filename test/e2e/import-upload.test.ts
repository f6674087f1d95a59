/**
 * Imports uploaded slowly or cut off, over real HTTP with Node's fetch (undici), as the
 * CLI uploads them: the 202 answers the whole upload, a cut-off upload fails its job
 * with a reason, and a stop does not wait for a stalled client.
 */
import { createGzip } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { UPLOAD_CUT_OFF } from "../../src/http/upload.ts";
import { ADMIN_KEY, eventually, type Json, startTestServer, type TestServer } from "../support/server.ts";

const enc = new TextEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A body sent in parts, with a pause before each part after the first; `stall` never ends it. */
function slowBody(parts: string[], pauseMs: number, stall = false): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      if (i > 0) await sleep(pauseMs);
      if (i < parts.length) c.enqueue(enc.encode(parts[i++]!));
      else if (stall) await new Promise(() => {});
      else c.close();
    },
  });
}

function upload(
  t: TestServer,
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${t.url}/v1/imports`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "text/csv", ...headers },
    body,
    duplex: "half",
    ...(signal ? { signal } : {}),
  } as RequestInit);
}

async function onlyJob(t: TestServer): Promise<Json> {
  const list = await t.call("GET", "/v1/imports");
  expect(list.body.data).toHaveLength(1);
  return list.body.data[0];
}

/** The server's only import, once it has failed. */
function failedJob(t: TestServer): Promise<Json> {
  return eventually(
    async () => {
      const j = await onlyJob(t);
      return j.status === "failed" ? j : null;
    },
    20_000,
    "the import to fail",
  );
}

describe("imports uploaded slowly or cut off (sqlite)", () => {
  let t: TestServer | null = null;
  afterEach(async () => {
    await t?.stop();
    t = null;
  });

  it("answers 202 after the last part of a slow upload, and imports every row", async () => {
    t = await startTestServer({ kind: "sqlite" });
    const parts = ["email,first_name\n", "ana@example.com,Ana\n", "bob@example.com,Bob\n"];
    const r = await upload(t, slowBody(parts, 300));
    expect(r.status).toBe(202);
    const { id } = (await r.json()) as { id: string };
    const job = await eventually(
      async () => {
        const g = await t!.call("GET", `/v1/imports/${id}`);
        return g.body.status === "done" || g.body.status === "failed" ? g.body : null;
      },
      20_000,
      "the import to finish",
    );
    expect(job).toMatchObject({ status: "done", processed: 2, accepted: 2, rejected: 0 });
    const ana = await t.call("GET", "/v1/contacts?email=ana%40example.com");
    expect(ana.body.data[0].first_name).toBe("Ana");
  });

  it("fails the import of an upload the client abandons, naming why", async () => {
    t = await startTestServer({ kind: "sqlite" });
    const abort = new AbortController();
    const sent = upload(t, slowBody(["email\n", "cy@example.com\n"], 50, true), abort.signal);
    sent.catch(() => undefined);
    const running = await eventually(async () => (await t!.call("GET", "/v1/imports")).body.data[0], 10_000);
    abort.abort();
    await expect(sent).rejects.toThrow();
    const job = await failedJob(t);
    expect(job.id).toBe(running.id);
    expect(job.failure).toContain(UPLOAD_CUT_OFF);
  });

  it("fails the import of a gzip upload the client abandons", async () => {
    t = await startTestServer({ kind: "sqlite" });
    // The first member of a gzip stream, flushed: the server inflates it, then waits for more.
    const gz = createGzip();
    const first = new Promise<Buffer>((resolve) => gz.once("data", (b: Buffer) => resolve(b)));
    gz.write("email\ngz@example.com\n");
    gz.flush();
    const head = await first;
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (!sent) {
          sent = true;
          c.enqueue(new Uint8Array(head));
        } else await new Promise(() => {});
      },
    });
    const abort = new AbortController();
    const sending = upload(t, body, abort.signal, { "content-encoding": "gzip" });
    sending.catch(() => undefined);
    await eventually(async () => (await t!.call("GET", "/v1/imports")).body.data[0], 10_000);
    abort.abort();
    const job = await failedJob(t);
    expect(job.failure).toContain(UPLOAD_CUT_OFF);
    gz.destroy();
  });

  it("stops while a client stalls in the middle of an upload", async () => {
    const server = await startTestServer({ kind: "sqlite" });
    const sent = upload(server, slowBody(["email\n", "dee@example.com\n"], 50, true));
    sent.catch(() => undefined);
    await eventually(async () => (await server.call("GET", "/v1/imports")).body.data[0], 10_000);
    await server.stop();
    await expect(sent).rejects.toThrow();
  }, 60_000);
});
