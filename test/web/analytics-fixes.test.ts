/**
 * The analytics screens say what their numbers are: revenue per currency with its unit,
 * breakdown labels as the profiles spell them, and a size history that starts where it
 * is known (not at 0) with the reason, in the analytics tab and the segments list.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedIn, startWebEnv, type WebEnv } from "./support.ts";

describe("web app: analytics units, labels and history", () => {
  let env: WebEnv;
  let page: Page;
  let segmentId: string;
  const today = new Date().toLocaleDateString("en-GB", {
    day: "numeric",
    month: "short",
    year: "numeric",
    timeZone: "UTC",
  });
  beforeAll(async () => {
    env = await startWebEnv(40);
    page = await signedIn(env);
    const r = await env.s.call("POST", "/v1/segments", {
      name: "Subscribed buyers",
      rule: {
        type: "and",
        conditions: [
          { type: "field", field: "status", op: "eq", value: "subscribed" },
          { type: "event", event: "order_placed" },
        ],
      },
    });
    expect(r.status).toBe(201);
    segmentId = r.body.id;
  });
  afterAll(async () => {
    await env?.stop();
  });

  it("shows revenue per currency, each with its unit", async () => {
    const api = (await env.s.call("GET", `/v1/segments/${segmentId}/analytics`)).body;
    const byCurrency = api.engagement.revenue_by_currency as { currency: string; amount: number }[];
    expect(byCurrency.map((r) => r.currency).sort()).toEqual(["EUR", "USD"]);
    await page.goto(`${env.s.url}/segments/${segmentId}`);
    await page.getByRole("tab", { name: "Analytics" }).click();
    const revenue = page.getByTestId("analytics-revenue");
    for (const r of byCurrency) {
      const shown = r.amount.toLocaleString("en", { style: "currency", currency: r.currency });
      await revenue.getByText(shown, { exact: true }).waitFor();
    }
    expect(await revenue.textContent()).toContain("€");
    expect(await revenue.textContent()).toContain("$");
  });

  it("labels the breakdown as the profiles spell the values", async () => {
    await page.goto(`${env.s.url}/segments/${segmentId}`);
    await page.getByRole("tab", { name: "Analytics" }).click();
    const chart = page.getByTestId("breakdown");
    await chart.locator("svg .recharts-bar-rectangle").first().waitFor();
    const ticks = await chart
      .locator(".recharts-xAxis .recharts-cartesian-axis-tick-value")
      .allTextContents();
    // Countries are stored as written, "DE", "US", …; rules compare them in lower case.
    expect(ticks.length).toBeGreaterThan(1);
    for (const t of ticks) expect(t).toMatch(/^[A-Z]{2}$/);
  });

  it("starts the size history where it is known and says why", async () => {
    await page.goto(`${env.s.url}/segments/${segmentId}`);
    await page.getByRole("tab", { name: "Analytics" }).click();
    const note = page.getByTestId("history-note");
    await note.waitFor();
    expect(await note.textContent()).toBe(
      `History starts on ${today}, when the segment was created: the rule reads the field "status", whose past values are not kept.`,
    );
    await page.goto(`${env.s.url}/segments`);
    const row = page.getByRole("row").filter({ hasText: "Subscribed buyers" });
    await row.getByText(`since ${today}`).waitFor();
    const spark = row.getByTestId("size-sparkline").locator("[aria-label^='Size over 30 days']");
    expect(await spark.getAttribute("aria-label")).toMatch(/history starts on/);
  });
});
