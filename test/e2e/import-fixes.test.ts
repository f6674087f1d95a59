/**
 * CSV imports over HTTP: rejected rows name the file's column (never the contact's wire
 * path such as `contacts[1].fields.birthday`), and day/month/year dates import with the
 * date format the request picks (docs/imports.md, "Dates").
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type Json, startTestServer, type TestServer } from "../support/server.ts";

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({ kind: "sqlite" });
  for (const f of [
    { key: "birthday", type: "date", label: "Birthday" },
    { key: "score", type: "number", label: "Score" },
  ]) {
    expect((await s.call("POST", "/v1/fields", f)).status).toBe(201);
  }
});

afterAll(async () => {
  await s?.stop();
});

async function importCsv(csv: string, query = ""): Promise<Json> {
  const r = await s.call("POST", `/v1/imports${query}`, undefined, {
    raw: csv,
    headers: { "content-type": "text/csv" },
  });
  expect(r.status, r.text).toBe(202);
  return eventually(
    async () => {
      const j = (await s.call("GET", `/v1/imports/${r.body.id}`)).body;
      return j.status === "done" || j.status === "failed" ? j : null;
    },
    10_000,
    "the import to finish",
  );
}

const contact = async (email: string) =>
  (await s.call("GET", `/v1/contacts?email=${encodeURIComponent(email)}`)).body.data[0];

describe("CSV import errors and date formats", () => {
  it("names the row's column in the sink's errors, not the contact's path", async () => {
    const q = `?mapping=${encodeURIComponent(
      JSON.stringify({ "E-mail": "email", "Date of birth": "fields.birthday", Subscription: "status" }),
    )}`;
    const job = await importCsv(
      [
        "E-mail,Date of birth,Subscription",
        "ok@example.com,1990-12-13,subscribed",
        "bad-status@example.com,1990-12-13,maybe",
        "bad-date@example.com,1990-02-30,subscribed",
      ].join("\n"),
      q,
    );
    expect(job.status).toBe("done");
    expect(job.accepted).toBe(1);
    expect(job.errors).toHaveLength(2);
    expect(job.errors[0].row).toBe(3);
    expect(job.errors[0].error).toMatch(/^column "Subscription": /);
    expect(job.errors[1].row).toBe(4);
    expect(job.errors[1].error).toMatch(/^column "Date of birth": /);
    for (const e of job.errors) expect(e.error).not.toMatch(/contacts\[|fields\./);
  });

  it("refuses a day/month/year date in ISO mode, saying how to pick the format", async () => {
    const job = await importCsv("Email,Birthday\niso@example.com,13/12/1990\n");
    expect(job.accepted).toBe(0);
    expect(job.errors).toEqual([
      {
        row: 2,
        error:
          'column "Birthday": expected a date as YYYY-MM-DD, got "13/12/1990"; for day/month/year dates pick the file\'s date format (date_format "DD/MM/YYYY" or "MM/DD/YYYY")',
      },
    ]);
  });

  it("imports 13/12/1990 as 13 December with DD/MM/YYYY, and 12/13/1990 with MM/DD/YYYY", async () => {
    const dmy = await importCsv(
      "Email,Birthday,Created at\ndmy@example.com,13/12/1990,01.02.2024 09:30\n",
      "?date_format=DD/MM/YYYY",
    );
    expect(dmy.status).toBe("done");
    expect(dmy.errors).toEqual([]);
    expect(dmy.options.date_format).toBe("DD/MM/YYYY");
    const c = await contact("dmy@example.com");
    expect(c.fields.birthday).toBe("1990-12-13");
    expect(c.created_at).toBe("2024-02-01T09:30:00.000Z"); // the workspace zone is UTC

    const mdy = await importCsv("Email,Birthday\nmdy@example.com,12/13/1990\n", "?date_format=MM/DD/YYYY");
    expect(mdy.errors).toEqual([]);
    expect((await contact("mdy@example.com")).fields.birthday).toBe("1990-12-13");
  });

  it("rejects a date that is no day of the calendar in the picked format", async () => {
    const job = await importCsv("Email,Birthday\nwrong@example.com,13/12/1990\n", "?date_format=MM/DD/YYYY");
    expect(job.errors).toEqual([
      {
        row: 2,
        error:
          'column "Birthday": expected a date as MM/DD/YYYY, got "13/12/1990", which is no day of the calendar',
      },
    ]);
  });

  it("refuses an unknown date format, and one on an event import", async () => {
    const bad = await s.call("POST", "/v1/imports?date_format=YYYY.DD.MM", undefined, {
      raw: "Email\nx@example.com\n",
      headers: { "content-type": "text/csv" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.path).toBe("date_format");
    expect(bad.body.error.message).toContain('"DD/MM/YYYY"');
    const events = await s.call("POST", "/v1/imports?date_format=DD/MM/YYYY", undefined, {
      raw: "{}\n",
      headers: { "content-type": "application/x-ndjson" },
    });
    expect(events.status).toBe(400);
    expect(events.body.error.details.path).toBe("date_format");
  });
});
