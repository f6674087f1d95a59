/**
 * Flows 5, 6, 1 and 7: a segment's page (members, analytics, exports, uses, delete,
 * static members), a contact's page with explain, filtering contacts and saving the
 * filter as a segment, and a CSV import with column mapping and rejected rows.
 */
import { readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/server.ts";
import { signedIn, startWebEnv, type WebEnv } from "./support.ts";

async function pick(page: Page, scope: ReturnType<Page["locator"]> | Page, label: string, option: string) {
  await scope.getByLabel(label, { exact: true }).first().click();
  await page.getByRole("option", { name: option, exact: true }).filter({ visible: true }).click();
}

describe("web app: segment and contact pages, filters, import (flows 5, 6, 1, 7)", () => {
  let env: WebEnv;
  let page: Page;
  beforeAll(async () => {
    env = await startWebEnv(300);
    page = await signedIn(env);
  });
  afterAll(async () => {
    await env?.stop();
  });

  it("segment page: members, analytics, exports, uses, guarded delete, static members (flow 5)", async () => {
    const fr = (
      await env.s.call("POST", "/v1/segments", {
        name: "France",
        rule: { type: "field", field: "country", op: "eq", value: "FR" },
      })
    ).body;
    const user = (
      await env.s.call("POST", "/v1/segments", {
        name: "France buyers",
        rule: {
          type: "and",
          conditions: [
            { type: "segment", op: "in", segment: fr.id },
            { type: "event", event: "order_placed" },
          ],
        },
      })
    ).body;
    await page.goto(`${env.s.url}/segments/${fr.id}`);
    await page.getByText("60 members").waitFor();
    // Members: 50 a page, searchable.
    const rows = page.getByRole("tabpanel").locator("tbody tr");
    await eventually(async () => (await rows.count()) === 50, 5000, "first page");
    await page.getByRole("button", { name: "Next page" }).click();
    await eventually(async () => (await rows.count()) === 10, 5000, "second page");
    await page.getByRole("button", { name: "Previous page" }).click();
    await page.getByLabel("Search members").fill("user5@");
    await eventually(async () => (await rows.count()) === 1, 5000, "search");

    // Analytics drawn as charts.
    await page.getByRole("tab", { name: "Analytics" }).click();
    await page.getByTestId("analytics-size").getByText("60").waitFor();
    await page.getByTestId("breakdown").locator("svg .recharts-bar-rectangle").first().waitFor();
    await page
      .getByTestId("overlap")
      .getByText(/in both/)
      .waitFor();
    await pick(page, page, "Breakdown by", "Subscription status");
    await page.getByTestId("breakdown").getByText("By status").waitFor();

    // Exports download files.
    await page.getByRole("tab", { name: "Export" }).click();
    for (const [button, ext] of [
      ["Download CSV", ".csv"],
      ["Download Meta (Custom Audience)", ".csv"],
      ["Download Google (Customer Match)", ".csv"],
    ] as const) {
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("button", { name: button }).click(),
      ]);
      expect(download.suggestedFilename()).toMatch(new RegExp(`\\${ext}$`));
      const body = readFileSync((await download.path())!, "utf8");
      expect(body.split("\n").filter(Boolean).length).toBeGreaterThan(10);
    }

    // Uses, and a delete blocked by them.
    await page.getByRole("tab", { name: "Uses" }).click();
    await page.getByRole("tabpanel").getByText(`segment ${user.id}`).waitFor();
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await page.getByRole("button", { name: "Delete segment" }).click();
    await page.getByRole("alert").getByText("This segment is in use").waitFor();
    await page.getByRole("alert").getByText(`segment ${user.id}`).waitFor();
    await page.getByRole("button", { name: "Cancel" }).click();

    // A static segment: add pasted emails with an expiry-free add, remove one, delete it.
    const st = (await env.s.call("POST", "/v1/segments", { name: "Webinar", kind: "static" })).body;
    await page.goto(`${env.s.url}/segments/${st.id}`);
    await page.getByRole("tab", { name: "Add / remove contacts" }).click();
    await page.getByLabel("Pick a contact").first().fill("user299");
    await page.getByRole("option", { name: "user299@example.com" }).filter({ visible: true }).click();
    expect(await page.getByLabel(/^Emails/).inputValue()).toBe("user299@example.com");
    await page.getByLabel(/^Emails/).fill("user1@example.com, user2@example.com\nuser3@example.com");
    await page.getByRole("button", { name: "Add contacts" }).click();
    await page.getByRole("status").getByText("Added 3 contact(s)").waitFor();
    expect((await env.s.call("GET", `/v1/segments/${st.id}`)).body.size).toBe(3);
    await page.getByLabel(/^Emails/).fill("user2@example.com");
    await page.getByRole("button", { name: "Remove contacts" }).click();
    await page.getByRole("status").getByText("Removed 1 contact(s)").waitFor();
    expect((await env.s.call("GET", `/v1/segments/${st.id}`)).body.size).toBe(2);
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await page.getByRole("button", { name: "Delete segment" }).click();
    await page.waitForURL(/\/segments$/);
    expect((await env.s.call("GET", `/v1/segments/${st.id}`)).status).toBe(404);
  });

  it("contact page: profile, tags, fields, timeline, segments, and why in or out (flow 6)", async () => {
    const c = (await env.s.call("GET", "/v1/contacts?limit=1000")).body.data.find(
      (x: { email: string }) => x.email === "user4@example.com",
    );
    await page.goto(`${env.s.url}/contacts/${c.id}`);
    await page.getByRole("heading", { name: "First4 Last4" }).waitFor();
    await page.getByText("press", { exact: true }).waitFor();
    await page.getByRole("row", { name: /score\s*4/ }).waitFor();
    await page.getByTestId("timeline").getByText("order_placed").waitFor();
    await page.getByTestId("contact-segments").getByText("Customers").waitFor();
    await pick(page, page, "Why is this contact in or out of…", "Customers");
    await page.getByTestId("explain-member").getByText("In the segment").waitFor();
    await page
      .getByTestId("explain")
      .getByText(/order_placed: count = 1, needed ≥ 1/)
      .waitFor();
    expect(await page.locator('[data-testid="explain-node"][data-result="true"]').count()).toBeGreaterThan(1);
    await pick(page, page, "Why is this contact in or out of…", "Hard Bounced");
    await page.getByTestId("explain-member").getByText("Not in the segment").waitFor();
    await page.locator('[data-testid="explain-node"][data-result="false"]').first().waitFor();
    await page
      .getByTestId("explain")
      .getByText(/email_status = hard_bounced — value: deliverable/)
      .waitFor();
  });

  it("contacts page: search, filters by category, apply, save as segment (flow 1)", async () => {
    await page.goto(`${env.s.url}/contacts`);
    await page.getByRole("table").locator("tbody tr").first().waitFor();
    await page.getByLabel("Search (email or name)").fill("First12");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.getByTestId("filtered-count").getByText("11 matching contacts", { exact: false }).waitFor();
    await page.getByLabel("Search (email or name)").fill("");

    await page.getByRole("button", { name: "+ Add filter" }).click();
    const f1 = page.getByTestId("filter-row").nth(0);
    await pick(page, f1, "Field", "Country");
    await pick(page, f1, "Operator", "is");
    await pick(page, f1, "Value", "FR");
    await page.getByRole("button", { name: "+ Add filter" }).click();
    const f2 = page.getByTestId("filter-row").nth(1);
    await pick(page, f2, "Category", "Tag");
    await f2.getByLabel("Tags").fill("vip");
    await f2.getByLabel("Tags").press("Enter");
    await page.getByRole("button", { name: "+ Add filter" }).click();
    const f3 = page.getByTestId("filter-row").nth(2);
    await pick(page, f3, "Category", "Event");
    await pick(page, f3, "Operator", "has done");
    await f3.getByLabel("Event").fill("order_placed");
    await f3.getByLabel("Window amount").fill("365");
    await page.getByRole("button", { name: "Apply" }).click();
    const rule = {
      type: "and",
      conditions: [
        { type: "field", field: "country", op: "eq", value: "FR" },
        { type: "field", field: "tags", op: "contains_any", value: ["vip"] },
        { type: "event", event: "order_placed", window: { in_last: "365d" } },
      ],
    };
    const expected = (await env.s.call("POST", "/v1/segments/preview", { rule })).body.count;
    expect(expected).toBeGreaterThan(0);
    await page
      .getByTestId("filtered-count")
      .getByText(`${expected} matching contacts`, { exact: false })
      .waitFor();
    await page.getByRole("button", { name: "Save as segment" }).click();
    await page.getByLabel("Segment name").fill("French VIP buyers");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.waitForURL(/\/segments\/seg_/);
    const saved = (await env.s.call("GET", `/v1/segments/${page.url().split("/").pop()}`)).body;
    expect(saved).toMatchObject({ name: "French VIP buyers", kind: "dynamic", size: expected, rule });
  });

  it("import: upload a CSV, map columns, watch it finish, see rejected rows (flow 7)", async () => {
    await page.goto(`${env.s.url}/import`);
    const csv = [
      "E-mail,Given name,Land,score",
      "new1@example.com,Ana,FR,10",
      "not-an-email,Bob,DE,3",
      "new2@example.com,Cy,US,lots",
      "new3@example.com,Di,GB,7",
    ].join("\n");
    await page.locator('input[type="file"]').setInputFiles({
      name: "people.csv",
      mimeType: "text/csv",
      buffer: Buffer.from(csv),
    });
    await pick(page, page, "Field for column Given name", "First name");
    await pick(page, page, "Field for column Land", "Country");
    await page.getByRole("button", { name: "Start import" }).click();
    await page.getByTestId("import-job").getByText("Import done").waitFor();
    await page.getByTestId("import-counts").getByText("2 imported · 2 rejected", { exact: false }).waitFor();
    const errors = page.getByTestId("import-errors").locator("tbody tr");
    expect(await errors.count()).toBe(2);
    expect(await errors.nth(0).textContent()).toMatch(/email/i);
    expect(await errors.nth(1).textContent()).toMatch(/score/i);
    const all = (await env.s.call("GET", "/v1/contacts?limit=1000")).body.data;
    const ana = all.find((x: { email: string }) => x.email === "new1@example.com");
    expect(ana).toMatchObject({ first_name: "Ana", country: "FR", fields: { score: 10 } });
  });
});
