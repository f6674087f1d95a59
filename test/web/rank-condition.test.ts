/**
 * A rank condition in the rule editor: "top 10 % by spend over the last year" added
 * from the menu, its percentage changed, switched to a quintile score and back, saved
 * as the API stores it, with the members the API computes; an existing rank rule opens
 * in the rank form rather than the event form, which would drop `rank`.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY } from "../support/server.ts";
import { startWebEnv, type WebEnv } from "./support.ts";

async function pick(page: Page, scope: ReturnType<Page["locator"]>, label: string, option: string) {
  await scope.getByLabel(label, { exact: true }).first().click();
  await page.getByRole("option", { name: option, exact: true }).click();
}

describe("web app: rank conditions", () => {
  let env: WebEnv;
  let page: Page;
  beforeAll(async () => {
    // 20 contacts: top 20 % is at most 4 of them; 3 ordered, for different amounts.
    env = await startWebEnv(20);
    const now = Date.now();
    const orders = [
      ["user1@example.com", 500],
      ["user2@example.com", 300],
      ["user3@example.com", 100],
    ] as const;
    const e = await env.s.call(
      "POST",
      "/v1/events",
      orders.map(([email, amount]) => ({
        type: "order_placed",
        contact: { email },
        timestamp: new Date(now - 86_400_000).toISOString(),
        properties: { amount },
      })),
    );
    if (e.status !== 200 || e.body.errors.length) throw new Error(e.text);
    page = await env.browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.setDefaultTimeout(10_000);
    await page.goto(`${env.s.url}/sign-in`);
    await page.getByLabel("API key").fill(ADMIN_KEY);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("workspace-name").getByText("Default").waitFor();
  });
  afterAll(async () => {
    await env?.stop();
  });

  const rule = {
    type: "and",
    conditions: [
      {
        type: "event",
        event: "order_placed",
        window: { in_last: "365d" },
        measure: { fn: "sum", property: "amount" },
        rank: { direction: "top", percent: 10 },
      },
    ],
  };

  it("adds top 10 % by spend, saves it and has the API's members", async () => {
    await page.goto(`${env.s.url}/segments/new`);
    await page.getByLabel("Name").fill("Top spenders, by rank");
    await page.getByLabel(/^Dynamic/).check();
    const root = page.locator('[data-path="rule"]');
    await root.getByRole("button", { name: "Add condition" }).last().click();
    await page
      .getByRole("menuitem", { name: "Rank (top / bottom %, quintile)" })
      .filter({ visible: true })
      .click();
    await root.getByRole("button", { name: "Remove condition" }).first().click();
    const node = page.locator('[data-path="rule.conditions[0]"]');
    await node.getByLabel("Percent").waitFor();
    expect(await node.getByLabel("Percent").inputValue()).toBe("10 %");

    // A quintile score and back: the percentage comes back as the default.
    await pick(page, node, "Rank", "quintile score (1–5)");
    await node.getByLabel("Score", { exact: true }).waitFor();
    await pick(page, node, "Rank", "in the top");
    await node.getByLabel("Percent").waitFor();

    await page.getByRole("button", { name: "Save segment" }).click();
    await page.waitForURL(/\/segments\/seg_/);
    const id = page.url().split("/").pop()!;
    const saved = (await env.s.call("GET", `/v1/segments/${id}`)).body;
    expect(saved.rule).toEqual(rule);
    // 20 contacts: 10 % is 2, so the two largest spenders.
    const members = (await env.s.call("GET", `/v1/segments/${id}/contacts`)).body;
    expect(members.data.map((c: { email: string }) => c.email).sort()).toEqual([
      "user1@example.com",
      "user2@example.com",
    ]);
  });

  it("opens a saved rank rule in the rank form and keeps rank when the percentage changes", async () => {
    const seg = await env.s.call("POST", "/v1/segments", { name: "Top 10 %", rule });
    expect(seg.status, seg.text).toBe(201);
    await page.goto(`${env.s.url}/segments/${seg.body.id}/edit`);
    const node = page.locator('[data-path="rule.conditions[0]"]');
    await node.getByLabel("Percent").waitFor();
    await node.getByLabel("Percent").fill("15");
    await page.getByRole("button", { name: "Save segment" }).click();
    await page.waitForURL(new RegExp(`/segments/${seg.body.id}$`));
    const saved = (await env.s.call("GET", `/v1/segments/${seg.body.id}`)).body;
    expect(saved.rule.conditions[0].rank).toEqual({ direction: "top", percent: 15 });
    // 15 % of 20 is 3: the third spender joins.
    expect(saved.size).toBe(3);
  });
});
